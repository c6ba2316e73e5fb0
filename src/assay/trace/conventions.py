"""OTLP spans and log records → :class:`~assay.trace.model.SpanRecord`, whichever convention
the client followed.

Two conventions describe LLM calls, and real apps send both:

- the OpenTelemetry GenAI semantic conventions (``gen_ai.*``; attribute names from
  ``opentelemetry.semconv._incubating.attributes.gen_ai_attributes``): operation name, provider
  (``gen_ai.provider.name``, formerly ``gen_ai.system``), request and response model, usage
  tokens, finish reasons, and messages either as attributes (``gen_ai.input.messages`` /
  ``gen_ai.output.messages``, JSON with ``parts``) or as span events / log records
  (``gen_ai.user.message``, ``gen_ai.choice``, … and
  ``gen_ai.client.inference.operation.details``); tools as ``execute_tool`` spans;
  ``gen_ai.evaluation.result`` events carry evaluations computed elsewhere;
- OpenInference (names from ``openinference.semconv.trace.SpanAttributes``):
  ``openinference.span.kind``, ``llm.model_name``, ``llm.token_count.*``, flattened
  ``llm.input_messages.N.message.*``, ``input.value``/``output.value``,
  ``retrieval.documents.N.document.*``, ``tool.*``, ``session.id``, ``user.id``.

Both land in one model. Attributes whose content was mapped into a column (messages, input and
output values, retrieved documents) are not kept twice; every other attribute is kept in
``SpanRecord.attributes``, known or not. Values over :data:`MAX_VALUE_CHARS` characters are cut
and the span is flagged ``truncated`` with the keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from assay.trace.model import (
    EvalResult,
    RetrievedDocument,
    SpanEvent,
    SpanRecord,
    ToolCall,
    nanos_to_datetime,
)
from assay.trace.usage import apply_usage_details

#: Longest attribute string kept whole (characters); longer ones are cut and flagged.
MAX_VALUE_CHARS = 256 * 1024

_STATUS = {0: "unset", 1: "ok", 2: "error"}

_GENAI_KINDS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "invoke_workflow": "chain",
    "create_agent": "agent",
    "retrieval": "retrieval",
    "retrieve": "retrieval",
}

_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "CHAIN": "chain",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "EMBEDDING": "embedding",
    "TOOL": "tool",
    "AGENT": "agent",
    "GUARDRAIL": "other",
    "EVALUATOR": "other",
    "PROMPT": "other",
}

_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}

# -- OTLP values ---------------------------------------------------------------------------------


def any_value(value: Any) -> Any:
    """A Python value from an OTLP ``AnyValue`` (arrays → lists, kvlists → dicts, bytes → hex)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return None


def attributes_of(key_values: Iterable[Any], truncated: list[str] | None = None) -> dict[str, Any]:
    """OTLP ``KeyValue``s as a dict; strings over :data:`MAX_VALUE_CHARS` are cut (their keys
    appended to ``truncated``)."""
    out: dict[str, Any] = {}
    for kv in key_values:
        value = any_value(kv.value)
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS] + "…[truncated]"
            if truncated is not None:
                truncated.append(kv.key)
        out[kv.key] = value
    return out


def _hex(raw: bytes) -> str:
    return raw.hex()


# -- small coercions -----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _json_value(value: Any) -> Any:
    """A JSON string parsed, anything else unchanged (attributes often carry JSON as text)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenInference's flattened lists: ``prefix.0.a.b`` → ``[{"a.b": …}]`` (in index order)."""
    items: dict[int, dict[str, Any]] = {}
    start = len(prefix) + 1
    for key, value in attrs.items():
        if not key.startswith(prefix) or len(key) <= start or key[start - 1] != ".":
            continue
        head, _, rest = key[start:].partition(".")
        if not head.isdigit() or not rest:
            continue
        items.setdefault(int(head), {})[rest] = value
    return [items[i] for i in sorted(items)]


def _pop_prefix(attrs: dict[str, Any], prefix: str) -> None:
    for key in [k for k in attrs if k.startswith(prefix)]:
        del attrs[key]


# -- messages ------------------------------------------------------------------------------------


def _tool_call(raw: Any) -> dict[str, Any]:
    """A tool call in one shape: ``{"id", "name", "arguments"}``."""
    if not isinstance(raw, dict):
        return {"id": None, "name": None, "arguments": raw}
    function = raw.get("function") if isinstance(raw.get("function"), dict) else {}
    return {
        "id": raw.get("id"),
        "name": raw.get("name") or function.get("name"),
        "arguments": _json_value(raw.get("arguments", function.get("arguments"))),
    }


def genai_message(raw: Any) -> dict[str, Any]:
    """One GenAI message (the ``parts`` form of ``gen_ai.input.messages``, or the older
    ``{"role", "content", "tool_calls"}`` form) as ``{"role", "content", "tool_calls"?,
    "tool_call_id"?, "finish_reason"?}``."""
    if not isinstance(raw, dict):
        return {"role": "user", "content": _str(raw)}
    message: dict[str, Any] = {"role": raw.get("role") or "user"}
    parts = raw.get("parts")
    if isinstance(parts, list):
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in parts:
            if not isinstance(part, dict):
                texts.append(str(part))
                continue
            kind = part.get("type")
            if kind == "tool_call":
                calls.append(_tool_call(part))
            elif kind == "tool_call_response":
                message["tool_call_id"] = part.get("id")
                texts.append(_str(part.get("response", part.get("result"))) or "")
            elif "content" in part:
                texts.append(_str(part.get("content")) or "")
            else:
                texts.append(json.dumps(part, default=str))
        message["content"] = "\n".join(t for t in texts if t) if texts else None
        if calls:
            message["tool_calls"] = calls
    else:
        content = raw.get("content")
        message["content"] = (
            content if isinstance(content, (str, list)) or content is None else (_str(content))
        )
        if raw.get("tool_calls"):
            message["tool_calls"] = [_tool_call(c) for c in raw["tool_calls"]]
        if raw.get("tool_call_id") or (raw.get("id") and message["role"] == "tool"):
            message["tool_call_id"] = raw.get("tool_call_id") or raw.get("id")
    if raw.get("finish_reason"):
        message["finish_reason"] = raw["finish_reason"]
    return message


def genai_messages(value: Any) -> list[dict[str, Any]] | None:
    value = _json_value(value)
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return [{"role": "user", "content": _str(value)}]
    return [genai_message(m) for m in value]


def _openinference_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    rows = _indexed(attrs, prefix)
    if not rows:
        return None
    messages = []
    for row in rows:
        message: dict[str, Any] = {"role": row.get("message.role") or "user"}
        content = row.get("message.content")
        if content is None:
            parts = _indexed(row, "message.contents")
            texts = [p.get("message_content.text") for p in parts if p.get("message_content.text")]
            content = "\n".join(texts) if texts else None
        message["content"] = content
        calls = _indexed(row, "message.tool_calls")
        if calls:
            message["tool_calls"] = [
                {
                    "id": c.get("tool_call.id"),
                    "name": c.get("tool_call.function.name"),
                    "arguments": _json_value(c.get("tool_call.function.arguments")),
                }
                for c in calls
            ]
        if row.get("message.tool_call_id"):
            message["tool_call_id"] = row["message.tool_call_id"]
        messages.append(message)
    return messages


def _idempotency_key(*sources: Any) -> str | None:
    for source in sources:
        if isinstance(source, dict):
            for key, value in source.items():
                if key.lower().replace("-", "_").endswith("idempotency_key") and value:
                    return str(value)
    return None


def _requested_tool_calls(messages: list[dict[str, Any]] | None) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for message in messages or ():
        for call in message.get("tool_calls") or ():
            arguments = call.get("arguments")
            calls.append(
                ToolCall(
                    position=len(calls),
                    source="request",
                    tool=call.get("name"),
                    call_id=call.get("id"),
                    arguments=arguments,
                    idempotency_key=_idempotency_key(arguments),
                )
            )
    return calls


# -- events --------------------------------------------------------------------------------------


def _event_message(name: str, attrs: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """The messages a GenAI content event or log record carries (none for other events)."""
    if name in _MESSAGE_EVENTS:
        payload = body if isinstance(body, dict) else {"content": body}
        if "content" not in payload and "content" in attrs:
            payload = {**payload, "content": attrs["content"]}
        message = genai_message({"role": payload.get("role") or _MESSAGE_EVENTS[name], **payload})
        return [message]
    if name == "gen_ai.choice":
        payload = body if isinstance(body, dict) else {}
        inner = payload.get("message") if isinstance(payload.get("message"), dict) else payload
        message = genai_message({"role": "assistant", **inner})
        if payload.get("finish_reason"):
            message["finish_reason"] = payload["finish_reason"]
        return [message]
    return []


def evaluation_from(attrs: dict[str, Any], body: Any = None) -> EvalResult:
    """A ``gen_ai.evaluation.result`` event (attributes ``gen_ai.evaluation.name``,
    ``gen_ai.evaluation.score.value``, ``…score.label``, ``…explanation``,
    ``gen_ai.response.id``) as an :class:`EvalResult`."""
    data = {**(body if isinstance(body, dict) else {}), **attrs}
    return EvalResult(
        name=str(data.get("gen_ai.evaluation.name") or data.get("name") or "evaluation"),
        value=_float(data.get("gen_ai.evaluation.score.value", data.get("score"))),
        label=_str(data.get("gen_ai.evaluation.score.label", data.get("label"))),
        explanation=_str(data.get("gen_ai.evaluation.explanation", data.get("explanation"))),
        response_id=_str(data.get("gen_ai.response.id")),
        source="otel",
    )


# -- spans ---------------------------------------------------------------------------------------


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _document(rank: int, row: dict[str, Any]) -> RetrievedDocument:
    metadata = _json_value(row.get("document.metadata"))
    meta = metadata if isinstance(metadata, dict) else {}
    return RetrievedDocument(
        rank=rank,
        document_id=_str(row.get("document.id") or meta.get("document_id") or meta.get("doc_id")),
        chunk_id=_str(meta.get("chunk_id") or row.get("document.chunk_id")),
        score=_float(row.get("document.score")),
        content=_str(row.get("document.content")),
        document_version=_str(
            meta.get("document_version") or meta.get("version") or meta.get("doc_version")
        ),
        index_version=_str(meta.get("index_version")),
        embedding_version=_str(meta.get("embedding_version") or meta.get("embedding_model")),
    )


def _genai_documents(value: Any) -> list[RetrievedDocument]:
    value = _json_value(value)
    if not isinstance(value, list):
        return []
    docs = []
    for rank, raw in enumerate(value):
        if not isinstance(raw, dict):
            continue
        row = {f"document.{k}": v for k, v in raw.items() if k != "metadata"}
        row["document.metadata"] = raw.get("metadata") or {
            k: raw[k]
            for k in ("chunk_id", "document_version", "version", "index_version")
            if k in raw
        }
        docs.append(_document(rank, row))
    return docs


def map_span(
    span: Any, resource: dict[str, Any], scope_name: str | None = None
) -> tuple[SpanRecord, list[SpanEvent]]:
    """One OTLP ``Span`` as a :class:`SpanRecord`, and the span events it carries that are not
    mapped into its columns (kept in ``span_events``)."""
    truncated: list[str] = []
    attrs = attributes_of(span.attributes, truncated)
    trace_id = _hex(span.trace_id)
    span_id = _hex(span.span_id)
    start = nanos_to_datetime(span.start_time_unix_nano)
    end = nanos_to_datetime(span.end_time_unix_nano)
    record = SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=_hex(span.parent_span_id) or None,
        name=span.name,
        start_time=start,
        end_time=end,
        status=_STATUS.get(span.status.code, "unset"),  # type: ignore[arg-type]
        status_message=span.status.message or None,
        service=_str(resource.get("service.name")),
        resource=resource,
    )
    if span.end_time_unix_nano < span.start_time_unix_nano:
        record.flags["clock_skew"] = True
    response_body = attrs.get("output.value")  # OpenInference: may hold the usage block
    if "openinference.span.kind" in attrs:
        _map_openinference(record, attrs)
    elif any(key.startswith("gen_ai.") for key in attrs):
        _map_genai(record, attrs)
    else:
        record.kind = "other"
        record.convention = "otel"
    if record.kind in ("llm", "embedding"):
        apply_usage_details(record, attrs, response_body)
    record.session_id = record.session_id or _str(
        _first(attrs, "session.id", "gen_ai.conversation.id", "conversation.id")
    )
    record.user_id = record.user_id or _str(_first(attrs, "user.id", "enduser.id"))
    if scope_name:
        attrs.setdefault("otel.scope.name", scope_name)
    events: list[SpanEvent] = []
    for event in span.events:
        ev_attrs = attributes_of(event.attributes, truncated)
        name = event.name
        when = nanos_to_datetime(event.time_unix_nano or span.start_time_unix_nano)
        if name == "gen_ai.evaluation.result":
            record.evaluations.append(evaluation_from(ev_attrs))
            continue
        messages = _event_message(name, ev_attrs, _json_value(ev_attrs.get("body")))
        if messages:
            target = "output" if name == "gen_ai.choice" else "input"
            current = getattr(record, target)
            setattr(record, target, [*(current or []), *messages])
            if target == "output" and record.kind == "llm" and not record.tool_calls:
                record.tool_calls = _requested_tool_calls(record.output)
            continue
        if name == "exception" and record.status != "error":
            record.flags["exception"] = True
        events.append(SpanEvent(trace_id, span_id, name, when, "event", None, ev_attrs))
    if span.dropped_attributes_count:
        record.flags["dropped_attributes"] = span.dropped_attributes_count
    if truncated:
        record.flags["truncated"] = truncated
    record.attributes = attrs
    return record, events


def _map_genai(record: SpanRecord, attrs: dict[str, Any]) -> None:
    record.convention = "genai"
    operation = _str(attrs.get("gen_ai.operation.name"))
    record.operation = operation
    record.kind = _GENAI_KINDS.get(
        operation or "", "llm" if "gen_ai.request.model" in attrs else "other"
    )
    record.provider = _str(_first(attrs, "gen_ai.provider.name", "gen_ai.system"))
    record.model_requested = _str(attrs.get("gen_ai.request.model"))
    record.model_resolved = _str(attrs.get("gen_ai.response.model"))
    record.response_id = _str(attrs.get("gen_ai.response.id"))
    record.system_fingerprint = _str(
        _first(
            attrs,
            "gen_ai.openai.response.system_fingerprint",
            "openai.response.system_fingerprint",
            "gen_ai.response.system_fingerprint",
        )
    )
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    record.finish_reasons = [str(r) for r in reasons] if reasons else None
    record.input_tokens = _int(
        _first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    )
    record.output_tokens = _int(
        _first(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    )
    record.cost = _float(_first(attrs, "gen_ai.usage.cost", "gen_ai.usage.cost_usd"))
    # Messages: the current attributes, or the older gen_ai.prompt / gen_ai.completion JSON.
    messages_in = genai_messages(_first(attrs, "gen_ai.input.messages", "gen_ai.prompt"))
    system = _first(attrs, "gen_ai.system_instructions")
    if system is not None:
        parts = _json_value(system)
        text = (
            "\n".join(_str(p.get("content")) or "" for p in parts if isinstance(p, dict))
            if isinstance(parts, list)
            else _str(parts)
        )
        messages_in = [{"role": "system", "content": text}, *(messages_in or [])]
    messages_out = genai_messages(_first(attrs, "gen_ai.output.messages", "gen_ai.completion"))
    for key in (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
    ):
        attrs.pop(key, None)
    if record.kind == "tool":
        record.model_requested = record.model_resolved = None
        arguments = _json_value(attrs.pop("gen_ai.tool.call.arguments", None))
        result = _json_value(attrs.pop("gen_ai.tool.call.result", None))
        record.input = arguments
        record.output = result
        record.tool_calls = [
            ToolCall(
                position=0,
                source="execution",
                tool=_str(attrs.get("gen_ai.tool.name")),
                call_id=_str(attrs.get("gen_ai.tool.call.id")),
                arguments=arguments,
                result=result,
                error=record.status_message if record.status == "error" else None,
                idempotency_key=_str(attrs.get("gen_ai.tool.call.idempotency_key"))
                or _idempotency_key(arguments, attrs),
            )
        ]
        return
    if record.kind == "retrieval":
        docs = _genai_documents(attrs.pop("gen_ai.retrieval.documents", None))
        record.retrievals = docs
        record.input = _first(attrs, "gen_ai.retrieval.query.text", "gen_ai.retrieval.query")
        record.model_requested = record.model_requested or None
        return
    record.input = messages_in
    record.output = messages_out
    record.tool_calls = _requested_tool_calls(messages_out)


def _map_openinference(record: SpanRecord, attrs: dict[str, Any]) -> None:
    record.convention = "openinference"
    kind = str(attrs.get("openinference.span.kind", "")).upper()
    record.kind = _OPENINFERENCE_KINDS.get(kind, "other")
    record.operation = kind.lower() or None
    record.provider = _str(_first(attrs, "llm.provider", "llm.system"))
    params = _json_value(attrs.get("llm.invocation_parameters"))
    requested = params.get("model") if isinstance(params, dict) else None
    model = _first(attrs, "llm.model_name", "embedding.model_name")
    record.model_requested = _str(requested or model)
    record.model_resolved = _str(model)
    record.input_tokens = _int(attrs.get("llm.token_count.prompt"))
    record.output_tokens = _int(attrs.get("llm.token_count.completion"))
    record.cost = _float(_first(attrs, "llm.cost.total"))
    messages_in = _openinference_messages(attrs, "llm.input_messages")
    messages_out = _openinference_messages(attrs, "llm.output_messages")
    _pop_prefix(attrs, "llm.input_messages.")
    _pop_prefix(attrs, "llm.output_messages.")
    input_value = _json_value(attrs.pop("input.value", None))
    output_value = _json_value(attrs.pop("output.value", None))
    if record.kind == "llm":
        record.input = messages_in if messages_in is not None else input_value
        record.output = messages_out if messages_out is not None else output_value
        if isinstance(output_value, dict):
            choices = output_value.get("choices") or []
            reasons = [c.get("finish_reason") for c in choices if isinstance(c, dict)]
            record.finish_reasons = [str(r) for r in reasons if r] or None
            record.response_id = _str(output_value.get("id"))
            record.system_fingerprint = _str(output_value.get("system_fingerprint"))
        record.tool_calls = _requested_tool_calls(messages_out)
        return
    record.input = input_value
    record.output = output_value
    if record.kind == "retrieval":
        rows = _indexed(attrs, "retrieval.documents")
        _pop_prefix(attrs, "retrieval.documents.")
        record.retrievals = [_document(rank, row) for rank, row in enumerate(rows)]
        if kind == "RERANKER":
            rows = _indexed(attrs, "reranker.output_documents")
            _pop_prefix(attrs, "reranker.output_documents.")
            record.retrievals = [_document(rank, row) for rank, row in enumerate(rows)]
    elif record.kind == "tool":
        arguments = _json_value(attrs.get("tool.parameters")) or input_value
        record.tool_calls = [
            ToolCall(
                position=0,
                source="execution",
                tool=_str(attrs.get("tool.name")),
                call_id=_str(_first(attrs, "tool_call.id", "tool.id")),
                arguments=arguments,
                result=output_value,
                error=record.status_message if record.status == "error" else None,
                idempotency_key=_idempotency_key(
                    arguments if isinstance(arguments, dict) else None, attrs
                ),
            )
        ]


def _unmapped(
    span: Any, resource: dict[str, Any], error: Exception
) -> tuple[SpanRecord, list[SpanEvent]]:
    """The span with its raw attributes only, flagged, when the mapping itself failed."""
    record = SpanRecord(
        trace_id=_hex(span.trace_id),
        span_id=_hex(span.span_id),
        parent_id=_hex(span.parent_span_id) or None,
        name=span.name,
        start_time=nanos_to_datetime(span.start_time_unix_nano),
        end_time=nanos_to_datetime(span.end_time_unix_nano),
        status=_STATUS.get(span.status.code, "unset"),  # type: ignore[arg-type]
        service=_str(resource.get("service.name")),
        attributes=attributes_of(span.attributes),
        resource=resource,
        flags={"mapping_error": f"{type(error).__name__}: {error}"[:500]},
    )
    return record, []


def resource_attributes(resource: Any) -> dict[str, Any]:
    return attributes_of(resource.attributes)


def spans_from_request(request: Any) -> tuple[list[SpanRecord], list[SpanEvent], list[str]]:
    """Every span of an ``ExportTraceServiceRequest`` mapped, the span events kept as events,
    and the problems of spans that cannot be stored (rejected: no valid trace or span id)."""
    spans: list[SpanRecord] = []
    events: list[SpanEvent] = []
    problems: list[str] = []
    for resource_spans in request.resource_spans:
        resource = resource_attributes(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name or None
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or not any(span.trace_id):
                    problems.append(f"span {span.name!r}: trace id must be 16 non-zero bytes")
                    continue
                if len(span.span_id) != 8 or not any(span.span_id):
                    problems.append(f"span {span.name!r}: span id must be 8 non-zero bytes")
                    continue
                if span.parent_span_id and len(span.parent_span_id) != 8:
                    problems.append(f"span {span.name!r}: parent span id must be 8 bytes")
                    continue
                try:
                    record, extra = map_span(span, resource, scope)
                except Exception as error:  # a mapping bug must never lose the span
                    record, extra = _unmapped(span, resource, error)
                record.events.extend(extra)  # stored with the span, once, like the span
                spans.append(record)
    return spans, events, problems


def events_from_logs(request: Any) -> tuple[list[SpanEvent], list[str]]:
    """Log records of an ``ExportLogsServiceRequest`` that belong to a trace, as events.

    The GenAI conventions send message content (``gen_ai.user.message`` …), inference details
    and ``gen_ai.evaluation.result`` as log records carrying the span's trace and span ids; the
    event name is the record's ``event_name`` (OTLP 1.5+) or its ``event.name`` attribute. A
    record without a trace id cannot be joined to anything and is rejected (counted in the
    partial-success response, never silently dropped).
    """
    events: list[SpanEvent] = []
    problems: list[str] = []
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attrs = attributes_of(record.attributes)
                name = (
                    getattr(record, "event_name", "")
                    or _str(attrs.get("event.name"))
                    or scope_logs.scope.name
                    or "log"
                )
                if len(record.trace_id) != 16 or not any(record.trace_id):
                    problems.append(f"log record {name!r}: no trace id to join it to a trace")
                    continue
                body = any_value(record.body) if record.HasField("body") else None
                nanos = record.time_unix_nano or record.observed_time_unix_nano
                events.append(
                    SpanEvent(
                        trace_id=_hex(record.trace_id),
                        span_id=_hex(record.span_id) or None,
                        name=name,
                        time=nanos_to_datetime(nanos) if nanos else datetime.now().astimezone(),
                        source="log",
                        body=_json_value(body),
                        attributes=attrs,
                    )
                )
    return events, problems


def event_messages(event: SpanEvent) -> tuple[str, list[dict[str, Any]]]:
    """``("input"|"output", messages)`` that a stored event or log record carries, for readers
    that assemble a span's messages from its events."""
    if event.name == "gen_ai.client.inference.operation.details":
        attrs = event.attributes
        body = event.body if isinstance(event.body, dict) else {}
        merged = {**body, **attrs}
        inputs = genai_messages(merged.get("gen_ai.input.messages")) or []
        outputs = genai_messages(merged.get("gen_ai.output.messages")) or []
        return ("both", [*inputs, *outputs]) if inputs or outputs else ("input", [])
    messages = _event_message(event.name, event.attributes, event.body)
    return ("output" if event.name == "gen_ai.choice" else "input"), messages
