"""Human labels for runs: what a run is called on a page, and which run it is compared with.

Two runs of one eval share a name (``demo-qa``) and differ by start time, which says nothing.
A :class:`RunLabel` names a run by its first tag (``assay run --tag v2``) or else by what
distinguishes it from the run of the same eval before it (the prompt file, the model, a
parameter), read from the manifest diff that ``assay diff`` prints
(:func:`assay.core.diff_manifests`); ``changes`` lists those differences in words.

Pairing follows ``assay compare``'s default (:func:`assay.analyse.compare.default_runs`): a
run's predecessor is the newest earlier run with the same name, in the store's newest-first
order (started, then created, then id). Here it is read with one query of run ids instead of
listing every run with its result counts, so it stays cheap with a thousand runs;
``tests/web/test_runs_list.py`` checks that both give the same pair.

Runs made by ``assay audit judge``, ``assay judge --pairwise`` and re-scoring are *derived*
runs: they are labelled but never picked as a default comparison.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import select, tuple_

# Tags and notes live in their own module; imported here so callers need one import.
from assay.analyse.run_tags import clean_tags, run_tags, set_run_tags  # noqa: F401
from assay.core import ManifestChange, RunManifest, diff_manifests
from assay.store import Store, codec
from assay.store.tables import manifests, runs

#: Name prefixes of runs that other commands derive from runs (audits, pairwise judging,
#: re-scoring); see assay.audit.battery, assay.run.pairwise and assay.audit.rescoring.
DERIVED_PREFIXES = ("audit ", "pairwise ", "rescore ")
#: At most this many changes are listed per run (most explanatory first).
MAX_CHANGES = 4
_NEWEST_FIRST = (runs.c.started_at.desc(), runs.c.created_at.desc(), runs.c.id.desc())


@dataclass(frozen=True)
class RunLabel:
    """How a run is named on a page.

    ``short`` is the first tag if there is one; else what distinguishes the run from the
    previous run of the same eval (the prompt file's stem ``v2``, the model ``gpt-4.1``, a
    parameter ``temperature 0.7``), or from the next one when it is the eval's first run; else
    the eval name and start time. ``changes`` are the differences from the previous run, in
    words (``prompt v1 → v2``)."""

    run_id: str
    name: str
    short: str
    changes: list[str]
    git_sha: str | None
    tags: list[str]
    note: str | None
    previous: str | None = None
    derived: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "short": self.short,
            "changes": list(self.changes),
            "git_sha": self.git_sha,
            "tags": list(self.tags),
            "note": self.note,
            "previous": self.previous,
            "derived": self.derived,
        }


def is_derived(name: str) -> bool:
    """Whether a run with this name was derived from other runs (an audit, a pairwise judge
    run, a re-scoring): such runs are never a default comparison."""
    return name.startswith(DERIVED_PREFIXES)


# -- pairing -----------------------------------------------------------------------------------


def _neighbour_rows(
    store: Store, run_ids: Sequence[str]
) -> tuple[dict[str, tuple[str | None, str | None]], dict[str, tuple[str, Any, str]]]:
    """For each run, (previous, next) run of the same eval in newest-first order; and for
    each of those runs and their neighbours, (name, started_at or ``None``, finished_at as
    text).

    Two queries: the runs with their neighbours' ids as correlated ``LIMIT 1`` subqueries
    (row-value comparisons on (started_at, created_at, id), which seek the (name,
    started_at) index), then the neighbours' finish times. A window (``LAG``/``LEAD``) over
    all the runs of the same names gave the same answer but made SQLite number every run of
    those evals: 18 ms for a page of 50 on a store of 1,000 runs, against 1-2 ms now.
    """
    ids = list(dict.fromkeys(run_ids))
    pairs: dict[str, tuple[str | None, str | None]] = {}
    stamps: dict[str, tuple[str, Any, str]] = {}
    other = runs.alias("neighbour")
    here = tuple_(runs.c.started_at, runs.c.created_at, runs.c.id)
    there = tuple_(other.c.started_at, other.c.created_at, other.c.id)
    newest_first = (other.c.started_at.desc(), other.c.created_at.desc(), other.c.id.desc())
    oldest_first = (other.c.started_at.asc(), other.c.created_at.asc(), other.c.id.asc())

    def seek(before: bool) -> Any:
        return (
            select(other.c.id)
            .where(other.c.name == runs.c.name, there < here if before else there > here)
            .order_by(*(newest_first if before else oldest_first))
            .limit(1)
            .scalar_subquery()
        )

    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(
                runs.c.id,
                runs.c.name,
                runs.c.started_at,
                runs.c.finished_at,
                seek(True).label("prev"),
                seek(False).label("next"),
            ).where(runs.c.id.in_(chunk))
            for row in conn.execute(query):
                pairs[row.id] = (row.prev, row.next)
                stamps[row.id] = (row.name, row.started_at, str(row.finished_at))
        around = sorted({n for pair in pairs.values() for n in pair if n and n not in stamps})
        for start in range(0, len(around), 500):
            query = select(runs.c.id, runs.c.name, runs.c.finished_at).where(
                runs.c.id.in_(around[start : start + 500])
            )
            for row in conn.execute(query):
                stamps[row.id] = (row.name, None, str(row.finished_at))
    return pairs, stamps


def _neighbours(store: Store, run_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """For each run, (previous, next) run of the same eval in newest-first order."""
    return _neighbour_rows(store, run_ids)[0]


def previous_run(store: Store, run_id: str) -> str | None:
    """The run ``assay compare`` pairs ``run_id`` with by default: the newest earlier run of
    the same eval (``None`` when it is the eval's first run)."""
    return _neighbours(store, [run_id]).get(run_id, (None, None))[0]


def previous_runs(store: Store, run_ids: Sequence[str]) -> dict[str, str | None]:
    """:func:`previous_run` of many runs at once (two queries)."""
    found = _neighbours(store, run_ids)
    return {run_id: found.get(run_id, (None, None))[0] for run_id in run_ids}


def suggested_pairs(store: Store, *, limit: int = 6) -> list[tuple[str, str]]:
    """(baseline, candidate) of the newest pair of runs of each eval, newest eval first, at
    most ``limit``; derived runs (audits, judge runs) are left out."""
    query = select(runs.c.id, runs.c.name).order_by(*_NEWEST_FIRST)
    seen: dict[str, list[str]] = {}
    out: list[tuple[str, str]] = []
    with store.engine.connect() as conn:
        for run_id, name in conn.execute(query):
            if is_derived(name):
                continue
            ids = seen.setdefault(name, [])
            if len(ids) < 2:
                ids.append(run_id)
                if len(ids) == 2:
                    out.append((ids[1], ids[0]))
                    if len(out) >= limit:
                        break
    return out


def default_pair(store: Store) -> tuple[str | None, str | None]:
    """The compare form's default picks, like ``assay compare`` with no runs named but never a
    derived run: run B the newest run that has an earlier run of the same eval, run A that
    earlier run. With no such pair, B is the newest run that is not derived and A is ``None``.
    """
    query = select(runs.c.id, runs.c.name).order_by(*_NEWEST_FIRST)
    order: list[tuple[str, str]] = []
    count: dict[str, int] = {}
    with store.engine.connect() as conn:
        for run_id, name in conn.execute(query):
            if not is_derived(name):
                order.append((run_id, name))
                count[name] = count.get(name, 0) + 1
    for run_id, name in order:
        if count[name] > 1:
            return previous_run(store, run_id), run_id
    return (None, order[0][0]) if order else (None, None)


def oldest_first(store: Store, run_ids: Sequence[str]) -> list[str]:
    """``run_ids`` resolved (ids, prefixes, ``latest~N``) and ordered oldest first (the order
    a comparison takes them in: baseline, then candidate)."""
    resolved = [store.resolve_run_id(ref) for ref in run_ids]
    query = select(runs.c.id).where(runs.c.id.in_(resolved)).order_by(*_NEWEST_FIRST)
    with store.engine.connect() as conn:
        newest_first = list(conn.execute(query).scalars())
    return newest_first[::-1]


# -- labels ------------------------------------------------------------------------------------


def _stem(path: Any) -> str | None:
    return PurePath(str(path)).stem if isinstance(path, str) and path else None


def _prompt_files(spec: dict[str, Any] | None) -> dict[str, str]:
    """Subject name → the stem of its prompt file, from the spec a run was made from."""
    out: dict[str, str] = {}
    for subject in (spec or {}).get("subjects") or []:
        if isinstance(subject, dict) and isinstance(subject.get("prompt"), str):
            stem = _stem(subject["prompt"])
            if stem:
                out[str(subject.get("name", ""))] = stem
    return out


def _short_value(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value) if value else "none"
    if value is None:
        return "none"
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text[:8]
    return text if len(text) <= 40 else text[:39] + "…"


def describe_changes(
    changes: Sequence[ManifestChange],
    prompts_before: dict[str, str] | None = None,
    prompts_after: dict[str, str] | None = None,
) -> list[str]:
    """Manifest changes (:func:`diff_manifests`) in words, most explanatory first, one line per
    thing that changed: ``prompt v1 → v2``, ``model a → b``, ``temperature 0 → 0.7``,
    ``judge quality snapshot a → b``, ``git 1a2b3c4 → 5d6e7f8``. Bookkeeping (tool versions,
    platform) is left out."""
    before_files, after_files = prompts_before or {}, prompts_after or {}
    out: list[str] = []

    def add(text: str) -> None:
        if text not in out:
            out.append(text)

    for change in changes:
        parts = change.path.split(".")
        category = change.category
        if category == "prompt":
            subject = parts[1] if len(parts) > 1 else ""
            a, b = before_files.get(subject), after_files.get(subject)
            if a and b and a != b:
                add(f"prompt {a} → {b}")
            elif not any(text.startswith("prompt") for text in out):
                add("prompt edited")
        elif category == "model" and parts[-1] in ("requested_model", "provider"):
            add(
                f"{parts[-1].replace('requested_', '')} {_short_value(change.before)} → "
                f"{_short_value(change.after)}"
            )
        elif category == "model snapshot" and parts[-1] == "resolved_models":
            if change.before and change.after:
                add(f"snapshot {_short_value(change.before)} → {_short_value(change.after)}")
        elif category == "parameters":
            add(f"{parts[-1]} {_short_value(change.before)} → {_short_value(change.after)}")
        elif category in ("judge", "judge snapshot") and len(parts) > 1:
            judge = parts[1]
            if parts[-1] in ("model", "resolved_models"):
                what = "model" if parts[-1] == "model" else "snapshot"
                add(
                    f"judge {judge} {what} {_short_value(change.before)} → "
                    f"{_short_value(change.after)}"
                )
            elif parts[-1] in ("prompt_hash", "params") or "params" in parts:
                add(f"judge {judge} changed")
        elif category == "scorers":
            add("scorers changed")
        elif category == "dataset" and parts[-1] in ("content_hash", "name"):
            add(f"dataset {_short_value(change.before)} → {_short_value(change.after)}")
        elif category == "sampling" and parts[-1] in ("epochs", "seed", "slices", "cluster"):
            add(f"{parts[-1]} {_short_value(change.before)} → {_short_value(change.after)}")
        elif change.path == "environment.git_sha":
            add(f"git {_short_value(change.before)[:7]} → {_short_value(change.after)[:7]}")
    return out


def _distinguishing(
    changes: Sequence[ManifestChange], files: dict[str, str], other_files: dict[str, str]
) -> str | None:
    """The one word that names a run against its neighbour: its prompt file stem, its model,
    or a changed parameter's value."""
    for change in changes:
        parts = change.path.split(".")
        if change.category == "prompt":
            subject = parts[1] if len(parts) > 1 else ""
            if files.get(subject) and files.get(subject) != other_files.get(subject):
                return files[subject]
    for change in changes:
        parts = change.path.split(".")
        if change.category == "model" and parts[-1] == "requested_model" and change.after:
            return str(change.after)
    for change in changes:
        if change.category in ("parameters", "sampling") and change.after is not None:
            return f"{change.path.split('.')[-1]} {_short_value(change.after)}"
    return None


def _label_key(
    run_id: str,
    neighbours: tuple[str | None, str | None],
    stamps: dict[str, tuple[str, datetime, str]],
) -> str:
    """What a label's cached parts depend on: the run and its two neighbours, each with its
    finish time (a manifest is rewritten only when its run finishes)."""
    return "|".join(f"{x}@{stamps[x][2]}" if x in stamps else str(x) for x in (run_id, *neighbours))


def _computed_parts(
    store: Store, run_ids: list[str], pairs: dict[str, tuple[str | None, str | None]]
) -> dict[str, dict[str, Any]]:
    """The parts of a label that come from manifests: what changed from the previous run, the
    word that distinguishes the run, its git sha."""
    wanted = set(run_ids)
    for run_id in run_ids:
        wanted.update(x for x in pairs.get(run_id, (None, None)) if x is not None)
    loaded: dict[str, tuple[RunManifest, dict[str, str]]] = {}
    with store.engine.connect() as conn:
        wanted_list = sorted(wanted)
        for start in range(0, len(wanted_list), 500):
            chunk = wanted_list[start : start + 500]
            query = select(
                manifests.c.run_id, manifests.c.manifest_json, manifests.c.spec_json
            ).where(manifests.c.run_id.in_(chunk))
            for run_id, manifest_json, spec_json in conn.execute(query):
                manifest = RunManifest.model_validate_json(manifest_json)
                loaded[run_id] = (manifest, _prompt_files(codec.loads(spec_json)))
    out: dict[str, dict[str, Any]] = {}
    for run_id in run_ids:
        if run_id not in loaded:
            continue
        manifest, files = loaded[run_id]
        previous, following = pairs.get(run_id, (None, None))
        words: list[str] = []
        short = None
        if previous is not None and previous in loaded:
            before, before_files = loaded[previous]
            changes = diff_manifests(before, manifest)
            words = describe_changes(changes, before_files, files)
            short = _distinguishing(changes, files, before_files)
        elif following is not None and following in loaded:
            after, after_files = loaded[following]
            # The eval's first run: named by what its successor changed away from.
            short = _distinguishing(diff_manifests(after, manifest), files, after_files)
        sha = manifest.environment.git_sha
        out[run_id] = {
            "short": short,
            "changes": words[:MAX_CHANGES],
            "git_sha": None if not sha or sha.startswith("not-") or sha == "unknown" else sha,
        }
    return out


#: A pairwise judge run's name (assay.run.pairwise): ``pairwise RUN[:SUBJECT] vs RUN[:SUBJECT]``.
_PAIRWISE = re.compile(r"pairwise (\S+) vs (\S+)")


def _side_labels(store: Store, sides: tuple[str, str]) -> list[str]:
    """The labels of the two runs a pairwise judge run compared (their ids, where unknown)."""
    ids = [side.split(":", 1)[0] for side in sides]
    labels = label_runs(store, [i for i in ids if not _PAIRWISE.fullmatch(i)])
    return [labels[i].short if i in labels else i for i in ids]


def label_runs(store: Store, run_ids: Sequence[str]) -> dict[str, RunLabel]:
    """Labels of ``run_ids`` (unknown ids are left out). Cheap: never a summary; the parts
    read from manifests (one diff per run) are kept in the run's summary-cache row, keyed by
    the run's neighbours and their finish times, so a page of runs usually reads no manifest.
    """
    from assay.store.summaries import read_labels, write_labels

    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    pairs, stamps = _neighbour_rows(store, ids)
    known = [run_id for run_id in ids if run_id in stamps]
    keys = {run_id: _label_key(run_id, pairs.get(run_id, (None, None)), stamps) for run_id in known}
    parts = {
        run_id: data
        for run_id, data in read_labels(store, known).items()
        if isinstance(data, dict) and data.get("key") == keys[run_id]
    }
    missing = [run_id for run_id in known if run_id not in parts]
    if missing:
        computed = _computed_parts(store, missing, pairs)
        for run_id, data in computed.items():
            data["key"] = keys[run_id]
        write_labels(store, computed)
        parts.update(computed)
    tags = run_tags(store, known)
    out: dict[str, RunLabel] = {}
    for run_id in known:
        if run_id not in parts:
            continue
        data = parts[run_id]
        name, started, _ = stamps[run_id]
        run_tag_list, note = tags.get(run_id, ([], None))
        short = run_tag_list[0] if run_tag_list else data["short"]
        if short is None and (sides := _PAIRWISE.fullmatch(name)) is not None:
            short = "judge: {} vs {}".format(*_side_labels(store, sides.group(1, 2)))
        if short is None:
            short = f"{name} {started.astimezone(UTC):%m-%d %H:%M}"
        out[run_id] = RunLabel(
            run_id=run_id,
            name=name,
            short=short,
            changes=list(data["changes"]),
            git_sha=data["git_sha"],
            tags=run_tag_list,
            note=note,
            previous=pairs.get(run_id, (None, None))[0],
            derived=is_derived(name),
        )
    return out
