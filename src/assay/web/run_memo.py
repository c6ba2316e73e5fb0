"""Values computed from stored runs, kept in memory while those runs are unchanged: the web
pages' comparison, sample pairs, manifests and usage totals are computed once per run pair, not
once per request (see :class:`RunMemo`)."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from assay.store import Store


class RunMemo:
    """Values computed from runs, kept while those runs are unchanged: a key is valid as long
    as every run it names has the same stored status, finish time and number of results (a
    resumed run changes its status and finish time; a running run its count; deleting a run's
    errors its count). Entries belong to one :class:`Store` object (held weakly); least
    recently used ones go first; thread-safe.

    Within ``with memo.snapshot():`` (one request) each run's state is read once."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._stores: weakref.WeakKeyDictionary[Store, OrderedDict[Hashable, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._snapshot: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
            "assay_run_states", default=None
        )

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read each run's state at most once inside the block (one page or API call)."""
        token = self._snapshot.set({})
        try:
            yield
        finally:
            self._snapshot.reset(token)

    def state(self, store: Store, run_ids: tuple[str, ...]) -> Hashable:
        """Each run's stored status, finish time and number of results, in one query (the
        count reads only the results index: a fraction of a millisecond)."""
        from sqlalchemy import func, select

        from assay.store.tables import results, runs

        known = self._snapshot.get()
        missing = [r for r in run_ids if known is None or r not in known]
        found: dict[str, Any] = {}
        if missing:
            n_results = (
                select(func.count())
                .where(results.c.run_id == runs.c.id)
                .correlate(runs)
                .scalar_subquery()
            )
            query = select(runs.c.id, runs.c.status, runs.c.finished_at, n_results).where(
                runs.c.id.in_(missing)
            )
            with store.engine.connect() as conn:
                found = {row[0]: tuple(row) for row in conn.execute(query)}
            if known is not None:
                known.update({r: found.get(r) for r in missing})
        return tuple(found[r] if r in found else (known or {}).get(r) for r in run_ids)

    def get(
        self, store: Store, run_ids: tuple[str, ...], key: Hashable, compute: Callable[[], Any]
    ) -> Any:
        full = (run_ids, key)
        try:
            hash(full)
        except TypeError:  # settings with a per-scorer mapping: not worth keying
            return compute()
        state = self.state(store, run_ids)
        with self._lock:
            entries = self._stores.setdefault(store, OrderedDict())
            hit = entries.get(full)
            if hit is not None and hit[0] == state:
                entries.move_to_end(full)
                return hit[1]
        value = compute()
        with self._lock:
            entries[full] = (state, value)
            entries.move_to_end(full)
            while len(entries) > self.size:
                entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._stores.clear()


MEMO = RunMemo()
