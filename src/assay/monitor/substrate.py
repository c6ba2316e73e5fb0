"""The substrate timeline (B7, F8): what the numbers rest on, and when it moved.

A *substrate event* is a change in something a route's quality depends on but that is not the
route's traffic: the model snapshot behind a requested model name (``model``), its
``system_fingerprint`` (``fingerprint``), a prompt version (``prompt``), request parameters
(``params``), the embedding model or an embedding fingerprint (``embedding``), the retrieval
index version (``index``), the deployed service version (``deploy``), and a judge's snapshot or
fingerprint in online-judging runs or the judges' scheduled anchor re-grades (``judge``).

**Detection from spans.** For each route and each key (a requested model, an attribute), the
values its spans carry are read per hour (one SQL ``GROUP BY`` per kind: value, hour, first
time, count) and walked in time order. An event is logged when a value appears that the key
had not carried before (``before`` is the value that had carried most traffic until then), and
when a value comes back after at least :data:`RETURN_GAP` of absence while another value was in
use (a rollback). Its time is the first span that carried the new value. Gradual rollouts
therefore give one event at the first request of the new value. The rows are read by
:mod:`assay.monitor.substrate_scan`, which also hashes each prompt's *content* (its template or
system message), so a prompt edited under an unchanged version label is a ``prompt`` event.

**Embedding fingerprints (F8).** A fixed probe set is embedded on a schedule
(:func:`record_embedding_probe`); the first probe of a model is its baseline, and a probe whose
cosine similarity to the baseline falls below 0.999 for any probe text logs a
``substrate_change(embedding)`` event.

Events are stored idempotently (the id hashes kind, route, key, the new value and the time), so
every pass may re-detect the same history.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from assay.core import AssayError, content_hash
from assay.monitor.spec import Route
from assay.monitor.substrate_scan import (
    ATTRIBUTE_KEYS,
    PROMPT_KEYS,
    TEMPERATURE,
    SubstrateScan,
    _aware,
    _deploy_rows,
    _project,
    _prompt_content_rows,
    _retrieval_rows,
    deploy_groups,
    retrieval_groups,
    span_groups,
)
from assay.store import Store
from assay.store.engine import WRITE_OPTION
from assay.store.tables import (
    embedding_probes,
    manifests,
    online_judgements,
    runs,
    substrate_events,
)

#: How long a value must have been absent for its return to count as an event (a rollback).
RETURN_GAP = timedelta(hours=6)
#: Cosine similarity to the baseline below which an embedding probe logs a change (F8).
EMBEDDING_COSINE = 0.999
KINDS = ("model", "fingerprint", "prompt", "params", "judge", "embedding", "index", "deploy")
#: How likely each kind is to explain a quality change, as ``assay diff`` ranks manifest
#: changes (assay.core.manifest): a moved model snapshot first, then the prompt, parameters,
#: the judge, retrieval, and the deployed code last.
KIND_RANK = {
    "model": 0,
    "fingerprint": 0,
    "prompt": 1,
    "params": 3,
    "judge": 4,
    "embedding": 8,
    "index": 8,
    "deploy": 10,
}
KIND_LABEL = {
    "model": "model snapshot",
    "fingerprint": "system fingerprint",
    "prompt": "prompt",
    "params": "parameters",
    "judge": "judge",
    "embedding": "embedding",
    "index": "retrieval index",
    "deploy": "deploy",
}


@dataclass(frozen=True)
class SubstrateEvent:
    """One change of the substrate."""

    time: datetime
    kind: str
    route: str | None
    key: str
    before: str | None
    after: str | None
    source: str
    evidence: str | None = None

    @property
    def id(self) -> str:
        return content_hash(
            [self.kind, self.route, self.key, self.after, self.time.astimezone(UTC).isoformat()]
        )[:32]

    def describe(self) -> str:
        """``model snapshot behind atlas-large: a → b``."""
        label = KIND_LABEL.get(self.kind, self.kind)
        if self.kind in ("model", "fingerprint", "params"):
            subject = (
                f"{label} behind {self.key}" if self.kind != "params" else f"{label} {self.key}"
            )
        else:
            subject = f"{label} {self.key}"
        text = f"{subject}: {self.before or '∅'} → {self.after or '∅'}"
        if self.kind in ("model", "fingerprint"):
            text += " (requested model unchanged)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "kind": self.kind,
            "route": self.route,
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "source": self.source,
            "evidence": self.evidence,
            "description": self.describe(),
        }


def transitions(
    rows: Iterable[tuple[str, str, datetime, int]],
    *,
    kind: str,
    route: str | None,
    source: str = "traces",
    gap: timedelta = RETURN_GAP,
) -> list[SubstrateEvent]:
    """Events from ``(key, value, first_time, count)`` rows, one row per key, value and hour
    (see the module docstring). Rows may come in any order."""
    by_key: dict[str, list[tuple[datetime, str, int]]] = {}
    for key, value, first, count in rows:
        by_key.setdefault(key, []).append((first, value, count))
    events: list[SubstrateEvent] = []
    for key, items in by_key.items():
        items.sort()
        traffic: Counter[str] = Counter()
        last_seen: dict[str, datetime] = {}
        current: str | None = None
        for first, value, count in items:
            if traffic and value not in last_seen:
                before = traffic.most_common(1)[0][0]
                events.append(SubstrateEvent(first, kind, route, key, before, value, source))
                current = value
            elif (
                value in last_seen
                and current is not None
                and current != value
                and first - last_seen[value] >= gap
            ):
                events.append(SubstrateEvent(first, kind, route, key, current, value, source))
                current = value
            elif current is None:
                current = value
            traffic[value] += count
            # ``last_seen`` is the start of the latest hour the value was seen in: good enough
            # for a gap measured in hours.
            last_seen[value] = first
    events.sort(key=lambda e: (e.time, e.kind, e.key))
    return events


def detect_from_traces(
    store: Store,
    route: Route,
    since: datetime,
    until: datetime,
    scan: SubstrateScan | None = None,
) -> list[SubstrateEvent]:
    """Every substrate event of ``route``'s spans started in [since, until). ``scan``: the
    groups of every route over the same range, read once (:func:`scan_substrate`)."""
    events: list[SubstrateEvent] = []
    name = route.name

    def add(kind: str, rows: list[tuple[str, str, datetime, int]]) -> None:
        events.extend(transitions(rows, kind=kind, route=name))

    if scan is None:
        with store.engine.connect() as conn:
            # One scan of the LLM and embedding spans serves every kind read from spans.
            groups = span_groups(conn, route, since, until)
            found = retrieval_groups(conn, route, since, until)
            deploys = deploy_groups(conn, route, since, until)
    else:
        groups, found, deploys = scan.of(route)
    # Failed calls report no response (some instrumentations echo the request model).
    calls = [g for g in groups if g.kind == "llm" and g.ok]
    add("model", _project(calls, lambda g: (g.requested, g.resolved)))
    add("fingerprint", _project(calls, lambda g: (g.requested, g.fingerprint)))
    add(
        "params",
        _project(
            calls,
            lambda g: (f"{g.requested}.max_tokens", g.max_tokens) if g.requested else (None, None),
        ),
    )
    prompt_keys = [(i, k) for i, k in enumerate(ATTRIBUTE_KEYS) if k in PROMPT_KEYS]
    add(
        "prompt",
        [
            row
            for i, k in prompt_keys
            for row in _project(calls, lambda g, i=i, k=k: (k, g.attributes[i]))
        ],
    )
    t = ATTRIBUTE_KEYS.index(TEMPERATURE)
    add(
        "params",
        _project(
            calls,
            lambda g: (f"{g.requested}.temperature", g.attributes[t]) if g.requested else (None,),
        ),
    )
    add("prompt", _prompt_content_rows(calls))
    add(
        "embedding",
        _project(
            (g for g in groups if g.kind == "embedding"),
            lambda g: (
                "embedding model",
                g.resolved if g.resolved is not None else g.requested,
            ),
        ),
    )
    for kind, rows in _retrieval_rows(found):
        add(kind, rows)
    add("deploy", _deploy_rows(deploys))
    events.sort(key=lambda e: (e.time, KIND_RANK.get(e.kind, 99), e.key))
    return events


def detect_judge_changes(
    store: Store, judge_names: Sequence[str] | None = None
) -> list[SubstrateEvent]:
    """Judge snapshot, fingerprint or anchor-fingerprint changes across the online-judging runs
    and the judges' scheduled anchor re-grades (their manifests' resolved models,
    ``system_fingerprint``s and ``anchor_fingerprint``, in run order): a judge that moved
    mid-window is a substrate change ("judge changed"), not a quality change. The anchor
    fingerprint hashes the judge's scores of its frozen anchor set, so it moves when the judge
    grades the same outputs differently under an unchanged snapshot name."""
    from assay.core.manifest import RunManifest
    from assay.monitor.anchors import ANCHOR_RUN_PREFIX

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(runs.c.id, runs.c.started_at, manifests.c.manifest_json)
            .join(manifests, manifests.c.run_id == runs.c.id)
            .where(
                runs.c.id.in_(select(online_judgements.c.run_id).distinct())
                | runs.c.name.like(f"{ANCHOR_RUN_PREFIX}%")
            )
            .order_by(runs.c.started_at)
        ).all()
    items: list[tuple[str, str, datetime, int]] = []
    evidence: dict[tuple[str, str], str] = {}
    for run_id, started, text in rows:
        manifest = RunManifest.model_validate_json(text)
        for judge in manifest.judges:
            if judge_names and judge.name not in judge_names:
                continue
            for kind, values in (
                ("snapshot", judge.resolved_models),
                ("fingerprint", judge.system_fingerprints),
                ("anchors", [judge.anchor_fingerprint] if judge.anchor_fingerprint else []),
            ):
                for value in values:
                    key = f"{judge.name} {kind}"
                    items.append((key, value, _aware(started), 1))
                    evidence.setdefault((key, value), run_id)
    events = transitions(items, kind="judge", route=None, source="runs", gap=timedelta(0))
    return [
        SubstrateEvent(
            e.time,
            e.kind,
            e.route,
            e.key,
            e.before,
            e.after,
            e.source,
            evidence.get((e.key, e.after or "")),
        )
        for e in events
    ]


def record_events(
    store: Store, events: Iterable[SubstrateEvent], *, now: datetime | None = None
) -> int:
    """Store events not stored yet; returns how many were new."""
    from assay.trace.ingest import insert_ignore

    now = now or datetime.now(UTC)
    rows = {
        e.id: {
            "id": e.id,
            "time": e.time,
            "kind": e.kind,
            "route": e.route,
            "key": e.key,
            "before": e.before,
            "after": e.after,
            "source": e.source,
            "evidence": e.evidence,
            "detected_at": now,
        }
        for e in events
    }
    if not rows:
        return 0
    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        known = set()
        ids = list(rows)
        for start in range(0, len(ids), 400):
            known.update(
                r[0]
                for r in conn.execute(
                    select(substrate_events.c.id).where(
                        substrate_events.c.id.in_(ids[start : start + 400])
                    )
                )
            )
        fresh = [row for key, row in rows.items() if key not in known]
        insert_ignore(conn, substrate_events, fresh)
    return len(fresh)


def load_events(
    store: Store,
    *,
    route: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_global: bool = True,
) -> list[SubstrateEvent]:
    """Stored events, oldest first: of ``route`` (and, with ``include_global``, those of no
    route — judges, embedding probes), within [since, until]."""
    query = select(substrate_events)
    if route is not None:
        cond = substrate_events.c.route == route
        if include_global:
            cond = cond | substrate_events.c.route.is_(None)
        query = query.where(cond)
    if since is not None:
        query = query.where(substrate_events.c.time >= since)
    if until is not None:
        query = query.where(substrate_events.c.time <= until)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(substrate_events.c.time, substrate_events.c.id)).all()
    return [
        SubstrateEvent(r.time, r.kind, r.route, r.key, r.before, r.after, r.source, r.evidence)
        for r in rows
    ]


# -- embedding fingerprints (F8) -----------------------------------------------------------------


def _fingerprint(vectors: np.ndarray) -> str:
    return content_hash([round(float(v), 4) for v in vectors.ravel()])[:16]


def record_embedding_probe(
    store: Store,
    model: str,
    texts: Sequence[str],
    vectors: Sequence[Sequence[float]],
    *,
    taken_at: datetime | None = None,
    threshold: float = EMBEDDING_COSINE,
) -> SubstrateEvent | None:
    """Store one embedding of the fixed probe set ``texts`` by ``model``; compare it with the
    model's baseline (its first probe of the same texts) and log a ``substrate_change
    (embedding)`` event when the cosine similarity of any probe falls below ``threshold``.
    Returns the event, or ``None`` (the first probe, or no change)."""
    taken_at = taken_at or datetime.now(UTC)
    matrix = np.asarray(vectors, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != len(texts) or matrix.shape[0] == 0:
        raise AssayError(
            f"need one vector per probe text ({len(texts)}), got shape {matrix.shape}",
            where="embedding probe",
        )
    probe_hash = content_hash(list(texts))
    with store.engine.connect() as conn:
        base = conn.execute(
            select(embedding_probes.c.vectors_json)
            .where(embedding_probes.c.model == model, embedding_probes.c.probe_hash == probe_hash)
            .order_by(embedding_probes.c.taken_at)
            .limit(1)
        ).first()
    min_cos = None
    event = None
    if base is not None:
        baseline = np.asarray(json.loads(base[0]), dtype=float)
        if baseline.shape != matrix.shape:
            min_cos = 0.0
        else:
            num = (baseline * matrix).sum(axis=1)
            den = np.linalg.norm(baseline, axis=1) * np.linalg.norm(matrix, axis=1)
            min_cos = float(np.min(np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)))
        if min_cos < threshold:
            event = SubstrateEvent(
                taken_at,
                "embedding",
                None,
                f"{model} fingerprint",
                _fingerprint(baseline),
                _fingerprint(matrix),
                "probe",
                f"min cosine {min_cos:.4f} < {threshold}",
            )
    from assay.trace.ingest import insert_ignore

    writer = store.engine.execution_options(**{WRITE_OPTION: True})
    with writer.begin() as conn:
        insert_ignore(
            conn,
            embedding_probes,
            [
                {
                    "id": content_hash([model, probe_hash, taken_at.isoformat()])[:32],
                    "model": model,
                    "taken_at": taken_at,
                    "probe_hash": probe_hash,
                    "vectors_json": json.dumps(matrix.tolist()),
                    "min_cosine": min_cos,
                }
            ],
        )
    if event is not None:
        record_events(store, [event])
    return event
