"""Langfuse observations exports as :class:`~assay.trace.model.SpanRecord` s.

Reads what Langfuse writes: the observations table exported from the UI (CSV, JSON, JSONL), the
public API's observation objects (``GET /api/public/observations`` pages, ``{"data": [...]}``),
a single trace downloaded as JSON (``{"id", "userId", "sessionId", ..., "observations": [...],
"scores": [...]}``) and the blob-storage export (snake_case fields, ``observations_v2`` with the
trace's ``user_id``/``session_id`` on every row). Field names are taken in camelCase or
snake_case alike.

Mapping (one observation, one span):

- ids: Langfuse ids are not OTLP hex. A trace id that is a UUID becomes its 32 hex digits; any
  other id (and every observation id that is not already 16 hex digits, as the OTel-based SDKs
  write) becomes the leading digits of its SHA-256, so re-importing gives the same ids. The
  originals are kept in ``langfuse.trace.id``, ``langfuse.observation.id`` and
  ``langfuse.observation.parent_observation_id``.
- ``type`` → kind: GENERATION llm, RETRIEVER retrieval, TOOL tool, EMBEDDING embedding, CHAIN
  chain, AGENT agent; SPAN, EVENT (a point in time: end = start), GUARDRAIL, EVALUATOR and any
  other type → other.
- ``level`` ERROR → status error (``statusMessage`` is the status message); other levels unset.
- ``model`` (or ``providedModelName``) → the model requested and resolved (Langfuse records one
  name); tokens from ``usageDetails`` (``input``/``output``, or OpenAI's ``prompt_tokens``/
  ``completion_tokens``), else the legacy ``usage`` object or the table's ``inputUsage``/
  ``promptTokens`` columns; cost from ``costDetails.total``, else ``calculatedTotalCost``/
  ``totalCost``.
- input/output of a generation → messages (``[{"role", "content", ...}]``; a bare string is a
  user or assistant message); tool calls the model asked for → request tool calls; a TOOL
  observation → an execution tool call; a RETRIEVER's output documents → retrievals.
- Everything else is kept in ``attributes`` under Langfuse's own OTel attribute names
  (``langfuse.observation.level``, ``langfuse.observation.metadata.<key>``,
  ``langfuse.trace.name`` …; other fields as ``langfuse.observation.<snake_case_name>``).
  Metadata of observations that came into Langfuse over OTel carries the original span
  ``attributes`` and ``resourceAttributes``: they become the span's attributes and resource.
- Scores of a single-trace download become evaluations of their observation (source
  ``langfuse``); the trace's own scores go to its root observations.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from assay.trace.conventions import genai_message
from assay.trace.importers._rows import (
    TraceImportError,
    amount,
    count,
    hex_id,
    json_text,
    missing,
    plain,
    read_export,
    require_mapping,
    structured,
    text_or_none,
    timestamp,
)
from assay.trace.model import EvalResult, RetrievedDocument, SpanRecord, ToolCall

CONVENTION = "langfuse"

KIND_OF_TYPE = {
    "GENERATION": "llm",
    "RETRIEVER": "retrieval",
    "TOOL": "tool",
    "EMBEDDING": "embedding",
    "CHAIN": "chain",
    "AGENT": "agent",
}

#: Langfuse's OTel attribute names for the fields that have one.
_ATTRIBUTE_NAMES = {
    "type": "langfuse.observation.type",
    "level": "langfuse.observation.level",
    "statusMessage": "langfuse.observation.status_message",
    "model": "langfuse.observation.model.name",
    "modelParameters": "langfuse.observation.model.parameters",
    "usageDetails": "langfuse.observation.usage_details",
    "costDetails": "langfuse.observation.cost_details",
    "completionStartTime": "langfuse.observation.completion_start_time",
    "promptName": "langfuse.observation.prompt.name",
    "promptVersion": "langfuse.observation.prompt.version",
    "version": "langfuse.version",
    "release": "langfuse.release",
    "environment": "langfuse.environment",
    "traceName": "langfuse.trace.name",
    "tags": "langfuse.trace.tags",
    "sessionId": "langfuse.session.id",
    "userId": "langfuse.user.id",
}

#: Fields mapped to SpanRecord fields and not repeated in attributes.
_CONSUMED = frozenset(
    {"id", "traceId", "parentObservationId", "name", "startTime", "endTime", "input", "output"}
)

_SNAKE = re.compile(r"_([a-z0-9])")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@lru_cache(maxsize=4096)
def _camel(key: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), key)


def _snake(key: str) -> str:
    return _CAMEL.sub(lambda m: "_" + m.group(1).lower(), key)


def _fields(row: Mapping[str, Any], text_cells: bool, json_values: bool) -> dict[str, Any]:
    """The row with camelCase keys and JSON values: blank cells dropped, CSV's JSON cells
    parsed, Parquet's datetimes and arrays made plain."""
    fields: dict[str, Any] = {}
    for key, value in row.items():
        if missing(value):
            continue
        if text_cells:
            value = structured(value)
        elif not json_values:
            value = plain(value)
        fields[_camel(str(key))] = value
    return fields


def _messages(value: Any, role: str) -> list[dict[str, Any]] | None:
    """Chat messages from a Langfuse input or output: a list of messages, one message, a
    ``{"messages": [...]}`` object, or a bare string (one ``role`` message), each in the
    receiver's message form (:func:`assay.trace.conventions.genai_message`). ``None`` for any
    other value, which is then kept as it is."""
    value = json_text(value)
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, Mapping):
        if isinstance(value.get("messages"), list):
            return _messages(value["messages"], role)
        if "role" in value:
            return [genai_message(dict(value))]
        return None
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, Mapping) and "role" in m for m in value)
    ):
        return [genai_message(dict(m)) for m in value]
    return None


def _request_tool_calls(messages: list[dict[str, Any]]) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            calls.append(
                ToolCall(
                    position=len(calls),
                    source="request",
                    tool=text_or_none(call.get("name")),
                    call_id=text_or_none(call.get("id")),
                    arguments=call.get("arguments"),
                )
            )
    return calls


def _documents(value: Any) -> list[RetrievedDocument]:
    """Retrieved documents from a RETRIEVER's output: a list of documents (LangChain's
    ``page_content``/``pageContent``, or ``content``/``text``), or ``{"documents": [...]}``."""
    value = json_text(value)
    if isinstance(value, Mapping) and isinstance(value.get("documents"), list):
        value = value["documents"]
    if not isinstance(value, list):
        return []
    documents = []
    for rank, doc in enumerate(value):
        if isinstance(doc, str):
            documents.append(RetrievedDocument(rank=rank, content=doc))
            continue
        if not isinstance(doc, Mapping):
            return []
        found_meta = doc.get("metadata")
        meta: Mapping[str, Any] = found_meta if isinstance(found_meta, Mapping) else {}

        def pick(*keys: str, doc: Mapping[str, Any] = doc, meta: Mapping[str, Any] = meta) -> Any:
            for key in keys:
                for source in (doc, meta):
                    if not missing(source.get(key)):
                        return source[key]
            return None

        score = pick("score", "relevance_score")
        content = pick("page_content", "pageContent", "content", "text")
        documents.append(
            RetrievedDocument(
                rank=rank,
                document_id=text_or_none(pick("document_id", "doc_id", "id", "source")),
                chunk_id=text_or_none(pick("chunk_id", "chunkId")),
                score=float(score) if isinstance(score, (int, float)) else None,
                content=None if content is None else str(content),
                document_version=text_or_none(pick("document_version", "version")),
                index_version=text_or_none(pick("index_version")),
                embedding_version=text_or_none(pick("embedding_version", "embedding_model")),
            )
        )
    return documents


def _usage(fields: Mapping[str, Any], where: str) -> tuple[int | None, int | None]:
    details = fields.get("usageDetails")
    legacy = fields.get("usage")
    candidates: list[tuple[str, Any]] = []
    for name, source in (("usageDetails", details), ("usage", legacy)):
        if isinstance(source, Mapping):
            for key in ("input", "prompt_tokens", "promptTokens", "input_tokens"):
                candidates.append((f"{name}.{key}", source.get(key)))
    for key in ("inputUsage", "promptTokens"):
        candidates.append((key, fields.get(key)))
    input_tokens = next((count(v, n, where) for n, v in candidates if not missing(v)), None)
    outputs: list[tuple[str, Any]] = []
    for name, source in (("usageDetails", details), ("usage", legacy)):
        if isinstance(source, Mapping):
            for key in ("output", "completion_tokens", "completionTokens", "output_tokens"):
                outputs.append((f"{name}.{key}", source.get(key)))
    for key in ("outputUsage", "completionTokens"):
        outputs.append((key, fields.get(key)))
    output_tokens = next((count(v, n, where) for n, v in outputs if not missing(v)), None)
    return input_tokens, output_tokens


def _cost(fields: Mapping[str, Any], where: str) -> float | None:
    candidates: list[tuple[str, Any]] = []
    details = fields.get("costDetails")
    if isinstance(details, Mapping):
        candidates.append(("costDetails.total", details.get("total")))
    for key in ("calculatedTotalCost", "totalCost"):
        candidates.append((key, fields.get(key)))
    legacy = fields.get("usage")
    if isinstance(legacy, Mapping):
        candidates.append(("usage.totalCost", legacy.get("totalCost")))
    return next((amount(v, n, where) for n, v in candidates if not missing(v)), None)


@lru_cache(maxsize=4096)
def _attribute_name(key: str) -> str:
    return _ATTRIBUTE_NAMES.get(key, f"langfuse.observation.{_snake(key)}")


def observation_span(
    row: Any,
    where: str,
    *,
    text_cells: bool = False,
    json_values: bool = True,
    trace: Mapping[str, Any] | None = None,
) -> SpanRecord:
    """One Langfuse observation (a row of an export) as a span.

    ``where`` (``file:line``) names the row in errors; ``text_cells`` says its cells are text
    (CSV); ``json_values`` false says they may be other types (Parquet); ``trace`` holds the
    trace-level fields of a single-trace download (user, session, name, tags, metadata),
    applied to every observation.
    """
    fields = _fields(require_mapping(row, where, "a Langfuse observation"), text_cells, json_values)
    if trace:
        for key in ("userId", "sessionId", "release", "version", "environment", "tags"):
            if key in trace and key not in fields:
                fields[key] = trace[key]
        if "name" in trace and "traceName" not in fields:
            fields["traceName"] = trace["name"]
    for key in ("id", "traceId"):
        if missing(fields.get(key)):
            raise TraceImportError(
                f"the observation has no {key}",
                where=where,
                fix="export observations with their id and traceId (the Langfuse export has both)",
            )
    trace_id, _ = hex_id(fields["traceId"], 32)
    span_id, _ = hex_id(fields["id"], 16)
    parent = fields.get("parentObservationId")
    parent_id = None if missing(parent) else hex_id(parent, 16)[0]
    if missing(fields.get("startTime")):
        raise TraceImportError(
            "the observation has no startTime", where=where, fix="export the startTime column"
        )
    start = timestamp(fields["startTime"], "startTime", where)
    end_value = fields.get("endTime")
    end = start if missing(end_value) else timestamp(end_value, "endTime", where)
    kind_name = str(fields.get("type") or "SPAN").upper()
    kind = KIND_OF_TYPE.get(kind_name, "other")
    level = str(fields.get("level") or "DEFAULT").upper()

    attributes: dict[str, Any] = {
        "langfuse.trace.id": str(fields["traceId"]),
        "langfuse.observation.id": str(fields["id"]),
    }
    resource: dict[str, Any] = {}
    if parent_id is not None:
        attributes["langfuse.observation.parent_observation_id"] = str(parent)
    metadata = json_text(fields.get("metadata"))
    if isinstance(metadata, Mapping):
        for key, value in metadata.items():
            if key == "attributes" and isinstance(value, Mapping):
                attributes.update({str(k): v for k, v in value.items()})
            elif key == "resourceAttributes" and isinstance(value, Mapping):
                resource.update({str(k): v for k, v in value.items()})
            else:
                attributes[f"langfuse.observation.metadata.{key}"] = value
    elif metadata is not None:
        attributes["langfuse.observation.metadata"] = metadata
    if trace and isinstance(trace.get("metadata"), Mapping):
        for key, value in trace["metadata"].items():
            attributes.setdefault(f"langfuse.trace.metadata.{key}", plain(value))
    for key, value in fields.items():
        if key not in _CONSUMED and key != "metadata":
            attributes[_attribute_name(key)] = value

    model = text_or_none(fields.get("model") or fields.get("providedModelName"))
    raw_input, raw_output = fields.get("input"), fields.get("output")
    span_input: Any = json_text(raw_input)
    span_output: Any = json_text(raw_output)
    tool_calls: list[ToolCall] = []
    retrievals: list[RetrievedDocument] = []
    if kind == "llm":
        in_messages = _messages(raw_input, "user")
        out_messages = _messages(raw_output, "assistant")
        if in_messages is not None:
            span_input = in_messages
            if isinstance(raw_input, Mapping):
                for key, value in raw_input.items():
                    if key != "messages":
                        attributes[f"langfuse.observation.input.{key}"] = value
        if out_messages is not None:
            span_output = out_messages
            tool_calls = _request_tool_calls(out_messages)
    elif kind == "tool":
        error = text_or_none(fields.get("statusMessage")) if level == "ERROR" else None
        tool_calls = [
            ToolCall(
                position=0,
                source="execution",
                tool=text_or_none(fields.get("name")),
                call_id=text_or_none(
                    attributes.get("gen_ai.tool.call.id") or attributes.get("tool_call_id")
                ),
                arguments=span_input,
                result=span_output,
                error=error,
            )
        ]
    elif kind == "retrieval":
        retrievals = _documents(raw_output)

    input_tokens, output_tokens = _usage(fields, where)
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=str(fields.get("name") or kind_name.lower()),
        start_time=start,
        end_time=end,
        kind=kind,
        convention=CONVENTION,
        status="error" if level == "ERROR" else "unset",
        status_message=text_or_none(fields.get("statusMessage")),
        model_requested=model,
        model_resolved=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost=_cost(fields, where),
        session_id=text_or_none(fields.get("sessionId")),
        user_id=text_or_none(fields.get("userId")),
        input=span_input,
        output=span_output,
        attributes=attributes,
        resource=resource,
        retrievals=retrievals,
        tool_calls=tool_calls,
    )


def _trace_scores(
    trace: Mapping[str, Any], where: str
) -> tuple[dict[str, list[EvalResult]], list[EvalResult]]:
    """A single-trace download's scores: by observation id, and the trace's own."""
    by_observation: dict[str, list[EvalResult]] = {}
    on_trace: list[EvalResult] = []
    scores = trace.get("scores")
    if not isinstance(scores, list):
        return by_observation, on_trace
    for score in scores:
        if not isinstance(score, Mapping) or missing(score.get("name")):
            raise TraceImportError(
                "a score of the trace has no name",
                where=where,
                fix="scores are objects with a name and a value",
            )
        value = score.get("value")
        result = EvalResult(
            name=str(score["name"]),
            value=float(value) if isinstance(value, (int, float)) else None,
            label=text_or_none(score.get("stringValue")),
            explanation=text_or_none(score.get("comment")),
            source=CONVENTION,
        )
        observation = score.get("observationId")
        if missing(observation):
            on_trace.append(result)
        else:
            by_observation.setdefault(str(observation), []).append(result)
    return by_observation, on_trace


def iter_langfuse(
    path: str | os.PathLike[str], *, batch_size: int = 1000
) -> Iterator[list[SpanRecord]]:
    """The observations of a Langfuse export as batches of at most ``batch_size`` spans, read
    row by row (a JSON file is read whole; JSONL, CSV and Parquet stream).

    Raises :class:`~assay.trace.importers.TraceImportError` (``where`` = ``file:line``) at the
    first bad row; batches before it have already been yielded.
    """
    export = read_export(path)
    trace = export.context or None
    label = os.fspath(path)
    by_observation, on_trace = _trace_scores(trace, label) if trace else ({}, [])
    batch: list[SpanRecord] = []
    for where, row in export.rows:
        span = observation_span(
            row,
            where,
            text_cells=export.text_cells,
            json_values=export.json_values,
            trace=trace,
        )
        span.evaluations.extend(by_observation.get(span.attributes["langfuse.observation.id"], []))
        if span.parent_id is None:
            span.evaluations.extend(on_trace)
            if trace:
                for key in ("input", "output"):
                    if trace.get(key) is not None:
                        span.attributes[f"langfuse.trace.{key}"] = plain(trace[key])
        batch.append(span)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def looks_like(row: Mapping[str, Any]) -> bool:
    """Whether a row (its keys) is a Langfuse observation."""
    keys = {_camel(str(k)) for k in row}
    return "traceId" in keys and bool(keys & {"type", "startTime", "parentObservationId"})


__all__ = ["CONVENTION", "KIND_OF_TYPE", "iter_langfuse", "looks_like", "observation_span"]
