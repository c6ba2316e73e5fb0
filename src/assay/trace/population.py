"""Traces as a population (D1, D2, D7): the trace store read as stratified-sampling records,
and a drawn sample written as a dataset of cases.

Every trace whose start lies in ``[since, until)`` is one :class:`~assay.data.sampling.Record`
with its start time (``timestamp``, from which ``hour_of_week`` is derived) and one value per
stratum. A stratum name resolves, in order, through

1. ``fields`` (``--field segment=app.segment``; ``a|b`` tries ``a`` then ``b``), else
   :data:`DEFAULT_FIELDS` (``segment`` ← ``app.segment``, ``user.segment`` …; ``geography`` ←
   ``geo.country.iso_code`` …; ``intent`` ← ``app.intent`` …; ``actor`` ← ``app.actor``,
   ``enduser.role`` …), else the name itself;
2. each source is a trace column (:data:`TRACE_COLUMNS`: ``service``, ``route``, ``status`` …),
   a span column (:data:`SPAN_COLUMNS`: ``model_resolved``, ``provider`` …; the root span's
   value, else the first span's that has one) or a span attribute: the root span's, else the
   first span's (by start) that has it. An attribute path may reach into an attribute that
   holds a JSON object (``metadata.segment`` reads ``segment`` of OpenInference's ``metadata``).

A trace with no value for a stratum gets :data:`MISSING` (``(none)``), a stratum of its own, so
the gap is visible in every report rather than silently dropped.

A drawn trace becomes a case in the dataset row layout :func:`assay.load_dataset` reads (the
same as :meth:`assay.trace.promote.Case.sample_record`): the trace's input as the promotion
reads it (the first LLM span's messages, else the root span's input; redacted at ingest, and
redacted again here if the trace was stored with ``--no-redact``), ``metadata.origin``
``sampled-production``, ``metadata.created_from`` the trace id, the stratum values in
``metadata``, and provenance ``origin`` ``sampled`` (``assay.core.Provenance``'s name for it),
``source_type`` ``trace``, ``source_ref`` the trace id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.semconv._incubating.attributes.enduser_attributes import ENDUSER_ROLE
from opentelemetry.semconv._incubating.attributes.geo_attributes import (
    GEO_CONTINENT_CODE,
    GEO_COUNTRY_ISO_CODE,
)
from sqlalchemy import select

from assay.core import AssayError, content_hash
from assay.data.curriculum import MISSING
from assay.data.sampling import HOUR_OF_WEEK, Record
from assay.store import Store
from assay.store.tables import spans, traces

TIME_COLUMN = "timestamp"
SAMPLED_ORIGIN = "sampled-production"

#: Where each conventional stratum is looked for when ``--field`` does not say.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "segment": (
        "app.segment",
        "user.segment",
        "segment",
        "metadata.segment",
        "langfuse.trace.metadata.segment",
        "langfuse.observation.metadata.segment",
    ),
    "geography": (
        GEO_COUNTRY_ISO_CODE,
        "geo.country",
        "app.geo",
        "geo",
        "geography",
        "metadata.geo",
        "langfuse.trace.metadata.geo",
        "langfuse.observation.metadata.geo",
    ),
    "continent": (GEO_CONTINENT_CODE,),
    "intent": (
        "app.intent",
        "intent",
        "metadata.intent",
        "langfuse.trace.metadata.intent",
        "langfuse.observation.metadata.intent",
    ),
    "actor": (
        "app.actor",
        ENDUSER_ROLE,
        "actor",
        "user.role",
        "metadata.actor",
        "langfuse.trace.metadata.actor",
        "langfuse.observation.metadata.actor",
    ),
    "locale": ("app.locale", "locale", "metadata.locale"),
}
DEFAULT_FIELDS["geo"] = DEFAULT_FIELDS["geography"]

#: Stratum sources read from the ``traces`` row.
TRACE_COLUMNS: tuple[str, ...] = (
    "service",
    "route",
    "environment",
    "status",
    "session_id",
    "user_id",
    "root_name",
)
#: Stratum sources read from a span row (the root's value, else the first span's).
SPAN_COLUMNS: tuple[str, ...] = (
    "model_resolved",
    "model_requested",
    "provider",
    "operation",
    "convention",
    "kind",
)


def parse_fields(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``--field NAME=SOURCE`` options as ``{name: (source, ...)}`` (``a|b``: ``a``, then
    ``b``). An :class:`AssayError` naming the option for anything else."""
    fields: dict[str, tuple[str, ...]] = {}
    for item in items:
        name, sep, sources = item.partition("=")
        parts = tuple(s.strip() for s in sources.split("|") if s.strip())
        if not sep or not name.strip() or not parts:
            raise AssayError(
                f"--field {item!r} is not NAME=SOURCE",
                where="--field",
                fix="write e.g. --field segment=app.segment or --field intent=metadata.intent",
            )
        fields[name.strip()] = parts
    return fields


def sources_of(name: str, fields: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """Where stratum ``name`` is read from (see the module docstring)."""
    if fields and name in fields:
        return tuple(fields[name])
    return DEFAULT_FIELDS.get(name, (name,))


def attribute(attributes: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted attribute ``path``: the key itself, else a shorter key holding an
    object (or JSON text of one) and the rest of the path inside it; ``None`` when absent."""
    if path in attributes:
        return attributes[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head not in attributes:
            continue
        inner = attributes[head]
        if isinstance(inner, str) and inner[:1] == "{":
            try:
                inner = json.loads(inner)
            except ValueError:
                continue
        if isinstance(inner, Mapping):
            found = attribute(inner, ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def _label(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass
class _TraceRows:
    """One trace while its spans stream past: the columns read, the values found so far."""

    trace: Any
    values: dict[str, str | None] = field(default_factory=dict)


def _chunks(items: Sequence[str], size: int = 400) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_population(
    store: Store,
    strata: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fields: Mapping[str, Sequence[str]] | None = None,
    weight: str | None = None,
) -> list[Record]:
    """Every stored trace starting in ``[since, until)`` as a record with ``trace_id``,
    ``timestamp`` (its start), ``redacted`` and one label per stratum (and the weight's value,
    when given), in start order. Labels resolve as the module docstring says."""
    names = [n for n in dict.fromkeys([*strata, *([weight] if weight else [])]) if n]
    names = [n for n in names if n != HOUR_OF_WEEK]
    plan = {name: sources_of(name, fields) for name in names}
    query = select(
        traces.c.id,
        traces.c.start_time,
        traces.c.redacted,
        *(traces.c[c] for c in TRACE_COLUMNS if c != "root_name"),
        traces.c.root_name,
    ).order_by(traces.c.start_time, traces.c.id)
    if since is not None:
        query = query.where(traces.c.start_time >= since)
    if until is not None:
        query = query.where(traces.c.start_time < until)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        found: dict[str, _TraceRows] = {r.id: _TraceRows(r) for r in rows}
        for entry in found.values():
            for name, sources in plan.items():
                entry.values[name] = _first_trace_column(entry.trace, sources)
        span_sources = {
            name: sources
            for name, sources in plan.items()
            if any(s not in TRACE_COLUMNS for s in sources)
        }
        if span_sources:
            _fill_from_spans(conn, found, span_sources)
    records = []
    for entry in found.values():
        trace = entry.trace
        values: dict[str, Any] = {
            "trace_id": trace.id,
            TIME_COLUMN: trace.start_time,
            "redacted": bool(trace.redacted),
        }
        for name in names:
            label = entry.values.get(name)
            values[name] = MISSING if label is None and name != weight else label
        records.append(Record(f"trace {trace.id}", values))
    return records


def _first_trace_column(trace: Any, sources: Sequence[str]) -> str | None:
    for source in sources:
        if source in TRACE_COLUMNS:
            label = _label(getattr(trace, source))
            if label is not None:
                return label
    return None


def _fill_from_spans(
    conn: Any, found: dict[str, _TraceRows], plan: Mapping[str, Sequence[str]]
) -> None:
    """Stratum values from span columns and attributes: the root span first, then the others
    by start time; a trace's spans stop being parsed once every stratum has a value."""
    columns = [c for c in SPAN_COLUMNS if any(c in s for s in plan.values())]
    ids = list(found)
    for chunk in _chunks(ids):
        query = (
            select(
                spans.c.trace_id,
                spans.c.attributes_json,
                *(spans.c[c] for c in columns),
            )
            .where(spans.c.trace_id.in_(chunk))
            .order_by(
                spans.c.trace_id,
                spans.c.parent_id.is_not(None),
                spans.c.start_time,
                spans.c.span_id,
            )
        )
        for row in conn.execute(query):
            entry = found[row.trace_id]
            open_names = [n for n in plan if entry.values.get(n) is None]
            if not open_names:
                continue
            attributes: Mapping[str, Any] | None = None
            for name in open_names:
                for source in plan[name]:
                    if source in TRACE_COLUMNS:
                        continue
                    if source in SPAN_COLUMNS:
                        label = _label(getattr(row, source))
                    else:
                        if attributes is None:
                            attributes = _loads(row.attributes_json)
                        label = _label(attribute(attributes, source))
                    if label is not None:
                        entry.values[name] = label
                        break


def _loads(text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


# -- cases -------------------------------------------------------------------------------------


@dataclass
class SampledCases:
    """The dataset rows made from drawn traces, and the traces left out for want of an
    input (no LLM span messages and no root span input)."""

    rows: list[dict[str, Any]]
    without_input: list[str]


def sampled_case_id(trace_id: str) -> str:
    """A sampled trace's case id: a hash of the trace id (the same trace, the same id)."""
    return "sampled-" + content_hash(["sampled-production", trace_id], length=12)


def sampled_cases(store: Store, records: Sequence[Record], strata: Sequence[str]) -> SampledCases:
    """The drawn traces as dataset rows (see the module docstring), in the records' order."""
    from assay.data.pii import Placeholders, redact_value
    from assay.trace.promote import Case, trace_material

    rows: list[dict[str, Any]] = []
    without_input: list[str] = []
    now = datetime.now(UTC)
    for record in records:
        trace_id = str(record.values["trace_id"])
        material = trace_material(store, trace_id, missing_ok=True)
        if material is None or material.input is None:
            without_input.append(trace_id)
            continue
        text = material.input
        if not record.values.get("redacted", True):
            text, _ = redact_value(text, Placeholders())
        case = Case(
            id=sampled_case_id(trace_id),
            dataset="",
            status="accepted",
            origin=SAMPLED_ORIGIN,
            created_from=trace_id,
            reason=None,
            input=text,
            target=None,
            negative_example=None,
            metadata={
                "session_id": material.session_id,
                "trace_start": material.start_time.isoformat(),
            },
            created_at=now,
        )
        row = case.sample_record()
        strata_values = {n: record.values[n] for n in strata if n in record.values}
        row["metadata"] = {**strata_values, **row["metadata"]}
        row["metadata"]["trace_start"] = material.start_time.isoformat()
        rows.append(row)
    return SampledCases(rows, without_input)


def write_cases(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write dataset rows as JSONL (UTF-8, one object per line). Returns the count."""
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def sample_records(path: str | os.PathLike[str]) -> list[Record]:
    """A dataset of sampled cases (as :func:`write_cases` writes it) read back as records for a
    sample-versus-production composition: each row's ``metadata`` values (its stratum labels)
    and ``timestamp`` (the trace's start, ``metadata.trace_start``)."""
    from assay.data.sampling import read_records

    out = []
    for record in read_records(path):
        metadata = record.values.get("metadata")
        values = dict(metadata) if isinstance(metadata, Mapping) else {}
        start = values.get("trace_start")
        if start is None and isinstance(record.values.get("provenance"), Mapping):
            start = record.values["provenance"].get("collected_at")
        values[TIME_COLUMN] = start
        for key, value in record.values.items():
            values.setdefault(key, value)
        out.append(Record(record.where, values))
    return out
