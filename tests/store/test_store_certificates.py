"""Judge certificates in the store, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from assay.core import CheckResult, JudgeCertificate, StoreError, judge_key
from assay.store import Store


def _certificate(cid: str, model: str, minutes: int, flag: str | None) -> JudgeCertificate:
    check = CheckResult(
        check="canary_constant",
        figure=0.3 if flag else 0.0,
        low=0.2 if flag else 0.0,
        high=0.4 if flag else 0.02,
        n=200,
        verdict="fail" if flag else "pass",
        flag=flag,
        message="m",
    )
    return JudgeCertificate(
        id=cid,
        judge=model,
        judge_key=judge_key(model, "h", {"temperature": 0}),
        model=model,
        created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        checks=[check],
        anchor_scores={"a1": 7.0, "a2": 3.5},
    )


def test_certificates_round_trip_newest_first_and_resolve(store: Store) -> None:
    store.put_certificate(_certificate("cert-1", "m-1", 0, "gameable"))
    store.put_certificate(_certificate("cert-2", "m-1", 5, None))
    store.put_certificate(_certificate("cert-3", "m-2", 3, None))
    listed = store.list_certificates()
    assert [c.id for c in listed] == ["cert-2", "cert-3", "cert-1"]
    assert listed[-1].blocking_flags == ["gameable"] and listed[0].status == "clean"
    assert listed[0].anchor_scores == {"a1": 7.0, "a2": 3.5}
    assert listed[0].created_at.tzinfo is not None
    assert store.get_certificate("latest").id == "cert-2"
    assert store.get_certificate("m-1").id == "cert-2"  # by model: the newest
    assert store.get_certificate("cert-3").model == "m-2"
    assert [c.id for c in store.list_certificates(judge_key("m-2", "h", {"temperature": 0}))] == [
        "cert-3"
    ]
    # Storing the same id again replaces it.
    store.put_certificate(_certificate("cert-1", "m-1", 0, None))
    assert store.get_certificate("cert-1").status == "clean"
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_certificate("cert-")
    with pytest.raises(StoreError, match="assay audit"):
        store.get_certificate("nope")
