"""The rendered-page cache (assay.web.page_cache): a revisit is served from memory and is
byte-identical to a fresh render; any committed write, by this process or another, is seen
at once; a run whose lease expires with no write is shown as interrupted; ETags and 304s;
only opted-in GET pages are kept, in bounded memory. On SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import math
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.store.conftest import Backend, Build, backend, build, subprocess_env  # noqa: F401
from tests.store.test_run_leases import _hand_over, _stored
from tests.web.test_numbers import rows_of

from assay.core import AssayError
from assay.store import Store
from assay.store.tables import store_settings
from assay.web import create_app
from assay.web.page_cache import SIZE_ENV, StoreVersion, cache_size, lease_deadline

PAGES = (
    "/",
    "/runs/run-b",
    "/compare/run-a/run-b",
    "/runs/run-b/samples/q1",
    "/compare/run-a/run-b/samples/q1",
)


def _finished_run(store: Store, run_id: str, minutes: int, value: float = 1.0) -> None:
    manifest = Build.manifest(run_id, started_at=Build.at(minutes), finished_at=Build.at(minutes))
    store.create_run(manifest, Build.samples(), n_planned=6)
    results = [
        Build.result(s, q, e, value=value if q != "q2" else 1 - value)
        for s in ("alpha", "beta")
        for q in ("q1", "q2", "q3")
        for e in (0, 1)
    ]
    store.add_results(run_id, results)
    store.finish_run(run_id, manifest, "completed")


@pytest.fixture
def filled(backend: Backend) -> Backend:  # noqa: F811
    store = backend.open()
    _finished_run(store, "run-a", 0, 0.0)
    _finished_run(store, "run-b", 10, 1.0)
    return backend


def _status_of(html: str, run_id: str) -> str:
    parsed = rows_of(html, "run-row")
    for row, text in zip(parsed.rows, parsed.texts, strict=True):
        if row["data-run"] == run_id:
            return next(t for t in text if t in ("running", "interrupted", "completed", "failed"))
    raise AssertionError(f"{run_id} is not on the page")


def _hit(client: TestClient, url: str, tries: int = 20) -> Any:
    """A response to ``url`` served from the cache. On PostgreSQL the version is the cluster's
    snapshot, so a commit anywhere in it (another test's) makes a revisit a miss, which is
    safe: it is requested again until it is a hit."""
    cache = client.app.state.page_cache  # type: ignore[attr-defined]
    for _ in range(tries):
        hits = cache.hits
        response = client.get(url)
        if cache.hits == hits + 1:
            return response
    raise AssertionError(f"none of {tries} requests of {url} was served from the cache")


def test_a_revisit_is_a_hit_and_byte_identical_to_a_fresh_render(filled: Backend) -> None:
    store = filled.open()
    uncached = filled.open()
    with (
        TestClient(create_app(store)) as client,
        TestClient(create_app(uncached, page_cache_bytes=0)) as fresh,
    ):
        for page in PAGES:
            client.get(page)  # the first visit fills the run summary cache (a write)
            first = client.get(page)
            again = _hit(client, page)
            assert again.status_code == 200, page
            assert again.content == first.content == fresh.get(page).content, page
            assert again.headers["etag"] == first.headers["etag"]
            assert again.headers["cache-control"] == "no-cache"
            assert "server-timing" in again.headers
        assert fresh.app.state.page_cache.hits == 0  # type: ignore[attr-defined]


def test_a_hit_sends_the_stored_gzip_body_to_a_client_that_accepts_gzip(filled: Backend) -> None:
    with TestClient(create_app(filled.open())) as client:
        client.get("/")
        plain = client.get("/", headers={"Accept-Encoding": "identity"})
        packed = client.get("/", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain.headers
        assert packed.content == plain.content  # the client decompressed it
        assert "accept-encoding" in packed.headers["vary"].lower()
        cache = client.app.state.page_cache  # type: ignore[attr-defined]
        entry = next(iter(cache._entries.values()))
        assert gzip.decompress(entry.gzipped) == entry.body == plain.content


def test_if_none_match_gets_304_and_a_changed_page_gets_200(filled: Backend) -> None:
    store = filled.open()
    with TestClient(create_app(store)) as client:
        client.get("/runs/run-b")
        page = client.get("/runs/run-b")
        etag = page.headers["etag"]
        assert etag.startswith('W/"')
        not_modified = client.get("/runs/run-b", headers={"If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == etag
        assert not_modified.headers["cache-control"] == "no-cache"
        listed = client.get("/runs/run-b", headers={"If-None-Match": f'"other", {etag[2:]}'})
        assert listed.status_code == 304  # weak comparison, one tag of a list
        assert client.get("/runs/run-b", headers={"If-None-Match": '"x"'}).status_code == 200
        assert client.get("/runs/run-b", headers={"If-None-Match": "*"}).status_code == 304
        # A write that changes the page: the old ETag no longer matches.
        from assay.analyse.run_tags import set_run_tags

        set_run_tags(filled.open(), "run-b", ["release"], "the candidate")
        changed = client.get("/", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and "the candidate" in changed.text


def test_a_write_by_another_store_is_seen_at_once(filled: Backend) -> None:
    store = filled.open()
    with TestClient(create_app(store)) as client:
        client.get("/")
        before = client.get("/")
        assert "run-c" not in before.text
        other = filled.open()  # another Store: its own engine and connections
        _finished_run(other, "run-c", 20)
        after = client.get("/")
        assert 'data-run="run-c"' in after.text
        # A write that no page shows still counts: a miss, then the same page again.
        client.get("/")
        hits = client.app.state.page_cache.hits  # type: ignore[attr-defined]
        with other.engine.begin() as conn:
            conn.execute(store_settings.insert().values(key="unrelated", value="x"))
        again = client.get("/")
        assert client.app.state.page_cache.hits == hits  # type: ignore[attr-defined]
        assert again.content == after.content


_WRITER = """
import sys
from tests.store.conftest import Build
from assay.store import Store
from assay.analyse.run_tags import set_run_tags
url, options = sys.argv[1], sys.argv[2]
store = Store(url, connect_args={"options": options} if options else None)
set_run_tags(store, "run-a", ["from-another-process"], None)
store.close()
"""


def test_a_write_by_another_process_is_seen_at_once(
    filled: Backend,
    subprocess_env: dict[str, str],  # noqa: F811
) -> None:
    store = filled.open()
    with TestClient(create_app(store)) as client:
        client.get("/")
        assert "from-another-process" not in client.get("/").text
        options = filled.connect_args.get("options", "")
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**subprocess_env, "PYTHONPATH": root + os.pathsep + subprocess_env["PYTHONPATH"]}
        subprocess.run(
            [sys.executable, "-c", _WRITER, filled.url, options], env=env, check=True, timeout=60
        )
        assert "from-another-process" in client.get("/").text


def test_a_run_whose_lease_expires_without_a_write_is_shown_interrupted(filled: Backend) -> None:
    store = filled.open()
    manifest = Build.manifest("run-live", started_at=Build.at(30))
    store.create_run(manifest, Build.samples(), n_planned=6)
    _hand_over(store, "run-live", "another-host:4242:cafe0001", 2.0)  # that host then dies
    with TestClient(create_app(store)) as client:
        client.get("/")
        assert _status_of(client.get("/").text, "run-live") == "running"
        assert _status_of(_hit(client, "/").text, "run-live") == "running"  # cached until then
        time.sleep(2.2)  # no write in between
        assert _status_of(client.get("/").text, "run-live") == "interrupted"


def test_a_lease_that_expires_while_a_page_renders_still_bounds_its_entry(
    filled: Backend,
) -> None:
    store = filled.open()
    store.create_run(Build.manifest("run-live", started_at=Build.at(30)), [], n_planned=1)
    _hand_over(store, "run-live", "another-host:4242:cafe0003", 0.3)
    since = time.time()
    expiry = _stored(store, "run-live").expires_ms / 1000  # type: ignore[union-attr]
    assert lease_deadline(store, since) == expiry
    time.sleep(0.4)  # the render took longer than the lease had left
    assert lease_deadline(store, since) == expiry < time.time()  # so the entry is not kept
    assert lease_deadline(store, time.time()) == math.inf  # expired before: nothing to wait for
    _hand_over(store, "run-live", f"{socket.gethostname()}:{os.getpid()}:cafe0004", 60)
    assert lease_deadline(store, time.time()) is None


def test_a_run_held_by_a_process_of_this_host_is_never_cached(filled: Backend) -> None:
    store = filled.open()
    manifest = Build.manifest("run-here", started_at=Build.at(30))
    store.create_run(manifest, Build.samples(), n_planned=6)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}:{child.pid}:cafe0002"
        _hand_over(store, "run-here", owner, 60)  # live for a minute, unless its process dies
        with TestClient(create_app(store)) as client:
            cache = client.app.state.page_cache  # type: ignore[attr-defined]
            assert _status_of(client.get("/").text, "run-here") == "running"
            assert _status_of(client.get("/").text, "run-here") == "running"
            assert cache.hits == 0 and len(cache) == 0
            child.kill()
            child.wait(timeout=10)
            assert _status_of(client.get("/").text, "run-here") == "interrupted"
    finally:
        child.kill()
        child.wait(timeout=10)


def test_only_opted_in_get_pages_are_kept(filled: Backend) -> None:
    with TestClient(create_app(filled.open())) as client:
        cache = client.app.state.page_cache  # type: ignore[attr-defined]
        for url in (
            "/api/runs",
            "/api/runs/run-b",
            "/certificates",
            "/runs/nope",
            "/static/assay.js",
        ):
            client.get(url)
            client.get(url)
        assert client.get("/runs/nope").status_code == 404
        assert len(cache) == 0 and cache.hits == 0
        assert "etag" not in client.get("/api/runs").headers
        client.post("/", data={})
        assert len(cache) == 0


def test_a_token_in_the_address_bar_is_never_cached_and_the_token_is_still_checked(
    filled: Backend,
) -> None:
    token = "a-long-enough-token-0123456789"
    with TestClient(create_app(filled.open(), token=token)) as client:
        cache = client.app.state.page_cache  # type: ignore[attr-defined]
        landing = client.get(f"/?token={token}")
        assert landing.status_code == 200 and "set-cookie" in landing.headers
        assert len(cache) == 0
        client.get("/")  # the cookie now carries the token
        _hit(client, "/")
        client.cookies.clear()
        assert client.get("/").status_code == 401  # a cached page is behind the token too


def test_memory_is_bounded_least_recently_used_first(filled: Backend) -> None:
    with TestClient(create_app(filled.open(), page_cache_bytes=10**9)) as client:
        client.get("/")
        sizes = {}
        for page in PAGES:
            client.get(page)
        cache = client.app.state.page_cache  # type: ignore[attr-defined]
        sizes = {key[0]: entry.size for key, entry in cache._entries.items()}
    assert set(sizes) == set(PAGES)
    budget = sizes[PAGES[-2]] + sizes[PAGES[-1]] + 1
    with TestClient(create_app(filled.open(), page_cache_bytes=budget)) as client:
        cache = client.app.state.page_cache  # type: ignore[attr-defined]
        for page in PAGES:
            client.get(page)
            client.get(page)
        assert cache.size_bytes <= budget
        assert [key[0] for key in cache._entries] == list(PAGES[-2:])


def test_an_in_memory_store_is_not_cached(tmp_path: Any) -> None:
    """Its one shared connection's own commits do not change ``PRAGMA data_version``."""
    memory = Store("sqlite://")
    assert not StoreVersion(memory).supported and StoreVersion(memory).read() is None
    memory.close()
    with Store(str(tmp_path / "file.db")) as store:
        version = StoreVersion(store)
        before = version.read()
        assert version.supported and before == version.read()
        _finished_run(store, "run-a", 0)
        assert version.read() != before
        version.close()


def test_the_size_comes_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv(SIZE_ENV, "2.5")
    assert cache_size() == int(2.5 * 2**20)
    monkeypatch.setenv(SIZE_ENV, "0")
    assert cache_size() == 0
    monkeypatch.delenv(SIZE_ENV)
    assert cache_size() == 64 * 2**20
    monkeypatch.setenv(SIZE_ENV, "lots")
    with pytest.raises(AssayError) as bad:
        cache_size()
    assert bad.value.where == SIZE_ENV and "megabytes" in str(bad.value)
