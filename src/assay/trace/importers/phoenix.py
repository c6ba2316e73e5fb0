"""Arize Phoenix span exports as :class:`~assay.trace.model.SpanRecord` s.

Two shapes, told apart row by row:

- **the spans dataframe** (``px.Client().get_spans_dataframe()`` written with ``to_parquet``,
  ``to_csv`` or ``to_json(orient="records", lines=True)``): flat columns ``context.trace_id``,
  ``context.span_id``, ``parent_id``, ``name``, ``span_kind``, ``start_time``, ``end_time``,
  ``status_code``, ``status_message``, ``events`` and one ``attributes.<name>`` column per
  OpenInference attribute, lists kept whole (``attributes.llm.input_messages`` is a list of
  ``{"message.role", "message.content"}``; in CSV as JSON or Python-repr text);
- **Phoenix's span JSONL** (``phoenix.trace.span_json_encoder``): ``{"name", "context":
  {"trace_id", "span_id"}, "span_kind", "parent_id", "start_time", "end_time", "status_code",
  "status_message", "attributes": {...}, "events": [...]}`` with attributes nested or dotted.

Phoenix spans are OpenInference spans, so the attributes are laid out as OTLP carries them
(nested objects as dotted names, lists of objects as ``llm.input_messages.0.message.role``;
names from ``openinference.semconv.trace``) and mapped by the receiver's own OpenInference
mapping (:mod:`assay.trace.conventions`): an exported span is stored exactly as the same span
received over OTLP would be (kind, models, tokens, cost, messages, tool calls, retrieved
documents, unmapped attributes kept), with ``convention`` ``phoenix``. The export's own
columns give ids, times, ``status_code``/``status_message`` and ``events`` (span events).

Ids: Phoenix writes OTel hex ids, which are kept. Older Phoenix versions wrote UUIDs: a trace
UUID becomes its 32 hex digits, a span UUID the leading 16 digits of its SHA-256 (the same for
``parent_id``), and the originals are kept as ``phoenix.trace_id``/``phoenix.span_id``/
``phoenix.parent_id``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from openinference.semconv.trace import (
    DocumentAttributes,
    SpanAttributes,
    ToolCallAttributes,
)

from assay.trace.conventions import _map_openinference as map_openinference
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
from assay.trace.model import SpanEvent, SpanRecord

CONVENTION = "phoenix"
_STATUS = {"OK": "ok", "ERROR": "error"}

#: Attributes OpenInference defines as strings (JSON text): an object or list found there is
#: written back as JSON text, never spread into dotted names.
TEXT_ATTRIBUTES = frozenset(
    {
        SpanAttributes.INPUT_VALUE,
        SpanAttributes.OUTPUT_VALUE,
        SpanAttributes.METADATA,
        SpanAttributes.LLM_INVOCATION_PARAMETERS,
        SpanAttributes.EMBEDDING_INVOCATION_PARAMETERS,
        SpanAttributes.LLM_PROMPT_TEMPLATE_VARIABLES,
        SpanAttributes.TOOL_PARAMETERS,
        "tool.json_schema",
    }
)
#: The same inside list items (``retrieval.documents.0.document.metadata``).
_TEXT_SUFFIXES = (
    "." + DocumentAttributes.DOCUMENT_METADATA,
    "." + ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON,
)


def _is_text(key: str) -> bool:
    return key in TEXT_ATTRIBUTES or key.endswith(_TEXT_SUFFIXES)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Attributes as OTLP carries them: nested objects as dotted names (``{"llm":
    {"model_name": m}}`` → ``llm.model_name``), lists of objects indexed
    (``llm.input_messages.0.message.role``), lists of plain values kept as lists."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # NumPy arrays from Parquet
    if _is_text(prefix) and isinstance(value, (Mapping, list, tuple)):
        out[prefix] = json.dumps(plain(value), ensure_ascii=False)
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}.{index}", out)
    elif not missing(value):
        out[prefix] = plain(value)


_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_BOOL = {"True": True, "False": False, "true": True, "false": False}


def _csv_cell(value: Any) -> Any:
    """A CSV cell as pandas wrote it: lists and objects as JSON or Python-repr text, numbers
    (``88.0`` in a column with blanks) and booleans as text. Strings that are neither stay."""
    value = structured(value)
    if not isinstance(value, str):
        return value
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return _BOOL.get(value, value)


def _normalised(row: Mapping[str, Any], text_cells: bool) -> dict[str, Any]:
    """The span's fields under one set of names, its attributes flat (dotted keys)."""
    if text_cells:
        row = {
            k: v if str(k).removeprefix("attributes.") in TEXT_ATTRIBUTES else _csv_cell(v)
            for k, v in row.items()
        }
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    context = row.get("context")
    if isinstance(context, Mapping):
        fields["trace_id"] = context.get("trace_id")
        fields["span_id"] = context.get("span_id")
    for key, value in row.items():
        key = str(key)
        if key.startswith("attributes."):
            _flatten(value, key[len("attributes.") :], attributes)
        elif key == "attributes":
            _flatten(json_text(value), "", attributes)
        elif key.startswith("context."):
            fields.setdefault(key[len("context.") :], value)
        elif key != "context":
            fields[key] = value
    fields["attributes"] = attributes
    return fields


def _events(value: Any, trace_id: str, span_id: str, where: str) -> list[SpanEvent]:
    value = json_text(value)
    if missing(value) or value == []:
        return []
    if not isinstance(value, list):
        raise TraceImportError(
            f"events are {type(value).__name__}, not a list",
            where=where,
            fix="export events as a list of {name, timestamp, attributes}",
        )
    events = []
    for event in value:
        if not isinstance(event, Mapping) or missing(event.get("timestamp")):
            raise TraceImportError(
                "an event is not an object with a name and a timestamp",
                where=where,
                fix="export events as a list of {name, timestamp, attributes}",
            )
        attributes: dict[str, Any] = {}
        _flatten(json_text(event.get("attributes")), "", attributes)
        events.append(
            SpanEvent(
                trace_id=trace_id,
                span_id=span_id,
                name=str(event.get("name") or "event"),
                time=timestamp(event["timestamp"], "event timestamp", where),
                source="event",
                attributes=attributes,
            )
        )
    return events


def phoenix_span(row: Any, where: str, *, text_cells: bool = False) -> SpanRecord:
    """One Phoenix span (a dataframe row or a span JSON object) as a span, mapped by the
    receiver's OpenInference mapping (:mod:`assay.trace.conventions`) with ``convention``
    ``phoenix``.

    ``where`` (``file:line``) names the row in errors; ``text_cells`` says its cells are text
    (CSV, where lists and objects are JSON or Python-repr text).
    """
    fields = _normalised(require_mapping(row, where, "a Phoenix span"), text_cells)
    for key in ("trace_id", "span_id"):
        if missing(fields.get(key)):
            raise TraceImportError(
                f"the span has no context.{key}",
                where=where,
                fix="export the spans dataframe with its context.trace_id and context.span_id",
            )
    trace_id, trace_changed = hex_id(fields["trace_id"], 32)
    span_id, span_changed = hex_id(fields["span_id"], 16)
    parent = fields.get("parent_id")
    parent_id, parent_changed = (None, False) if missing(parent) else hex_id(parent, 16)
    if missing(fields.get("start_time")):
        raise TraceImportError(
            "the span has no start_time", where=where, fix="export the start_time column"
        )
    start = timestamp(fields["start_time"], "start_time", where)
    end_value = fields.get("end_time")
    end = start if missing(end_value) else timestamp(end_value, "end_time", where)
    attributes: dict[str, Any] = fields["attributes"]
    span_kind = str(
        attributes.get(SpanAttributes.OPENINFERENCE_SPAN_KIND) or fields.get("span_kind") or ""
    ).upper()
    attributes[SpanAttributes.OPENINFERENCE_SPAN_KIND] = span_kind or "UNKNOWN"
    for changed, key, original in (
        (trace_changed, "phoenix.trace_id", fields["trace_id"]),
        (span_changed, "phoenix.span_id", fields["span_id"]),
        (parent_changed, "phoenix.parent_id", parent),
    ):
        if changed:
            attributes[key] = str(original)
    for name in (SpanAttributes.LLM_TOKEN_COUNT_PROMPT, SpanAttributes.LLM_TOKEN_COUNT_COMPLETION):
        count(attributes.get(name), name, where)  # a bad token count is an error, not a None
    amount(attributes.get(SpanAttributes.LLM_COST_TOTAL), SpanAttributes.LLM_COST_TOTAL, where)
    status = _STATUS.get(str(fields.get("status_code") or "").upper(), "unset")
    record = SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=str(fields.get("name") or span_kind.lower() or "span"),
        start_time=start,
        end_time=end,
        status=status,  # type: ignore[arg-type]
        status_message=text_or_none(fields.get("status_message")),
    )
    map_openinference(record, attributes)
    record.convention = CONVENTION
    record.session_id = text_or_none(attributes.get(SpanAttributes.SESSION_ID))
    record.user_id = text_or_none(attributes.get(SpanAttributes.USER_ID))
    record.attributes = attributes
    record.events = _events(fields.get("events"), trace_id, span_id, where)
    return record


def iter_phoenix(
    path: str | os.PathLike[str], *, batch_size: int = 1000
) -> Iterator[list[SpanRecord]]:
    """The spans of a Phoenix export as batches of at most ``batch_size`` spans, read row by
    row (Parquet, CSV and JSONL stream; a JSON array is read whole).

    Raises :class:`~assay.trace.importers.TraceImportError` (``where`` = ``file:line``) at the
    first bad row; batches before it have already been yielded.
    """
    export = read_export(path)
    batch: list[SpanRecord] = []
    for where, row in export.rows:
        batch.append(phoenix_span(row, where, text_cells=export.text_cells))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def looks_like(row: Mapping[str, Any]) -> bool:
    """Whether a row (its keys) is a Phoenix span."""
    context = row.get("context")
    if isinstance(context, Mapping) and "span_id" in context:
        return True
    return "context.span_id" in row or ("span_kind" in row and "start_time" in row)


__all__ = ["CONVENTION", "iter_phoenix", "looks_like", "phoenix_span"]
