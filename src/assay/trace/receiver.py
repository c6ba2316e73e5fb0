"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1/logs`` (OTLP 1.x, "OTLP/HTTP").

Served inside ``assay serve`` (same process and token rules as the UI) and alone by
``assay collect``. A receiver keeps no state but the store, so several can run behind a load
balancer against one PostgreSQL.

Responses follow the specification:

- 200 with an ``Export…ServiceResponse`` in the request's encoding; spans that cannot be stored
  (no valid trace or span id) are counted in ``partial_success.rejected_spans`` with the reason.
  A span the store already holds (an exporter's retry) is accepted and stored once.
- 400 for a malformed body (truncated protobuf, invalid UTF-8, bad JSON, ids that are not hex),
  413 for a body over the limit or a gzip body that inflates past it, 415 for another media
  type or encoding. These are not retryable, and their body is a ``google.rpc.Status``.
- 429 with ``Retry-After`` when the writer is behind (its backlog is full) and 503 with
  ``Retry-After`` when the store is unavailable: the OTel exporters retry both, so a span is
  never silently dropped. The receiver answers 200 only after the batch is committed, so a
  receiver killed mid-stream loses nothing the exporter will not resend.

Writes go through one :class:`TraceWriter` thread per process, which commits whatever requests
are waiting as one transaction (group commit), as the run writer does.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assay.core import AssayError
from assay.store import Store
from assay.trace.ingest import IngestReport, store_spans
from assay.trace.otlp import JSON, MAX_BODY_BYTES, OTLPError, media_type

#: Spans (and log records) waiting for the writer before new requests get 429.
MAX_PENDING = 50_000
#: Seconds a client is asked to wait on 429/503.
RETRY_AFTER = 1


class Busy(Exception):
    """The writer's backlog is full: answer 429 with Retry-After."""


@dataclass
class _Job:
    spans: list[Any]
    events: list[Any]
    source: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[IngestReport]


class TraceWriter:
    """One writer thread per process: jobs queue up, each round commits all waiting jobs in
    one :func:`store_spans` transaction, and every job's future resolves after the commit.

    ``redact=False`` must be asked for explicitly; every batch then records it (and ``note``)
    in its redaction report.
    """

    def __init__(
        self,
        store: Store,
        *,
        redact: bool = True,
        note: str | None = None,
        max_pending: int = MAX_PENDING,
        max_batch: int = 20_000,
    ) -> None:
        self.store = store
        self.redact = redact
        self.note = note
        self.max_pending = max_pending
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stored = 0

    @property
    def pending(self) -> int:
        return self._pending

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="assay-trace-writer", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    async def write(self, spans: list[Any], events: list[Any], source: str) -> IngestReport:
        """Store ``spans`` and ``events``; returns after the commit. Raises :class:`Busy`
        when the backlog is full and the store's error when the commit failed."""
        size = len(spans) + len(events)
        with self._lock:
            if self._pending and self._pending + size > self.max_pending:
                raise Busy(f"{self._pending} spans are waiting to be written")
            self._pending += size
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestReport] = loop.create_future()
        self._queue.put(_Job(spans, events, source, loop, future))
        try:
            return await future
        finally:
            with self._lock:
                self._pending -= size

    def _run(self) -> None:
        stop = False
        while not stop:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            size = len(job.spans) + len(job.events)
            while size < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                size += len(more.spans) + len(more.events)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        spans = [s for job in jobs for s in job.spans]
        events = [e for job in jobs for e in job.events]
        sources = sorted({job.source for job in jobs})
        try:
            report = store_spans(
                self.store,
                spans,
                events,
                redact=self.redact,
                source="+".join(sources),
                note=self.note,
            )
        except Exception as error:  # every waiting request learns it failed (503, retried)
            for job in jobs:
                job.loop.call_soon_threadsafe(_set_exception, job.future, error)
            return
        self.stored += report.stored
        for job in jobs:
            job.loop.call_soon_threadsafe(_set_result, job.future, report)


def _set_result(future: asyncio.Future[IngestReport], report: IngestReport) -> None:
    if not future.done():
        future.set_result(report)


def _set_exception(future: asyncio.Future[IngestReport], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _status_body(kind: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` in the request's encoding (OTLP's error body)."""
    from google.rpc import status_pb2

    status = status_pb2.Status(code=code, message=message)
    if kind == JSON:
        import orjson

        return orjson.dumps({"code": code, "message": message})
    return bytes(status.SerializeToString())


# gRPC codes for the Status body (google.rpc.Code).
_RPC_CODES = {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}


def _error(kind: str, status: int, message: str) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER)} if status in (429, 503) else {}
    content_type = JSON if kind == JSON else "application/x-protobuf"
    body = _status_body(kind, _RPC_CODES.get(status, 2), message)
    return Response(body, status_code=status, media_type=content_type, headers=headers)


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OTLPError(413, f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OTLPError(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def otlp_router(writer: TraceWriter, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI router with ``POST /v1/traces`` and ``POST /v1/logs``."""
    from assay.trace.conventions import events_from_logs, spans_from_request
    from assay.trace.otlp import decode_logs, decode_traces, encode_response

    # Not in the app's OpenAPI schema: the OTLP specification is these routes' schema (their
    # bodies are protobuf or OTLP/JSON, not JSON models); tests/trace/test_receiver.py covers
    # every documented answer.
    router = APIRouter(tags=["otlp"], include_in_schema=False)

    async def receive(request: Request, logs: bool) -> Response:
        try:
            kind = media_type(request.headers.get("content-type"))
        except OTLPError as error:
            return _error(JSON, error.status, error.reason)
        try:
            body = await _read_body(request, max_body)
            encoding = request.headers.get("content-encoding")
            if logs:
                message = decode_logs(body, kind, encoding)
                spans: list[Any] = []
                events, problems = events_from_logs(message)
            else:
                message = decode_traces(body, kind, encoding)
                spans, events, problems = spans_from_request(message)
        except OTLPError as error:
            return _error(kind, error.status, error.reason)
        if spans or events:
            try:
                await writer.write(spans, events, "otlp-logs" if logs else "otlp")
            except Busy as busy:
                return _error(kind, 429, f"the writer is behind ({busy}); retry later")
            except (AssayError, Exception) as error:  # the store is unavailable: retryable
                first = str(error).splitlines()[0] if str(error) else type(error).__name__
                return _error(kind, 503, f"cannot store the batch now: {first}")
        reason = "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        content = encode_response(kind, len(problems), reason, logs=logs)
        return Response(content, media_type=kind)

    @router.post(
        "/v1/traces",
        summary="OTLP/HTTP trace export (protobuf or JSON, optionally gzip)",
        response_class=Response,
    )
    async def traces(request: Request) -> Response:
        return await receive(request, logs=False)

    @router.post(
        "/v1/logs",
        summary="OTLP/HTTP log export: GenAI events and evaluation results joined to their spans",
        response_class=Response,
    )
    async def logs(request: Request) -> Response:
        return await receive(request, logs=True)

    return router


def collector_app(
    store: Store, *, token: str | None = None, redact: bool = True, note: str | None = None
) -> Any:
    """The app of ``assay collect``: only the receiver (and ``GET /healthz``)."""
    from fastapi import FastAPI

    from assay import __version__
    from assay.web.auth import TokenGuard, check_token

    if token:
        check_token(token)
    app = FastAPI(title="assay collect", version=__version__, docs_url=None, redoc_url=None)
    writer = TraceWriter(store, redact=redact, note=note)
    app.state.trace_writer = writer
    app.include_router(otlp_router(writer))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "pending": writer.pending, "stored": writer.stored}

    app.router.on_shutdown.append(writer.close)
    if token:
        app.add_middleware(TokenGuard, token=token)
    return app
