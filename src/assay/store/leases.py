"""Run leases: which process may write a running run, renewed by a heartbeat.

A run marked ``running`` is owned by whoever holds its lease: an owner id (host, pid and a
random token, so a reused pid or PID 1 in another container is a different owner) and an
expiry. The runner renews the lease every third of its TTL; a process that dies stops renewing,
and once the expiry passes the run is ``interrupted`` and may be resumed from any host that
shares the store. On the owner's own host a lease whose process is gone is treated as expired
at once (a fast path only: the expiry is the authority everywhere else).

**Where the lease lives.** The ``runs`` table has ``pid``/``hostname`` but no expiry, and new
columns would need a migration. The lease is therefore a row of the existing key-value table
``store_settings``: key ``run_lease:<run id>``, value ``"<expiry, ms since the epoch, 15
digits> <owner>"``. The fixed-width digits compare as text in the same order as numbers on
both backends, so one ``UPDATE … WHERE key = :key AND (expiry < :now OR owner = :me)`` claims
an expired lease atomically; its row count says whether this process won.

Clocks: the expiry is written with the owner's clock and compared with the claimer's, so hosts
sharing a store need clocks within a small part of the TTL (NTP does that).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, String, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from assay.core import AssayError, StoreError
from assay.store.tables import runs, store_settings

#: How long a lease lasts without renewal, unless ``ASSAY_RUN_LEASE_TTL`` says otherwise.
DEFAULT_TTL_S = 30.0
TTL_ENV = "ASSAY_RUN_LEASE_TTL"
KEY_PREFIX = "run_lease:"
_DIGITS = 15
_TOKEN = secrets.token_hex(4)


def lease_ttl() -> float:
    """The lease TTL in seconds: ``$ASSAY_RUN_LEASE_TTL`` or 30."""
    text = os.environ.get(TTL_ENV)
    if text is None or not text.strip():
        return DEFAULT_TTL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 10**6:
        raise AssayError(
            f"{TTL_ENV}={text!r} is not a number of seconds",
            where=TTL_ENV,
            fix=f"set it to a positive number of seconds (default {DEFAULT_TTL_S:g}), or unset it",
        )
    return value


def this_owner() -> str:
    """This process's owner id: ``host:pid:token`` (the pid is read now, so a fork differs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def lease_key(run_id: str) -> str:
    return KEY_PREFIX + run_id


def lease_column():  # type: ignore[no-untyped-def]
    """A column (``lease``) with the lease value of each row of ``runs`` in a query."""
    key = literal(KEY_PREFIX, String) + runs.c.id
    return (
        select(store_settings.c.value)
        .where(store_settings.c.key == key)
        .scalar_subquery()
        .label("lease")
    )


@dataclass(frozen=True)
class RunLease:
    """A run's lease as stored: who holds it and until when (ms since the epoch)."""

    owner: str
    expires_ms: int

    @classmethod
    def parse(cls, value: str | None) -> RunLease | None:
        if not value or len(value) < _DIGITS + 2 or not value[:_DIGITS].isdigit():
            return None
        return cls(value[_DIGITS + 1 :], int(value[:_DIGITS]))

    def value(self) -> str:
        return f"{self.expires_ms:0{_DIGITS}d} {self.owner}"

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires_ms / 1000, UTC)

    @property
    def host(self) -> str:
        """The host of the owner (``host:pid:token``, :func:`this_owner`)."""
        return self.owner.rpartition(":")[0].rpartition(":")[0]

    def live(self, now_ms: int | None = None) -> bool:
        """Whether the lease still holds: not expired, and (on its own host) its process lives."""
        if self.expires_ms <= (now_ms if now_ms is not None else _now_ms()):
            return False
        pid = self.owner.rpartition(":")[0].rpartition(":")[2]
        local = self.host == socket.gethostname() and pid.isdigit()
        return not local or _pid_alive(int(pid))

    def describe(self) -> str:
        return f"{self.owner} until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC"


class RunLeasedError(StoreError):
    """Raised when a run is claimed while another live process holds its lease."""

    code = "run_leased"


def leased_error(run_id: str, lease: RunLease) -> RunLeasedError:
    return RunLeasedError(
        f"run {run_id} is still running: its lease is held by {lease.describe()}",
        fix="wait for it to finish; if that process is gone the run can be resumed once the "
        f"lease expires (it is renewed every {lease_ttl() / 3:g} s while the run is alive), "
        "or start a separate run with --new",
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists on this host (``True`` when that cannot be told)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def read_lease(conn: Connection, run_id: str) -> RunLease | None:
    row = conn.execute(
        select(store_settings.c.value).where(store_settings.c.key == lease_key(run_id))
    ).first()
    return None if row is None else RunLease.parse(row.value)


def claim(conn: Connection, run_id: str, ttl: float, owner: str | None = None) -> None:
    """Take run ``run_id``'s lease for ``owner`` (this process) for ``ttl`` seconds, inside the
    caller's write transaction, or raise :class:`RunLeasedError` naming the live holder.

    One conditional UPDATE takes a lease that expired, is already ours, or (seen just before)
    belongs to a dead process on this host; its row count says whether it did, so of two
    claimers racing for an expired lease exactly one wins. With no lease row, an INSERT claims
    it; a concurrent INSERT loses on the primary key."""
    owner = owner or this_owner()
    now = _now_ms()
    key = lease_key(run_id)
    new = RunLease(owner, now + int(ttl * 1000)).value()
    seen = read_lease(conn, run_id)
    conditions = [
        func.substr(store_settings.c.value, 1, _DIGITS) < f"{now:0{_DIGITS}d}",
        func.substr(store_settings.c.value, _DIGITS + 2) == owner,
    ]
    if seen is not None and not seen.live(now):  # a dead local process: take exactly that one
        conditions.append(store_settings.c.value == seen.value())
    taken = conn.execute(
        update(store_settings)
        .where(store_settings.c.key == key, or_(*conditions))
        .values(value=new)
    )
    if taken.rowcount == 1:
        return
    held = read_lease(conn, run_id)
    if held is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(store_settings), [{"key": key, "value": new}])
            return
        except IntegrityError:
            held = read_lease(conn, run_id)
    if held is None:  # pragma: no cover - inserted and deleted between two statements
        raise StoreError(f"cannot claim run {run_id}: its lease changed while claiming it")
    raise leased_error(run_id, held)


def renew(conn: Connection, run_id: str, ttl: float, owner: str | None = None) -> bool:
    """Extend our lease by ``ttl`` from now; ``False`` if it is no longer ours."""
    owner = owner or this_owner()
    updated = conn.execute(
        update(store_settings)
        .where(
            store_settings.c.key == lease_key(run_id),
            func.substr(store_settings.c.value, _DIGITS + 2) == owner,
        )
        .values(value=RunLease(owner, _now_ms() + int(ttl * 1000)).value())
    )
    return updated.rowcount == 1


def release(conn: Connection, run_id: str, *, owner: str | None = None) -> None:
    """Drop run ``run_id``'s lease when it is ours (``owner``, else this process) or not live.

    Raises :class:`RunLeasedError` when another process holds it live (it took the run over
    after our lease expired, and only it may finish the run)."""
    owner = this_owner() if owner is None else owner
    held = read_lease(conn, run_id)
    if held is None:
        return
    if held.owner != owner and held.live():
        raise leased_error(run_id, held)
    conn.execute(
        delete(store_settings).where(
            store_settings.c.key == lease_key(run_id), store_settings.c.value == held.value()
        )
    )
