"""The Server-Timing header every response carries (assay.web.timing)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assay.store import Store
from assay.web import create_app
from assay.web.timing import server_time_ms


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("app;dur=12.5", 12.5),
        ('db;dur=3, app;desc="assay";dur=7', 7.0),
        ("db;dur=3", None),
        ("app;dur=soon", None),
        ("app", None),
        ("", None),
        (None, None),
    ],
)
def test_server_time_is_read_from_the_header(header: str | None, expected: float | None) -> None:
    assert server_time_ms(header) == expected


def test_every_response_carries_its_server_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(str(tmp_path / "assay.db"))
    with TestClient(create_app(store)) as client:
        for url, status in (("/", 200), ("/api/runs", 200), ("/runs/nope", 404)):
            response = client.get(url)
            assert response.status_code == status
            ms = server_time_ms(response.headers.get("server-timing"))
            assert ms is not None and 0 < ms < 60_000
    store.close()
