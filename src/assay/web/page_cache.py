"""Rendered pages kept in memory while the store is unchanged, with conditional requests.

A page that opts in (its handler calls :func:`cacheable`) is rendered once per **store data
version** and served from memory until that version changes, or until the earliest moment its
rendering could change without a write (a run lease expiring). Each entry holds the page and
its gzip-compressed body, so a hit does no rendering, no SQL beyond the version check and no
compression. Every cached page carries a weak ``ETag`` (a hash of the page) and
``Cache-Control: no-cache``, so browsers revalidate each visit and an ``If-None-Match`` that
matches gets ``304 Not Modified`` (RFC 9110 §8.8.3, §13.1.2, §15.4.5).

**Why a hit is never stale.** The key is the method (GET only), the path and the query string.
Nothing else a cached page reads from the request can vary: the handlers that opt in read only
the path and the query, and the access token (:class:`assay.web.auth.TokenGuard`) is checked
outside this middleware, one token for every client, so every client that reaches it sees the
same pages. An entry also records the data version read *before* its page was rendered, and a
lookup serves it only if the version read now is the same:

- **SQLite**: ``PRAGMA data_version`` on a connection of its own that never writes. SQLite
  changes the value a connection sees whenever *another* connection, in this process or any
  other, has committed since that connection last looked (https://sqlite.org/pragma.html#pragma_data_version),
  and a connection that never writes sees every commit as another's. The pragma reads the same
  WAL index that makes a commit visible to new readers, so a commit the render could have
  missed changes the version for every later request. The connection is guarded by a lock;
  a check costs microseconds (it waits at most 100 ms for a lock, then the request goes
  through uncached). An in-memory database has one connection shared by every
  reader and writer, whose own commits do not change the value: it is never cached.
- **PostgreSQL**: ``pg_current_snapshot()`` (text ``xmin:xmax:xip_list``,
  https://www.postgresql.org/docs/current/functions-info.html#FUNCTIONS-PG-SNAPSHOT), on its
  own autocommit connection. Every write transaction has a transaction id, and its commit
  either moves ``xmax`` or takes the id out of the in-progress list, so two equal snapshots
  mean the same set of committed transactions: what a query can see. A WAL position
  (``pg_current_wal_lsn``) was rejected: a commit's WAL record is written *before* the commit
  becomes visible (and, with ``synchronous_commit=off``, written out after it), so a page
  rendered in between would be keyed with a position that never moves again and served stale.
  The function needs no privilege (checked as a role with none). Transaction ids are counted
  for the whole cluster, so writes to other databases only cause misses, which is safe.

If the version cannot be read (the database is down), the request goes through uncached.
A page rendered while a write lands is stored under the older version and so never served.

**Time.** One thing a page shows changes with the clock alone: a run stored as ``running`` is
shown as ``interrupted`` once its lease expires (:mod:`assay.store.leases`), with no write. So
an entry expires at the earliest expiry of any lease in the store that was live when its render
began (checked for the whole store, not per page, so no page can show a run this check misses;
an entry whose deadline passed while it rendered is not kept), and nothing is cached while a
process of this host holds a live lease, since there the owner's death alone makes the run
interrupted (:meth:`~assay.store.leases.RunLease.live`). No other figure on the pages that opt
in reads the clock: costs are priced at the date each result was stored, and labels and
summaries come from the store. A page that came to show the current time would have to stop
calling :func:`cacheable`.

Only successful (200) GET responses of opted-in pages without ``Set-Cookie`` are stored, and
memory is bounded: least recently used entries go first once the bodies exceed
``max_bytes`` (``ASSAY_PAGE_CACHE_MB``, default 64; 0 turns the cache off).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.core import AssayError
from assay.store import Store

#: The environment variable that sizes the cache, in megabytes (0 turns it off).
SIZE_ENV = "ASSAY_PAGE_CACHE_MB"
DEFAULT_MB = 64.0
#: Where a request carries its :class:`_Request` (read by :func:`cacheable`).
SCOPE_KEY = "assay.page_cache"
#: Bodies smaller than this are not compressed (the app's ``GZipMiddleware`` minimum).
GZIP_MINIMUM = 1000
#: zlib's default level: on these pages within 3% of level 9's size (``GZipMiddleware``'s) in
#: 40-50% of its time (65 KB runs list: 6,667 bytes either way, 0.6 ms against 1.3 ms).
GZIP_LEVEL = 6
_DROPPED = {b"content-length", b"content-encoding", b"vary", b"etag", b"cache-control"}


def cache_size(default_mb: float = DEFAULT_MB) -> int:
    """The cache's size in bytes: ``$ASSAY_PAGE_CACHE_MB`` megabytes, or ``default_mb``."""
    text = os.environ.get(SIZE_ENV, "").strip()
    if not text:
        return int(default_mb * 2**20)
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not 0 <= mb <= 1e6 or math.isnan(mb):
        raise AssayError(
            f"{SIZE_ENV}={text!r} is not a number of megabytes",
            where=SIZE_ENV,
            fix=f"set it to a size such as 64 (the default {DEFAULT_MB:g}), or 0 to turn it off",
        )
    return int(mb * 2**20)


def cacheable(request: Any) -> None:
    """Let this response be cached (a page handler calls it once its page is built): the page
    must depend only on the request's path and query and on the store."""
    pending = request.scope.get(SCOPE_KEY)
    if pending is not None:
        pending.cacheable = True


class StoreVersion:
    """The store's data version (see the module docstring): equal values mean no commit in
    between. ``read()`` is ``None`` when there is no such signal or it cannot be read."""

    def __init__(self, store: Store) -> None:
        self._engine = store.engine
        self.dialect = self._engine.dialect.name
        self._lock = threading.Lock()
        self._conn: Any = None
        database = self._engine.url.database or ""
        in_memory = self.dialect == "sqlite" and (
            database in ("", ":memory:") or "mode=memory" in str(self._engine.url)
        )
        self.supported = self.dialect in ("sqlite", "postgresql") and not in_memory
        self._query = (
            "PRAGMA data_version"
            if self.dialect == "sqlite"
            else "SELECT pg_current_snapshot()::text"
        )

    def _connect(self) -> Any:
        pooled = self._engine.raw_connection()
        pooled.detach()  # ours alone, never returned to the pool (which may write with it)
        conn = pooled.dbapi_connection
        assert conn is not None  # a checked-out connection has its DBAPI connection
        if self.dialect == "sqlite":  # checked on the event loop: never wait out a lock there
            conn.execute("PRAGMA busy_timeout=100")
        if self.dialect == "postgresql":
            conn.rollback()
            conn.autocommit = True
        return conn

    def read(self) -> Any:
        if not self.supported:
            return None
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor = self._conn.cursor()
                try:
                    cursor.execute(self._query)
                    return cursor.fetchone()[0]
                finally:
                    cursor.close()
            except Exception:  # the database went away: no version, so nothing is cached
                self._close()
                return None

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a connection that already broke
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


def lease_deadline(store: Store, since: float) -> float | None:
    """The earliest moment (seconds since the epoch) at which a page rendered from ``since``
    on could change without a write: the expiry of a lease that was live at ``since`` (the
    run it holds may have been shown as ``running``; after the expiry it is ``interrupted``).
    ``math.inf`` when there is none, ``None`` when such a lease belongs to a process of this
    host (whose death alone interrupts the run, at no predictable time). A lease that had
    expired by ``since`` changes nothing: its run was shown interrupted and stays so until a
    write."""
    import socket

    from sqlalchemy import select

    from assay.store.leases import RunLease, lease_column
    from assay.store.tables import runs

    since_ms = since * 1000
    host = socket.gethostname()
    deadline = math.inf
    with store.engine.connect() as conn:
        lease = lease_column()  # type: ignore[no-untyped-call]
        rows = conn.execute(select(lease).where(runs.c.status == "running")).all()
    for (value,) in rows:
        held = RunLease.parse(value)
        if held is None or held.expires_ms <= since_ms:
            continue  # interrupted until someone writes a new lease
        if held.host == host:
            return None
        deadline = min(deadline, held.expires_ms / 1000)
    return deadline


@dataclass
class _Request:
    """Set on a request's scope; the handler marks it :func:`cacheable`."""

    cacheable: bool = False


@dataclass(frozen=True)
class Entry:
    """One cached page: its version and deadline, headers, ETag and both bodies."""

    version: Any
    deadline: float
    headers: tuple[tuple[bytes, bytes], ...]
    etag: str
    body: bytes
    gzipped: bytes | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 256


def _etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` against ``etag`` by weak comparison (RFC 9110 §13.1.2, §8.8.3.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def _compress(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class PageCache:
    """The cached pages of one store: entries by path and query, least recently used first,
    bounded by ``max_bytes``; thread-safe. :class:`PageCacheMiddleware` serves them."""

    def __init__(self, store: Store, max_bytes: int | None = None) -> None:
        self.store = store
        self.max_bytes = cache_size() if max_bytes is None else max_bytes
        self.version = StoreVersion(store)
        self._entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.version.supported

    def get(self, key: tuple[str, bytes], version: Any) -> Entry | None:
        """The entry for ``key`` if it was rendered at ``version`` and has not expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or time.time() >= entry.deadline:
                self._bytes -= self._entries.pop(key).size
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, bytes], entry: Entry) -> None:
        if entry.size > self.max_bytes or entry.deadline <= time.time():
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def entry(self, start: Message, body: bytes, version: Any, since: float) -> Entry:
        """A response (its start message and body), rendered at ``version`` from ``since`` on,
        as an entry: with its ETag, its gzip body, and the store's lease deadline
        (:func:`lease_deadline`)."""
        deadline = lease_deadline(self.store, since)
        headers = tuple((k, v) for k, v in start.get("headers", []) if k.lower() not in _DROPPED)
        return Entry(
            version=version,
            deadline=-math.inf if deadline is None else deadline,
            headers=headers,
            etag='W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"',
            body=body,
            gzipped=_compress(body) if len(body) >= GZIP_MINIMUM else None,
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        self.clear()
        self.version.close()


class PageCacheMiddleware:
    """ASGI middleware serving opted-in pages from a :class:`PageCache` (see the module
    docstring). Put it inside the token check, so that only authorised requests reach it."""

    def __init__(self, app: ASGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def _read_version(self) -> Any:
        version = self.cache.version
        if version.dialect == "sqlite":
            return version.read()  # microseconds: not worth a thread
        import anyio.to_thread

        return await anyio.to_thread.run_sync(version.read)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not self.cache.enabled
            or b"token=" in query  # a token in the address bar: TokenGuard sets a cookie
        ):
            await self.app(scope, receive, send)
            return
        version = await self._read_version()
        if version is None:
            await self.app(scope, receive, send)
            return
        key = (scope["path"], query)
        entry = self.cache.get(key, version)
        if entry is not None:
            self.cache.hits += 1
            await _send(entry, scope, send)
            return
        await self._render(scope, receive, send, key, version)

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[str, bytes], version: Any
    ) -> None:
        import anyio.to_thread

        pending = _Request()
        scope[SCOPE_KEY] = pending
        since = time.time()  # before the page reads any lease
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def capture(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                buffering = (
                    pending.cacheable
                    and message["status"] == 200
                    and b"set-cookie" not in names
                    and b"content-encoding" not in names
                )
                if buffering:
                    start = message
                    return
            elif buffering and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                buffering = message.get("more_body", False)
                return
            await send(message)

        await self.app(scope, receive, capture)
        if start is None:
            return  # not cacheable: sent as it came
        self.cache.misses += 1
        # SQL (the lease deadline) and compression: off the event loop
        body = b"".join(chunks)
        entry = await anyio.to_thread.run_sync(self.cache.entry, start, body, version, since)
        self.cache.put(key, entry)
        await _send(entry, scope, send)


async def _send(entry: Entry, scope: Scope, send: Send) -> None:
    """The entry as a response: 304 when the request's ``If-None-Match`` matches its ETag,
    else the gzip body to a client that accepts gzip and the page itself to others."""
    request = Headers(scope=scope)
    headers = [*entry.headers, (b"etag", entry.etag.encode()), (b"cache-control", b"no-cache")]
    vary = [(b"vary", b"Accept-Encoding")] if entry.gzipped is not None else []
    if _etag_matches(request.get("if-none-match"), entry.etag):
        # RFC 9110 §15.4.5: a 304 carries the validators and caching headers of the 200
        keep = {b"etag", b"cache-control", b"content-location", b"date", b"expires"}
        headers = [(k, v) for k, v in headers if k.lower() in keep] + vary
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = entry.body
    if entry.gzipped is not None and "gzip" in request.get("accept-encoding", ""):
        body = entry.gzipped
        headers += [(b"content-encoding", b"gzip"), *vary]
    # (an uncompressed body gets its Vary from the app's GZipMiddleware, which wraps this one)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
