"""Ingestion contracts checked per batch (F4), with quarantine and an alert naming the source.

"The Data Contract Problem in RAG": the ingestion pipeline lives outside the code-deploy
lifecycle; an upstream field goes missing, a connector fetches a third of the usual documents,
and faithfulness stays green because the answer is faithful to the wrong context. A contract
per source (``contracts.yaml``)::

    sources:
      kb-confluence:
        required: [id, title, body, owner, updated_at]
        types: {id: string, views: integer, updated_at: datetime}   # string integer number
                                                  # boolean datetime list object
        max_missing: 0.01           # share of records that may lack a required field
        max_type_errors: 0.01       # share of records that may hold a mistyped field
        freshness: {field: updated_at, max_age: 180d, max_stale: 0.5}
        volume: {trailing: 5, min_history: 3, max_drop: 0.25, max_rise: 1.0}
        id_field: id

Checks of one batch, each a rule with its threshold ([I] defaults, change them per source):

* ``missing_required_field``: a required field absent, null or blank in more than
  ``max_missing`` of the records (default 1%); the share with a Wilson interval and rows;
* ``type_mismatch``: a typed field with a value of another type in more than
  ``max_type_errors`` of the records where it is present (default 1%);
* ``stale_records``: more than ``max_stale`` of the records (default 50%) older than
  ``max_age`` by the freshness field;
* ``volume_drop`` / ``volume_spike``: the record count against the mean of the last
  ``trailing`` *accepted* batches of the source (default 5, at least ``min_history`` = 3 of
  them, else the check is reported as not run): below by more than ``max_drop`` (default 25%)
  or above by more than ``max_rise`` (default 100%);
* ``duplicate_id`` (a warning): an ``id_field`` value repeated within the batch;
* ``contract_changed`` (a warning): the contract differs from the previous batch's.

Any failing check quarantines the batch (``ingestion_batches.status = 'quarantined'``; with a
quarantine folder the file is moved there) and raises an alert naming the source. Every batch
is recorded, so the next one's volume check has a history; quarantined batches never count in
that history.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from assay.core import AssayError
from assay.core.findings import Finding, failed
from assay.run.declarations import load_declaration, parse_duration
from assay.run.yamlfile import LocatedYaml
from assay.stats.rates import rate_dict
from assay.store import Store
from assay.store.tables import ingestion_batches

FieldType = Literal["string", "integer", "number", "boolean", "datetime", "list", "object"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Freshness(_Strict):
    field: str
    max_age: str | float
    max_stale: float = Field(default=0.5, ge=0, le=1)


class Volume(_Strict):
    trailing: int = Field(default=5, ge=1)
    min_history: int = Field(default=3, ge=1)
    max_drop: float = Field(default=0.25, gt=0, le=1)
    max_rise: float = Field(default=1.0, gt=0)


class SourceContract(_Strict):
    """One source's contract (see the module docstring)."""

    required: list[str] = Field(default_factory=list)
    types: dict[str, FieldType] = Field(default_factory=dict)
    max_missing: float = Field(default=0.01, ge=0, le=1)
    max_type_errors: float = Field(default=0.01, ge=0, le=1)
    freshness: Freshness | None = None
    volume: Volume | None = Field(default_factory=Volume)
    id_field: str | None = None


class ContractsSpec(_Strict):
    sources: dict[str, SourceContract] = Field(min_length=1)


@dataclass
class Contracts:
    """A loaded contracts file."""

    spec: ContractsSpec
    doc: LocatedYaml | None = None

    def source(self, name: str) -> SourceContract:
        if name not in self.spec.sources:
            raise AssayError(
                f"no contract for source {name!r}",
                where=self.doc.filename if self.doc else "--source",
                fix="declared sources: " + ", ".join(sorted(self.spec.sources)),
            )
        return self.spec.sources[name]

    def hash(self, name: str) -> str:
        text = json.dumps(self.spec.sources[name].model_dump(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def load_contracts(path: str | Path) -> Contracts:
    """Read a contracts file; durations are checked here so a typo names its line."""
    spec, doc = load_declaration(path, ContractsSpec, "a contracts file")
    for name, contract in spec.sources.items():
        if contract.freshness is not None:
            parse_duration(
                contract.freshness.max_age,
                where=doc.where(("sources", name, "freshness", "max_age")),
            )
    return Contracts(spec, doc)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_datetime(value: Any) -> datetime | None:
    """A timestamp from ISO 8601 text, a date, or a Unix time in seconds (``None`` if not)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def type_ok(value: Any, kind: str, text_cells: bool = False) -> bool:
    """Whether ``value`` is of contract type ``kind`` (CSV cells are text: they are read)."""
    if text_cells and isinstance(value, str):
        if kind == "integer":
            return value.strip().lstrip("-").isdigit()
        if kind == "number":
            try:
                float(value)
                return True
            except ValueError:
                return False
        if kind == "boolean":
            return value.strip().lower() in ("true", "false")
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "datetime":
        return parse_datetime(value) is not None
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


@dataclass
class Batch:
    """The records of one batch, each with its ``file:line``."""

    source: str
    records: list[tuple[str, Any]]
    path: str | None = None
    text_cells: bool = False


def read_batch(path: str | Path, source: str) -> Batch:
    """A batch file (JSONL, JSON, CSV, Parquet or YAML) as records with their places."""
    from assay.data.readers import open_rows

    rows = open_rows(path)
    records = [(rows.where(number), row) for number, row in rows.rows]
    return Batch(source, records, str(path), text_cells=rows.text_cells)


@dataclass
class BatchReport:
    """What :func:`check_batch` found for one batch."""

    source: str
    n_records: int
    checks: dict[str, dict[str, Any]]
    findings: list[Finding]
    history: list[int] = field(default_factory=list)
    batch_id: str | None = None
    quarantine_path: str | None = None

    @property
    def quarantined(self) -> bool:
        return failed(self.findings)

    @property
    def failed(self) -> bool:
        return self.quarantined

    @property
    def alert(self) -> str | None:
        if not self.quarantined:
            return None
        reasons = "; ".join(f.message for f in self.findings if f.severity == "fail")
        return f"source {self.source}: batch quarantined: {reasons}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "records": self.n_records,
            "status": "quarantined" if self.quarantined else "accepted",
            "alert": self.alert,
            "quarantine_path": self.quarantine_path,
            "checks": self.checks,
            "volume_history": self.history,
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def check_batch(
    batch: Batch,
    contract: SourceContract,
    history: Sequence[int] = (),
    *,
    now: datetime | None = None,
    contract_changed: bool = False,
    examples: int = 10,
) -> BatchReport:
    """Check ``batch`` against ``contract`` (rules in the module docstring). ``history`` is
    the record counts of the source's previous accepted batches, newest first."""
    moment = now or datetime.now(UTC)
    n = len(batch.records)
    findings: list[Finding] = []
    checks: dict[str, dict[str, Any]] = {}
    dicts = [(where, r if isinstance(r, dict) else {}) for where, r in batch.records]
    not_objects = [where for where, r in batch.records if not isinstance(r, dict)]
    if not_objects:
        findings.append(
            Finding(
                code="not_a_record",
                message=f"{len(not_objects)} of {n} rows are not objects",
                refs=[{"row": w} for w in not_objects[:examples]],
            )
        )

    # Required fields.
    missing_by_field: dict[str, list[str]] = {}
    for name in contract.required:
        missing_by_field[name] = [w for w, r in dicts if _blank(r.get(name))]
    checks["required"] = {name: rate_dict(len(rows), n) for name, rows in missing_by_field.items()}
    for name, rows in missing_by_field.items():
        if n and len(rows) / n > contract.max_missing:
            share = rate_dict(len(rows), n)
            findings.append(
                Finding(
                    code="missing_required_field",
                    message=f"{share['rate']:.1%} of records ({len(rows)} of {n}) lack "
                    f"{name!r} (contract allows {contract.max_missing:.0%})",
                    fix=f"fix the upstream export so every record carries {name!r}",
                    refs=[{"row": w, "field": name} for w in rows[:examples]],
                    details={"field": name, "share": share},
                )
            )

    # Types.
    for name, kind in contract.types.items():
        present = [(w, r[name]) for w, r in dicts if not _blank(r.get(name))]
        wrong = [w for w, v in present if not type_ok(v, kind, batch.text_cells)]
        checks.setdefault("types", {})[name] = rate_dict(len(wrong), len(present))
        if present and len(wrong) / len(present) > contract.max_type_errors:
            findings.append(
                Finding(
                    code="type_mismatch",
                    message=f"{len(wrong)} of {len(present)} values of {name!r} are not {kind}",
                    fix=f"the contract says {name!r} is {kind}: fix the upstream or the contract",
                    refs=[{"row": w, "field": name} for w in wrong[:examples]],
                    details={"field": name, "share": rate_dict(len(wrong), len(present))},
                )
            )

    # Freshness.
    if contract.freshness is not None:
        fresh = contract.freshness
        max_age = parse_duration(fresh.max_age, where="freshness.max_age")
        stamps = [(w, parse_datetime(r.get(fresh.field))) for w, r in dicts]
        dated = [(w, t) for w, t in stamps if t is not None]
        stale = [w for w, t in dated if moment - t > max_age]
        checks["freshness"] = {**rate_dict(len(stale), len(dated)), "undated": n - len(dated)}
        if dated and len(stale) / len(dated) > fresh.max_stale:
            findings.append(
                Finding(
                    code="stale_records",
                    message=f"{len(stale)} of {len(dated)} records are older than "
                    f"{fresh.max_age} by {fresh.field!r}",
                    fix="check the connector: it may be re-sending an old snapshot",
                    refs=[{"row": w} for w in stale[:examples]],
                    details={"share": rate_dict(len(stale), len(dated))},
                )
            )

    # Volume against the trailing mean of accepted batches.
    if contract.volume is not None:
        vol = contract.volume
        recent = list(history)[: vol.trailing]
        if len(recent) < vol.min_history:
            checks["volume"] = {
                "run": False,
                "reason": f"{len(recent)} earlier accepted batches, {vol.min_history} needed",
            }
        else:
            mean = sum(recent) / len(recent)
            change = (n - mean) / mean if mean else float("inf")
            checks["volume"] = {
                "run": True,
                "records": n,
                "trailing_mean": mean,
                "change": change,
                "batches": len(recent),
            }
            if change < -vol.max_drop:
                findings.append(
                    Finding(
                        code="volume_drop",
                        message=f"{n} records, {abs(change):.0%} below the trailing mean of "
                        f"{mean:.0f} over {len(recent)} batches (max drop {vol.max_drop:.0%})",
                        fix="check the connector for a partial fetch before this batch is used",
                        details=checks["volume"],
                    )
                )
            elif change > vol.max_rise:
                findings.append(
                    Finding(
                        code="volume_spike",
                        message=f"{n} records, {change:.0%} above the trailing mean of "
                        f"{mean:.0f} (max rise {vol.max_rise:.0%})",
                        fix="check for duplicated or re-sent documents",
                        details=checks["volume"],
                    )
                )

    if contract.id_field:
        counts = Counter(
            str(r.get(contract.id_field)) for _, r in dicts if r.get(contract.id_field)
        )
        repeated = sorted(k for k, c in counts.items() if c > 1)
        checks["duplicate_ids"] = {"repeated": len(repeated)}
        if repeated:
            findings.append(
                Finding(
                    code="duplicate_id",
                    severity="warn",
                    message=f"{len(repeated)} ids appear more than once in the batch",
                    refs=[{"id": k} for k in repeated[:examples]],
                )
            )
    if contract_changed:
        findings.append(
            Finding(
                code="contract_changed",
                severity="warn",
                message="the source's contract differs from the one the previous batch was "
                "checked against",
            )
        )
    return BatchReport(batch.source, n, checks, findings, list(history))


def accepted_history(store: Store, source: str, limit: int = 50) -> tuple[list[int], str | None]:
    """Record counts of the source's accepted batches, newest first, and the previous batch's
    contract hash."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                ingestion_batches.c.n_records,
                ingestion_batches.c.status,
                ingestion_batches.c.contract_hash,
            )
            .where(ingestion_batches.c.source == source)
            .order_by(ingestion_batches.c.received_at.desc(), ingestion_batches.c.id.desc())
            .limit(limit)
        ).all()
    counts = [r.n_records for r in rows if r.status == "accepted"]
    return counts, rows[0].contract_hash if rows else None


def ingest_batch(
    store: Store,
    path: str | Path,
    contracts: Contracts,
    source: str,
    *,
    quarantine_dir: str | Path | None = None,
    now: datetime | None = None,
) -> BatchReport:
    """Check a batch file against its source's contract, quarantine it on a failing check,
    and record it (so the next batch's volume check has a history)."""
    contract = contracts.source(source)
    batch = read_batch(path, source)
    history, previous_hash = accepted_history(store, source)
    digest = contracts.hash(source)
    report = check_batch(
        batch,
        contract,
        history,
        now=now,
        contract_changed=previous_hash is not None and previous_hash != digest,
    )
    report.batch_id = uuid.uuid4().hex
    if report.quarantined and quarantine_dir is not None:
        folder = Path(quarantine_dir) / source
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{report.batch_id[:12]}-{Path(path).name}"
        try:
            shutil.move(str(path), target)
        except OSError as exc:
            raise AssayError(
                f"cannot move the batch to quarantine: {exc}", where=str(quarantine_dir)
            ) from None
        report.quarantine_path = str(target)
    with store.engine.begin() as conn:
        conn.execute(
            ingestion_batches.insert(),
            [
                {
                    "id": report.batch_id,
                    "source": source,
                    "received_at": now or datetime.now(UTC),
                    "path": str(path),
                    "n_records": report.n_records,
                    "status": "quarantined" if report.quarantined else "accepted",
                    "contract_hash": digest,
                    "quarantine_path": report.quarantine_path,
                    "findings_json": json.dumps(report.as_dict(), default=str),
                }
            ],
        )
    return report


def list_batches(
    store: Store, *, source: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recorded batches, newest first (the corpus page lists them)."""
    query = (
        select(ingestion_batches)
        .order_by(ingestion_batches.c.received_at.desc(), ingestion_batches.c.id)
        .limit(limit)
    )
    if source is not None:
        query = query.where(ingestion_batches.c.source == source)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        stored = json.loads(r.findings_json)
        out.append(
            {
                "id": r.id,
                "source": r.source,
                "received_at": r.received_at.isoformat(),
                "path": r.path,
                "records": r.n_records,
                "status": r.status,
                "quarantine_path": r.quarantine_path,
                "alert": stored.get("alert"),
                "findings": stored.get("findings", []),
            }
        )
    return out
