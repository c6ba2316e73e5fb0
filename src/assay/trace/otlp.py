"""Decoding OTLP/HTTP requests (OTLP 1.x specification, "OTLP/HTTP") with the
``opentelemetry-proto`` messages: never a hand-written parser.

- ``application/x-protobuf`` bodies are parsed with ``ExportTraceServiceRequest.FromString`` /
  ``ExportLogsServiceRequest.FromString`` (protobuf's upb runtime; it rejects truncated messages
  and invalid UTF-8 in string fields).
- ``application/json`` bodies are the OTLP/JSON encoding. It differs from protobuf's canonical
  JSON mapping in one dangerous way: ``traceId``, ``spanId`` and ``parentSpanId`` are written as
  hex, while ``google.protobuf.json_format`` reads ``bytes`` fields as base64 and would silently
  produce other ids (a 32-digit hex string is valid base64 of 24 bytes). :func:`_hex_ids_to_base64`
  converts them first, and rejects ids that are not hex of the right length.
- ``Content-Encoding: gzip`` bodies are inflated with a hard cap on the inflated size, so a
  gzip bomb costs at most ``max_inflated`` bytes of memory before it is refused with 413.

Errors are :class:`OTLPError` with the HTTP status the receiver answers (400 malformed,
413 too large, 415 unsupported media type or encoding).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import AssayError

#: Largest accepted request body as sent (compressed or not), and after inflating gzip.
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_INFLATED_BYTES = 64 * 1024 * 1024

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class OTLPError(Exception):
    """A request the receiver refuses: ``status`` is the HTTP status, ``reason`` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def media_type(content_type: str | None) -> str:
    """``application/json`` or ``application/x-protobuf`` from a Content-Type header (415
    otherwise; parameters such as ``charset`` are ignored)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    raise OTLPError(
        415,
        f"unsupported Content-Type {content_type!r}: OTLP/HTTP takes {PROTOBUF} or {JSON}",
    )


def inflate(body: bytes, encoding: str | None, *, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """The body with its Content-Encoding (``gzip`` or none) undone, refusing more than
    ``limit`` inflated bytes with 413 (a gzip bomb never gets further than that)."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        if len(body) > limit:
            raise OTLPError(413, f"body of {len(body)} bytes is over the {limit}-byte limit")
        return body
    if coding != "gzip":
        raise OTLPError(415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise OTLPError(400, f"body is not valid gzip: {error}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise OTLPError(413, f"gzip body inflates past the {limit}-byte limit")
    if not inflater.eof:
        raise OTLPError(400, "gzip body is truncated")
    return out


_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def _convert_id(value: Any, size: int, where: str) -> str:
    if not isinstance(value, str):
        raise OTLPError(400, f"{where} must be a hex string, got {type(value).__name__}")
    if value == "":
        return ""
    if len(value) != 2 * size:
        raise OTLPError(400, f"{where} must be {2 * size} hex digits, got {len(value)}")
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise OTLPError(400, f"{where} is not hex: {value[:40]!r}") from None
    return base64.b64encode(raw).decode("ascii")


def _hex_ids_to_base64(node: Any, where: str) -> None:
    """Rewrite OTLP/JSON's hex ids in place as base64, as ``json_format`` expects bytes."""
    if isinstance(node, dict):
        for key, value in node.items():
            size = _ID_FIELDS.get(key)
            if size is not None:
                node[key] = _convert_id(value, size, f"{where}.{key}")
            elif isinstance(value, (dict, list)) and key not in ("attributes", "body"):
                _hex_ids_to_base64(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _hex_ids_to_base64(item, f"{where}[{i}]")


def _parse_json(raw: bytes, message: Any) -> Any:
    import orjson
    from google.protobuf import json_format

    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise OTLPError(400, f"body is not valid JSON (UTF-8): {error}") from None
    if not isinstance(data, dict):
        raise OTLPError(400, "body must be a JSON object (an OTLP Export…ServiceRequest)")
    _hex_ids_to_base64(data, "$")
    try:
        return json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise OTLPError(400, f"body is not an OTLP/JSON request: {error}") from None


def _parse_protobuf(raw: bytes, message_type: Any) -> Any:
    from google.protobuf.message import DecodeError

    try:
        return message_type.FromString(raw)
    except DecodeError as error:
        raise OTLPError(400, f"body is not a valid OTLP protobuf message: {error}") from None


def decode_traces(body: bytes, content_type: str | None, encoding: str | None = None) -> Any:
    """An ``ExportTraceServiceRequest`` from an OTLP/HTTP request body."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    kind = media_type(content_type)
    raw = inflate(body, encoding)
    if kind == JSON:
        return _parse_json(raw, ExportTraceServiceRequest())
    return _parse_protobuf(raw, ExportTraceServiceRequest)


def decode_logs(body: bytes, content_type: str | None, encoding: str | None = None) -> Any:
    """An ``ExportLogsServiceRequest`` from an OTLP/HTTP request body."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    kind = media_type(content_type)
    raw = inflate(body, encoding)
    if kind == JSON:
        return _parse_json(raw, ExportLogsServiceRequest())
    return _parse_protobuf(raw, ExportLogsServiceRequest)


def encode_response(kind: str, rejected: int, message: str, *, logs: bool = False) -> bytes:
    """An ``Export…ServiceResponse`` in the request's encoding; with ``rejected`` > 0 it carries
    ``partial_success`` (rejected count and the reason), as OTLP 1.x asks."""
    if logs:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceResponse as Response,
        )
    else:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse as Response,
        )
    response = Response()
    if rejected or message:
        partial = response.partial_success
        if logs:
            partial.rejected_log_records = rejected
        else:
            partial.rejected_spans = rejected
        partial.error_message = message
    if kind == JSON:
        import orjson
        from google.protobuf import json_format

        return orjson.dumps(json_format.MessageToDict(response))
    return bytes(response.SerializeToString())


def iter_otlp_jsonl(path: str | Path, *, batch_spans: int = 2000) -> Iterator[list[Any]]:
    """Batches of :class:`~assay.trace.model.SpanRecord` from a JSONL file of OTLP/JSON: each
    line a ``ResourceSpans`` object, or a whole ``{"resourceSpans": [...]}`` request.

    Errors name ``file:line``. Spans map exactly as the receiver maps them, so importing the
    same calls gives the same stored trace as receiving them.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from assay.trace.conventions import spans_from_request

    path = Path(path)
    if not path.is_file():
        raise AssayError(f"no such file: {path}", where=str(path))
    batch: list[Any] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            text = line.strip()
            try:
                if not text.startswith(b"{"):
                    raise OTLPError(400, "a line must be a JSON object")
                wrapped = text if b'"resourceSpans"' in text[:200] else None
                if wrapped is None:
                    text = b'{"resourceSpans": [' + text + b"]}"
                request = _parse_json(text, ExportTraceServiceRequest())
                spans, _events, problems = spans_from_request(request)
            except OTLPError as error:
                raise AssayError(
                    error.reason,
                    where=f"{path}:{number}",
                    fix="each line must be an OTLP/JSON ResourceSpans object (ids in hex)",
                ) from None
            if problems:
                raise AssayError(
                    "; ".join(problems[:3]),
                    where=f"{path}:{number}",
                    fix="every span needs a 32-digit trace id and a 16-digit span id",
                )
            batch.extend(spans)
            if len(batch) >= batch_spans:
                yield batch
                batch = []
    if batch:
        yield batch
