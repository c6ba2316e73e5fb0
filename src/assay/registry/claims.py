"""The claims registry (K5): public or contractual claims linked to the run that measured
them, and to the model snapshot and prompt that run used.

A claim ("answers billing questions with 94% accuracy") records the evidence run, subject and
scorer, the value the run measured (the mean over samples, each sample's epochs averaged
first), the model snapshots and prompt hash behind it and, optionally, the value claimed and a
validity in days. :func:`check_claims` flags a claim

* ``stale_evidence`` when the model now serving differs from the evidence's snapshot (the
  newest snapshot of the same requested model seen in production traces or in a later run), when
  the prompt's ``production`` label now points at a different text, or when the evidence is
  older than its declared validity;
* ``unsupported`` when the measured value is below the claimed value;
* ``supported`` otherwise.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assay.core import AssayError
from assay.store.tables import claims, prompt_labels, prompt_versions, spans

if TYPE_CHECKING:
    from assay.store import Store


@dataclass(frozen=True)
class Claim:
    """A stored claim and its evidence."""

    id: str
    text: str
    run_id: str
    subject: str
    scorer: str
    claimed: float | None
    measured: float | None
    models: dict[str, Any]
    prompt_hash: str | None
    prompt_ref: str | None
    valid_days: int | None
    measured_at: datetime
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["measured_at"] = self.measured_at.isoformat()
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass
class ClaimStatus:
    """A claim's status now, with every reason behind it."""

    claim: Claim
    status: str
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim.to_dict(), "status": self.status, "reasons": self.reasons}


def _measured(store: Store, run_id: str, subject: str, scorer: str) -> float | None:
    from assay.analyse.scores import load_scores

    scores = load_scores(store, run_id)
    if (subject, scorer) not in scores.values:
        have = sorted({f"{s}/{c}" for s, c in scores.values})
        raise AssayError(
            f"run {run_id} has no scores of subject {subject!r} by scorer {scorer!r}",
            where="--subject/--scorer",
            fix="the run has: " + (", ".join(have) or "no scores"),
        )
    per_sample = [sum(v) / len(v) for v in scores.values[(subject, scorer)].values() if v]
    return sum(per_sample) / len(per_sample) if per_sample else None


def add_claim(
    store: Store,
    text: str,
    *,
    run: str,
    subject: str | None = None,
    scorer: str | None = None,
    claimed: float | None = None,
    valid_days: int | None = None,
) -> Claim:
    """Record a claim backed by stored run ``run`` (an id, prefix or ``latest``).

    ``subject`` and ``scorer`` default to the run's only subject and first scorer.
    """
    if not text.strip():
        raise AssayError("the claim text is empty", where="TEXT", fix="quote the claim")
    if valid_days is not None and valid_days < 1:
        raise AssayError("validity must be at least 1 day", where="--valid-days")
    run_id = store.resolve_run_id(run)
    info = store.get_run(run_id)
    if info.status != "completed":
        raise AssayError(
            f"run {run_id} is {info.status}", where="--run", fix="cite a complete run as evidence"
        )
    manifest = store.get_manifest(run_id)
    names = [s.name for s in manifest.subjects]
    if subject is None:
        if len(names) != 1:
            raise AssayError(
                f"run {run_id} has {len(names)} subjects",
                where="--subject",
                fix="choose one of: " + ", ".join(names),
            )
        subject = names[0]
    chosen = next((s for s in manifest.subjects if s.name == subject), None)
    if chosen is None:
        raise AssayError(
            f"run {run_id} has no subject {subject!r}",
            where="--subject",
            fix="choose one of: " + ", ".join(names),
        )
    scorer = scorer or manifest.scorers[0].name
    measured = _measured(store, run_id, subject, scorer)
    prompt_ref = None
    if chosen.prompt_hash:
        with store.engine.connect() as conn:
            row = conn.execute(
                select(prompt_versions.c.name, prompt_versions.c.version)
                .where(prompt_versions.c.content_hash == chosen.prompt_hash)
                .order_by(prompt_versions.c.name, prompt_versions.c.version)
            ).first()
        prompt_ref = f"{row.name}@{row.version}" if row else None
    now = datetime.now(UTC)
    record = {
        "id": secrets.token_hex(4),
        "text": text.strip(),
        "run_id": run_id,
        "subject": subject,
        "scorer": scorer,
        "claimed": claimed,
        "measured": measured,
        "models_json": json.dumps(
            {
                "provider": chosen.provider,
                "requested": chosen.requested_model,
                "resolved": chosen.resolved_models,
            }
        ),
        "prompt_hash": chosen.prompt_hash,
        "prompt_ref": prompt_ref,
        "valid_days": valid_days,
        "measured_at": manifest.finished_at or info.finished_at or info.started_at,
        "created_at": now,
    }
    with store.engine.begin() as conn:
        conn.execute(claims.insert().values(**record))
    return _claim(record)


def _claim(row: Any) -> Claim:
    m = row if isinstance(row, dict) else row._mapping
    return Claim(
        id=m["id"],
        text=m["text"],
        run_id=m["run_id"],
        subject=m["subject"],
        scorer=m["scorer"],
        claimed=m["claimed"],
        measured=m["measured"],
        models=json.loads(m["models_json"]),
        prompt_hash=m["prompt_hash"],
        prompt_ref=m["prompt_ref"],
        valid_days=m["valid_days"],
        measured_at=m["measured_at"],
        created_at=m["created_at"],
    )


def list_claims(store: Store) -> list[Claim]:
    """Every claim, oldest first."""
    with store.engine.connect() as conn:
        return [_claim(r) for r in conn.execute(select(claims).order_by(claims.c.created_at))]


def current_snapshot(store: Store, provider: str | None, requested: str) -> tuple[str, str] | None:
    """The newest snapshot serving ``requested`` and where it was seen: the latest production
    span (``spans.model_resolved``), else the newest complete run that used the model."""
    with store.engine.connect() as conn:
        query = (
            select(spans.c.model_resolved, spans.c.start_time)
            .where(spans.c.model_requested == requested, spans.c.model_resolved.is_not(None))
            .order_by(spans.c.start_time.desc())
            .limit(1)
        )
        if provider:
            query = query.where((spans.c.provider == provider) | spans.c.provider.is_(None))
        row = conn.execute(query).first()
    if row is not None:
        return row.model_resolved, f"production traces ({row.start_time:%Y-%m-%d})"
    for info in store.list_runs():  # newest first
        if info.status != "completed":
            continue
        for s in store.get_manifest(info.id).subjects:
            if s.requested_model == requested and s.provider == provider and s.resolved_models:
                return s.resolved_models[-1], f"run {info.id}"
    return None


def check_claims(store: Store, *, now: datetime | None = None) -> list[ClaimStatus]:
    """Every claim with its status now (see the module docstring)."""
    now = now or datetime.now(UTC)
    out: list[ClaimStatus] = []
    for claim in list_claims(store):
        reasons: list[str] = []
        requested = claim.models.get("requested")
        resolved = claim.models.get("resolved") or []
        if requested:
            current = current_snapshot(store, claim.models.get("provider"), requested)
            if current is not None and current[0] not in resolved:
                reasons.append(
                    f"model: {requested} is now served by {current[0]} (seen in {current[1]}); "
                    f"the evidence was measured on {', '.join(resolved) or 'an unknown snapshot'}"
                )
        if claim.prompt_ref:
            name = claim.prompt_ref.split("@", 1)[0]
            with store.engine.connect() as conn:
                row = conn.execute(
                    select(prompt_versions.c.version, prompt_versions.c.content_hash)
                    .select_from(
                        prompt_labels.join(
                            prompt_versions,
                            (prompt_labels.c.name == prompt_versions.c.name)
                            & (prompt_labels.c.version == prompt_versions.c.version),
                        )
                    )
                    .where(prompt_labels.c.name == name, prompt_labels.c.label == "production")
                ).first()
            if row is not None and row.content_hash != claim.prompt_hash:
                reasons.append(
                    f"prompt: {name}@production is version {row.version}; the evidence used "
                    f"{claim.prompt_ref}"
                )
        if claim.valid_days is not None:
            expires = claim.measured_at + timedelta(days=claim.valid_days)
            if now > expires:
                reasons.append(
                    f"age: measured {claim.measured_at:%Y-%m-%d}, valid {claim.valid_days} days "
                    f"(until {expires:%Y-%m-%d})"
                )
        if reasons:
            status = "stale_evidence"
        elif claim.claimed is not None and (claim.measured or 0.0) < claim.claimed:
            status = "unsupported"
            reasons.append(f"measured {claim.measured:.3f} < claimed {claim.claimed:.3f}")
        else:
            status = "supported"
        out.append(ClaimStatus(claim, status, reasons))
    return out
