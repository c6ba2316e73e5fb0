"""An import holds its run's lease while it writes: renewed every batch, as the runner's
heartbeat renews it, so a long import is never listed as interrupted nor taken over."""

from __future__ import annotations

import pytest
from tests.importers.test_tools import PROMPTFOO

import assay.importers._write as write
from assay.core import StoreError
from assay.importers import import_file
from assay.store import Store


def test_the_lease_is_renewed_every_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write, "_BATCH", 1)
    seen: list[tuple[str, bool]] = []
    renew = store.renew_lease

    def counted(run_id: str) -> bool:
        ours = renew(run_id)
        lease = store.run_lease(run_id)
        seen.append((store.get_run(run_id).status, lease is not None and lease.live()))
        return ours

    monkeypatch.setattr(store, "renew_lease", counted)
    outcome = import_file(store, PROMPTFOO)
    assert len(seen) == outcome.n_results > 1  # one renewal a batch of one result
    assert seen == [("running", True)] * len(seen)  # never shown as interrupted meanwhile
    assert store.get_run(outcome.run_id).status == "completed"


def test_a_lost_lease_stops_the_import_without_completing_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "renew_lease", lambda run_id: False)
    with pytest.raises(StoreError, match=r"lost the lease of run .* while importing it"):
        import_file(store, PROMPTFOO)
    (info,) = store.list_runs()
    assert info.status != "completed"
