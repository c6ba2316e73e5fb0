"""Reading the substrate from the spans: one ``GROUP BY`` (value, hour) per kind.

:func:`assay.monitor.substrate.detect_from_traces` turns these rows — ``(key, value, first
time, count)`` per key, value and hour — into events. The LLM spans' columns (requested and
resolved model, ``system_fingerprint``, ``max_tokens``) are read in one scan and their
attributes (prompt version labels, temperature) in another (``json_each`` on SQLite,
``jsonb_each_text`` on PostgreSQL), then projected per kind in Python.

**Prompt content.** Besides the version label, the hash of each call's prompt text (a template
attribute, else the system message that opens its input; :func:`prompt_content_hash`), keyed
by the label (``content of p-v1``), so a prompt edited under an unchanged label is an event.
A system message that embeds per-request text (retrieved context, a user's name) is no
template: only keys whose commonest content carries :data:`TEMPLATE_SHARE` of their calls are
watched, and only contents with :data:`MIN_TEMPLATE_SPANS` calls and :data:`MATERIAL_SHARE` of
them count as versions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from assay.monitor.signals import json_attribute
from assay.monitor.spec import Route
from assay.store.tables import retrievals, spans, traces

#: Attributes that carry a prompt's version (the simulator's, GenAI-style, OpenInference's and
#: Langfuse's).
PROMPT_KEYS = (
    "app.prompt.version",
    "gen_ai.prompt.version",
    "gen_ai.prompt.name",
    "llm.prompt_template.version",
    "prompt.version",
    "langfuse.prompt.version",
)
#: Prompt content (a system message) counts as a template when its commonest value carries at
#: least this share of the key's spans; a content is a version when it carries at least
#: :data:`MIN_TEMPLATE_SPANS` spans and :data:`MATERIAL_SHARE` of them.
TEMPLATE_SHARE = 0.5
MIN_TEMPLATE_SPANS = 3
MATERIAL_SHARE = 0.02

TEMPERATURE = "gen_ai.request.temperature"


def _hour(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H", column)


#: The trace columns a route filters on: a scan of every route groups by them as well.
TRACE_COLUMNS = (traces.c.route, traces.c.environment, traces.c.service)


def matches(trace: tuple[Any, Any, Any], route: Route) -> bool:
    """Whether a group's (route, environment, service) passes ``route``'s filter (as
    :func:`_route_join`'s ``WHERE`` would)."""
    return (
        (route.route is None or trace[0] == route.route)
        and (route.environment is None or trace[1] == route.environment)
        and (route.service is None or trace[2] == route.service)
    )


def _route_join(query: Any, route: Route | None, since: datetime, until: datetime) -> Any:
    query = query.where(spans.c.start_time >= since, spans.c.start_time < until)
    if route is None:
        return query
    if route.route is not None:
        query = query.where(traces.c.route == route.route)
    if route.environment is not None:
        query = query.where(traces.c.environment == route.environment)
    if route.service is not None:
        query = query.where(traces.c.service == route.service)
    return query


#: The attribute keys of the LLM spans that the scan reads (prompt versions, temperature).
ATTRIBUTE_KEYS = (*PROMPT_KEYS, TEMPERATURE)


@dataclass(frozen=True)
class SpanGroup:
    """One group of the route's LLM and embedding spans in one hour: every column the
    substrate kinds read, with the group's first start time and its count."""

    kind: str
    ok: bool  # status != 'error'
    requested: Any
    resolved: Any
    fingerprint: Any
    max_tokens: Any
    attributes: tuple[Any, ...]  # the values of ATTRIBUTE_KEYS (None: absent)
    content_key: str
    content: Any  # the prompt's template or opening system message (None: neither)
    hour: Any
    first: datetime
    count: int
    trace: tuple[Any, Any, Any] = (None, None, None)  # (route, environment, service)


def span_groups(
    conn: Connection, route: Route | None, since: datetime, until: datetime
) -> list[SpanGroup]:
    """The route's LLM and embedding spans started in [since, until), grouped by every column
    the substrate kinds read and the hour: one scan for what used to be one scan per kind
    (model columns, attributes, prompt content, embedding model). Each kind then projects the
    groups (:func:`_project`), so its (key, value, hour) rows are the same as its own
    ``GROUP BY`` would give. ``route=None``: every route's, grouped by :data:`TRACE_COLUMNS`
    too (:func:`matches` picks a route's)."""
    dialect = conn.dialect.name
    hour = _hour(spans.c.start_time, dialect)
    attributes = [json_attribute(spans.c.attributes_json, k, dialect) for k in ATTRIBUTE_KEYS]
    key, text = _prompt_content_columns(dialect)
    groups = (
        spans.c.kind,
        spans.c.status,
        spans.c.model_requested,
        spans.c.model_resolved,
        spans.c.system_fingerprint,
        spans.c.request_max_tokens,
        *attributes,
        key,
        text,
        hour,
        *(TRACE_COLUMNS if route is None else ()),
    )
    query = (
        select(*groups, func.min(spans.c.start_time), func.count())
        .select_from(spans.join(traces, traces.c.id == spans.c.trace_id))
        .where(spans.c.kind.in_(("llm", "embedding")))
        .group_by(*_positions(groups))
    )
    query = _route_join(query, route, since, until)
    n = len(ATTRIBUTE_KEYS)
    return [
        SpanGroup(
            kind=r[0],
            ok=r[1] != "error",
            requested=r[2],
            resolved=r[3],
            fingerprint=r[4],
            max_tokens=r[5],
            attributes=tuple(r[6 : 6 + n]),
            content_key=r[6 + n],
            content=r[7 + n],
            hour=r[8 + n],
            first=_aware(r[-2]),
            count=int(r[-1]),
            trace=tuple(r[9 + n : 12 + n]) if route is None else (None, None, None),
        )
        for r in conn.execute(query)
    ]


def _positions(columns: tuple[Any, ...]) -> list[Any]:
    """``GROUP BY 1, 2, …`` for the first ``len(columns)`` selected columns: the same groups as
    repeating their expressions, which the database cannot match to the selected ones (each
    JSON path is a separate bound parameter), so it would compute them twice per row."""
    from sqlalchemy import literal_column

    return [literal_column(str(i)) for i in range(1, len(columns) + 1)]


def _hourly_groups(kind: Any, rows: Iterable[Any], route: Route | None) -> list[Any]:
    """``kind`` (:class:`RetrievalGroup` or :class:`DeployGroup`) of each row selected as
    (two values, hour, [the trace columns when ``route`` is ``None``], min time, count)."""
    return [
        kind(
            r[0],
            r[1],
            r[2],
            _aware(r[-2]),
            int(r[-1]),
            tuple(r[3:6]) if route is None else (None, None, None),
        )
        for r in rows
    ]


def _project(rows: Iterable[Any], pick: Any) -> list[tuple[str, str, datetime, int]]:
    """(key, value, first, count) per key, value and hour from finer groups; ``pick`` maps a
    group to its (key, value) (None: skip)."""
    merged: dict[tuple[str, str, Any], list[Any]] = {}
    for row in rows:
        picked = pick(row)
        if len(picked) != 2 or picked[0] is None or picked[1] is None:
            continue
        key = (str(picked[0]), str(picked[1]), row.hour)
        first, count = row.first, row.count
        if key in merged:
            merged[key][0] = min(merged[key][0], first)
            merged[key][1] += count
        else:
            merged[key] = [first, count]
    return [(k, v, first, n) for (k, v, _), (first, n) in merged.items()]


def prompt_content_hash(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of a prompt's text (its system message or
    template, whitespace at the ends trimmed)."""
    import hashlib

    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def _prompt_content_columns(dialect: str) -> tuple[Any, Any]:
    """SQL for the prompt-content key (``content of <version label>``, else of the requested
    model) and text (a template attribute, else the system message that opens the input)."""
    from sqlalchemy import and_, case, cast, literal
    from sqlalchemy.dialects.postgresql import JSONB

    if dialect == "postgresql":
        first = cast(spans.c.input_json, JSONB).op("->")(literal(0))
        role, content = first.op("->>")(literal("role")), first.op("->>")(literal("content"))
    else:
        role = func.json_extract(spans.c.input_json, "$[0].role")
        content = func.json_extract(spans.c.input_json, "$[0].content")
    system = case((and_(spans.c.input_json.like("[%"), role == "system"), content), else_=None)
    templates = [
        json_attribute(spans.c.attributes_json, k, dialect)
        for k in ("gen_ai.prompt.template", "llm.prompt_template.template", "prompt.template")
    ]
    text = func.coalesce(*templates, system)
    versions = [json_attribute(spans.c.attributes_json, k, dialect) for k in PROMPT_KEYS]
    key = literal("content of ") + func.coalesce(*versions, spans.c.model_requested, "prompt")
    return key, text


def _prompt_content_rows(groups: Iterable[SpanGroup]) -> list[tuple[str, str, datetime, int]]:
    """Per prompt, the hash of the prompt *content* the successful LLM spans carried (a
    template attribute, else the system message that opens the input), keyed by the prompt's
    version label (or the requested model when the spans carry none): a prompt edited under an
    unchanged version label is a ``prompt`` event whose key reads ``content of <version>``."""
    rows = _project(
        (g for g in groups if g.kind == "llm" and g.ok),
        lambda g: (g.content_key, g.content),
    )
    totals: Counter[str] = Counter()
    per_value: Counter[tuple[str, str]] = Counter()
    for k, v, _, n in rows:
        totals[k] += n
        per_value[(k, v)] += n
    # A template repeats; a system message that embeds per-request text (retrieved context, the
    # user's name) does not. Only keys whose commonest content carries most of their traffic
    # are templated, and only contents that carry a material share of it are versions.
    templated = {
        k
        for k, total in totals.items()
        if max(n for (kk, _), n in per_value.items() if kk == k) >= TEMPLATE_SHARE * total
    }
    return [
        (k, prompt_content_hash(v), first_time, n)
        for k, v, first_time, n in rows
        if k in templated
        and per_value[(k, v)] >= max(MIN_TEMPLATE_SPANS, MATERIAL_SHARE * totals[k])
    ]


class RetrievalGroup(NamedTuple):
    embedding_version: Any
    index_version: Any
    hour: Any
    first: datetime
    count: int
    trace: tuple[Any, Any, Any] = (None, None, None)


def retrieval_groups(
    conn: Connection, route: Route | None, since: datetime, until: datetime
) -> list[RetrievalGroup]:
    """The route's retrievals (``None``: every route's) per embedding version, index version
    and hour, from one scan."""
    from sqlalchemy import and_, or_

    hour = _hour(spans.c.start_time, conn.dialect.name)
    versioned = or_(
        retrievals.c.embedding_version.is_not(None), retrievals.c.index_version.is_not(None)
    )
    columns = (
        retrievals.c.embedding_version,
        retrievals.c.index_version,
        hour,
        *(TRACE_COLUMNS if route is None else ()),
    )
    query = (
        select(*columns, func.min(spans.c.start_time), func.count())
        .select_from(
            retrievals.join(
                spans,
                and_(
                    spans.c.trace_id == retrievals.c.trace_id,
                    spans.c.span_id == retrievals.c.span_id,
                ),
            ).join(traces, traces.c.id == spans.c.trace_id)
        )
        .where(versioned)
        .group_by(*_positions(columns))
    )
    query = _route_join(query, route, since, until)
    return _hourly_groups(RetrievalGroup, conn.execute(query), route)


def _retrieval_rows(
    groups: Iterable[RetrievalGroup],
) -> list[tuple[str, list[tuple[str, str, datetime, int]]]]:
    """``embedding`` rows (key ``embedding_version``) and ``index`` rows (``index_version``) of
    the retrieval groups."""
    groups = list(groups)
    return [
        ("embedding", _project(groups, lambda g: ("embedding_version", g.embedding_version))),
        ("index", _project(groups, lambda g: ("index_version", g.index_version))),
    ]


class DeployGroup(NamedTuple):
    key: Any
    version: Any
    hour: Any
    first: datetime
    count: int
    trace: tuple[Any, Any, Any] = (None, None, None)


def deploy_groups(
    conn: Connection, route: Route | None, since: datetime, until: datetime
) -> list[DeployGroup]:
    """The ``service.version`` of the traces' resources (a deploy) per service and hour, of the
    route's traces (``None``: every route's, grouped by :data:`TRACE_COLUMNS` too)."""
    dialect = conn.dialect.name
    version = json_attribute(traces.c.attributes_json, "service.version", dialect)
    hour = _hour(traces.c.start_time, dialect)
    key = func.coalesce(traces.c.service, "service")
    groups = (key, version, hour, *(TRACE_COLUMNS if route is None else ()))
    query = (
        select(*groups, func.min(traces.c.start_time), func.count())
        .where(version.is_not(None), traces.c.start_time >= since, traces.c.start_time < until)
        .group_by(*_positions(groups))
    )
    if route is not None and route.route is not None:
        query = query.where(traces.c.route == route.route)
    if route is not None and route.environment is not None:
        query = query.where(traces.c.environment == route.environment)
    return _hourly_groups(DeployGroup, conn.execute(query), route)


def _deploy_rows(groups: Iterable[DeployGroup]) -> list[tuple[str, str, datetime, int]]:
    """(service, version, first, count) per service, version and hour (the SQL values, merged
    across finer groups)."""
    merged: dict[tuple[Any, Any, Any], list[Any]] = {}
    for g in groups:
        key = (g.key, g.version, g.hour)
        if key in merged:
            merged[key][0] = min(merged[key][0], g.first)
            merged[key][1] += g.count
        else:
            merged[key] = [g.first, g.count]
    return [(str(k), str(v), first, n) for (k, v, _), (first, n) in merged.items()]


@dataclass
class SubstrateScan:
    """The substrate groups of every route's spans and traces in one time range, read once
    for a pass over many routes (:func:`scan_substrate`); :meth:`of` picks one route's."""

    spans: list[SpanGroup]
    retrievals: list[RetrievalGroup]
    deploys: list[DeployGroup]

    def of(self, route: Route) -> tuple[list[SpanGroup], list[RetrievalGroup], list[DeployGroup]]:
        # A deploy is read from the trace's resource: the route's service filter does not apply.
        unserviced = replace(route, service=None)
        return (
            [g for g in self.spans if matches(g.trace, route)],
            [g for g in self.retrievals if matches(g.trace, route)],
            [g for g in self.deploys if matches(g.trace, unserviced)],
        )


def scan_substrate(conn: Connection, since: datetime, until: datetime) -> SubstrateScan:
    """Every route's substrate groups over [since, until): three scans for the whole store
    instead of three per route."""
    return SubstrateScan(
        span_groups(conn, None, since, until),
        retrieval_groups(conn, None, since, until),
        deploy_groups(conn, None, since, until),
    )


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
