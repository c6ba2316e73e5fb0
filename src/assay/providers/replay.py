"""Cassettes: recorded model responses replayed offline, with an expiry and a snapshot (A6).

A cassette is a JSONL file. The first line is a header::

    {"format": "assay-cassette/1", "model_snapshot": "gpt-4o-2024-08-06",
     "recorded_at": "2026-01-05T10:00:00Z", "expires_at": "2026-02-04T10:00:00Z"}

and every further line is one recorded call::

    {"request_hash": "...", "request": {"model", "messages", "params", "epoch", "seed"},
     "output": {...Output JSON...}}

Entries are keyed by ``request.request_hash()`` with the provider name left empty, so a
cassette recorded through a provider named ``openai`` replays under any provider name; the
requested model, messages, params, epoch and seed all take part in the key. When a hash occurs
twice the later line wins (re-recording appends). ``model_snapshot`` is the first resolved model
the recorder saw.

The ``request`` object is everything a real endpoint saw, so the contract check (A7) can send
it again; it is optional when reading (replay needs only the hash). The request's ``context``
(sample id, metadata, target) is deliberately not kept: no real provider sends it, and a
fixture should not carry a dataset's answer key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from assay.core import (
    CassetteMissError,
    ConfigError,
    ModelRequest,
    Output,
    StaleFixtureError,
)
from assay.providers.base import Provider

CASSETTE_FORMAT = "assay-cassette/1"
DEFAULT_TTL_DAYS = 30
_RECORD_FIX = "re-record with --record"


class CassetteHeader(BaseModel):
    """The first line of a cassette."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["assay-cassette/1"] = "assay-cassette/1"
    model_snapshot: str | None = None
    recorded_at: datetime
    expires_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "model_snapshot": self.model_snapshot,
                "recorded_at": _iso(self.recorded_at),
                "expires_at": _iso(self.expires_at),
            },
            ensure_ascii=False,
        )


def cassette_key(request: ModelRequest) -> str:
    """The key a request is stored under: ``request.request_hash()`` (provider name empty)."""
    return request.request_hash()


def entry_json(request: ModelRequest, output: Output) -> str:
    """One cassette line for a recorded call (the request's ``context`` is not kept)."""
    return json.dumps(
        {
            "request_hash": cassette_key(request),
            "request": {
                "model": request.model,
                "messages": [m.model_dump() for m in request.messages],
                "params": request.params,
                "epoch": request.epoch,
                "seed": request.seed,
            },
            "output": output.model_dump(mode="json"),
        },
        ensure_ascii=False,
    )


class Cassette:
    """A loaded cassette: its header, its outputs keyed by request hash, and the recorded
    requests (for entries that kept one) under the same keys, in file order."""

    def __init__(
        self,
        path: Path,
        header: CassetteHeader,
        outputs: dict[str, Output],
        requests: dict[str, ModelRequest] | None = None,
    ) -> None:
        self.path = path
        self.header = header
        self.outputs = outputs
        self.requests = requests if requests is not None else {}

    def __len__(self) -> int:
        return len(self.outputs)

    def __repr__(self) -> str:
        return (
            f"Cassette({str(self.path)!r}, model_snapshot={self.header.model_snapshot!r}, "
            f"entries={len(self.outputs)}, expires_at={_iso(self.header.expires_at)!r})"
        )

    def get(self, request: ModelRequest) -> Output | None:
        return self.outputs.get(cassette_key(request))

    def is_expired(self, now: datetime | None = None) -> bool:
        return _utc(now or datetime.now(UTC)) > self.header.expires_at

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette, raising ConfigError naming ``file:line`` for any malformed line."""
        path = Path(path)
        try:
            handle = path.open(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                "cassette file not found",
                where=str(path),
                fix=f"record one first ({_RECORD_FIX}) or check the path",
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read cassette: {exc}", where=str(path)) from exc
        header: CassetteHeader | None = None
        outputs: dict[str, Output] = {}
        requests: dict[str, ModelRequest] = {}
        with handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"cassette line is not valid JSON ({exc.msg})",
                        where=where,
                        fix=f"fix or delete the line, or {_RECORD_FIX}",
                    ) from exc
                if not isinstance(record, dict):
                    raise ConfigError("cassette line is not a JSON object", where=where)
                if header is None:
                    header = _parse_header(record, where)
                    continue
                key, output, request = _parse_entry(record, where)
                outputs[key] = output
                if request is not None:
                    requests[key] = request
                else:  # a later line without a request must not pair with an older request
                    requests.pop(key, None)
        if header is None:
            raise ConfigError(
                "cassette is empty (no header line)", where=str(path), fix=_RECORD_FIX
            )
        return cls(path, header, outputs, requests)

    @staticmethod
    def write(
        path: str | Path,
        entries: Iterable[tuple[ModelRequest, Output]],
        *,
        model_snapshot: str | None = None,
        ttl_days: float = DEFAULT_TTL_DAYS,
        recorded_at: datetime | None = None,
    ) -> Path:
        """Write a whole cassette at once (``model_snapshot`` defaults to the first resolved
        model among the outputs)."""
        entries = list(entries)
        if model_snapshot is None:
            model_snapshot = next((o.model for _, o in entries if o.model), None)
        header = new_header(model_snapshot, ttl_days=ttl_days, recorded_at=recorded_at)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            handle.write(header.to_json() + "\n")
            for request, output in entries:
                handle.write(entry_json(request, output) + "\n")
        return path


def new_header(
    model_snapshot: str | None,
    *,
    ttl_days: float = DEFAULT_TTL_DAYS,
    recorded_at: datetime | None = None,
) -> CassetteHeader:
    recorded = _utc(recorded_at or datetime.now(UTC)).replace(microsecond=0)
    return CassetteHeader(
        model_snapshot=model_snapshot,
        recorded_at=recorded,
        expires_at=recorded + timedelta(days=ttl_days),
    )


class ReplayProvider:
    """Answers from a cassette; never touches the network.

    Construction fails with :class:`StaleFixtureError` when the cassette has expired (at
    ``now``, default the current time) or when ``expected_snapshot`` differs from the snapshot
    it was recorded against. A request with no recorded response raises
    :class:`CassetteMissError`. Returned outputs are copies marked ``metadata["replayed"]``.
    """

    def __init__(
        self,
        cassette_path: str | Path,
        name: str = "replay",
        expected_snapshot: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self.name = name
        self.cassette = Cassette.load(cassette_path)
        self.path = self.cassette.path
        header = self.cassette.header
        now = _utc(now or datetime.now(UTC))
        if now > header.expires_at:
            raise StaleFixtureError(
                f"cassette recorded {_iso(header.recorded_at)} expired at "
                f"{_iso(header.expires_at)}",
                where=str(self.path),
                fix=f"{_RECORD_FIX} to refresh it against the live model",
            )
        if expected_snapshot is not None and expected_snapshot != header.model_snapshot:
            raise StaleFixtureError(
                f"cassette was recorded against model snapshot {header.model_snapshot!r} but "
                f"{expected_snapshot!r} is expected",
                where=str(self.path),
                fix=f"{_RECORD_FIX} against {expected_snapshot!r}",
            )

    def __repr__(self) -> str:
        return f"ReplayProvider(name={self.name!r}, cassette={str(self.path)!r})"

    async def generate(self, request: ModelRequest) -> Output:
        key = cassette_key(request)
        output = self.cassette.outputs.get(key)
        if output is None:
            raise CassetteMissError(
                f"no recorded response for model {request.model!r} (request hash {key})",
                where=str(self.path),
                fix=f"{_RECORD_FIX} to add the missing calls",
            )
        copy = output.model_copy(deep=True)
        copy.metadata["replayed"] = True
        return copy

    async def aclose(self) -> None:
        return None


class RecordingProvider:
    """Wraps a provider and appends every successful response to a cassette.

    The header is written lazily with the first entry (its ``model_snapshot`` is that entry's
    resolved model) and every entry is flushed as it is written, so an interrupted run leaves a
    valid cassette. ``mode="overwrite"`` (the default) starts a fresh cassette on the first
    write; ``mode="append"`` keeps an existing cassette's header and entries and adds to them.
    Failed calls are not recorded. ``name`` defaults to the inner provider's name so cache keys
    do not change when recording is switched on.
    """

    def __init__(
        self,
        inner: Provider,
        cassette_path: str | Path,
        ttl_days: float = DEFAULT_TTL_DAYS,
        name: str | None = None,
        *,
        mode: Literal["overwrite", "append"] = "overwrite",
        now: datetime | None = None,
    ) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.path = Path(cassette_path)
        self.ttl_days = ttl_days
        self.mode = mode
        self._now = now
        self._handle: IO[str] | None = None
        self.recorded = 0

    def __repr__(self) -> str:
        return f"RecordingProvider(inner={self.inner!r}, cassette={str(self.path)!r})"

    def _open(self, output: Output) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.mode == "append" and self.path.exists() and self.path.stat().st_size > 0:
            Cassette.load(self.path)  # refuse to append to a malformed cassette
            handle = self.path.open("a", encoding="utf-8")
        else:
            handle = self.path.open("w", encoding="utf-8")
            header = new_header(output.model, ttl_days=self.ttl_days, recorded_at=self._now)
            handle.write(header.to_json() + "\n")
        return handle

    async def generate(self, request: ModelRequest) -> Output:
        output = await self.inner.generate(request)
        # No await between opening and writing: concurrent calls never interleave lines.
        if self._handle is None:
            self._handle = self._open(output)
        self._handle.write(entry_json(request, output) + "\n")
        self._handle.flush()
        self.recorded += 1
        return output

    async def aclose(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
        await self.inner.aclose()


# -- parsing helpers --------------------------------------------------------------------------


def _parse_header(record: dict[str, Any], where: str) -> CassetteHeader:
    if record.get("format") != CASSETTE_FORMAT:
        raise ConfigError(
            f"not an assay cassette: the first line must be a header with "
            f"format {CASSETTE_FORMAT!r} (found {record.get('format')!r})",
            where=where,
            fix=_RECORD_FIX,
        )
    try:
        header = CassetteHeader.model_validate(record)
    except ValidationError as exc:
        raise ConfigError(f"bad cassette header: {_first_error(exc)}", where=where) from exc
    header.recorded_at = _utc(header.recorded_at)
    header.expires_at = _utc(header.expires_at)
    return header


def _parse_entry(record: dict[str, Any], where: str) -> tuple[str, Output, ModelRequest | None]:
    key = record.get("request_hash")
    if not isinstance(key, str) or not key:
        raise ConfigError("cassette entry has no request_hash", where=where)
    if "output" not in record:
        raise ConfigError("cassette entry has no output", where=where)
    try:
        output = Output.model_validate(record["output"])
    except ValidationError as exc:
        raise ConfigError(f"bad cassette entry: {_first_error(exc)}", where=where) from exc
    request = None
    if record.get("request") is not None:
        try:
            request = ModelRequest.model_validate(record["request"])
        except ValidationError as exc:
            raise ConfigError(
                f"bad cassette request: {_first_error(exc)}",
                where=where,
                fix=f"fix or delete the line, or {_RECORD_FIX}",
            ) from exc
    return key, output, request


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")
