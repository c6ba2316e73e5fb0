"""Fixtures for the web surface: the demo's store, a hostile store, and a live server."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.store import Store

CHROMIUM = Path("/usr/bin/chromium")
DEMO_SAMPLES = 60

#: Text a sample and its output carry in the escaping tests: it must come back as text.
HOSTILE_INPUT = '<script>window.__pwned = 1</script><b onmouseover="x()">bold</b>'
HOSTILE_OUTPUT = '<img src=x onerror="window.__pwned=2">'


def in_thread(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call ``fn`` in a fresh thread: the runner starts its own event loop, and the session's
    Playwright browser keeps one running in the main thread."""
    out: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(fn(*args, **kwargs))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


@dataclass(frozen=True)
class DemoStore:
    """The store ``assay demo`` writes: runs v1 and v2 of demo-qa and a pairwise judge run."""

    db: str
    project: Path
    v1: str
    v2: str
    judge: str


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    from assay.cli.app import demo

    folder = tmp_path_factory.mktemp("demo")
    db = str(folder / "assay.db")
    # With production: the pages of traces, drafts and monitoring need its week of traffic.
    in_thread(demo, folder / "project", samples=DEMO_SAMPLES, db=db, production=True)
    with Store(db) as store:
        runs = store.list_runs()[::-1]  # oldest first
        v1, v2 = (r.id for r in runs if r.name == "demo-qa")
        # The first pairwise run is v1 against v2 (the demo's judge audit may add more runs).
        judge = next(r.id for r in runs if r.name.startswith("pairwise"))
    return DemoStore(db=db, project=folder / "project", v1=v1, v2=v2, judge=judge)


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A store with one run whose sample input and output are HTML/script, answered in three
    epochs so that one sample is flaky; ``(db, run_id)``."""
    from assay.data import dataset_from_records
    from assay.run import CallableSubject, Eval, run
    from assay.score import exact

    rows = [
        {"id": "evil", "input": HOSTILE_INPUT, "target": "x", "slice": "<i>odd</i>"},
        {"id": "plain", "input": "1+1?", "target": "2", "slice": "even"},
        {"id": "wobbly", "input": "2+2?", "target": "4", "slice": "even"},
    ]
    calls: dict[str, int] = {}

    def answer(sample):  # type: ignore[no-untyped-def]
        calls[sample.id] = calls.get(sample.id, 0) + 1
        if sample.id == "evil":
            return HOSTILE_OUTPUT
        if sample.id == "wobbly":
            return "4" if calls[sample.id] % 2 else "5"
        return "2"

    db = str(tmp_path_factory.mktemp("hostile") / "assay.db")
    ev = Eval(
        name="<script>alert('name')</script>",
        dataset=dataset_from_records(rows, name="hostile"),
        subjects=[CallableSubject("fn", answer)],
        scorers=[exact()],
        slices=["slice"],
        epochs=3,
        concurrency=1,
    )
    outcome = in_thread(run, ev, db=db)
    return db, outcome.run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(demo_store: DemoStore) -> Iterator[str]:
    """``assay serve``'s app on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    from assay.web import create_app

    store = Store(demo_store.db)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


def _chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("ASSAY_REQUIRE_BROWSER"):
        pytest.fail(
            f"ASSAY_REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install chromium)"
        )
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser tests")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while
    it is open, so it must be closed before any later test calls ``asyncio.run``."""
    path = _chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("ASSAY_REQUIRE_BROWSER"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Where page screenshots go: pytest's temp folder, and $ASSAY_SCREENSHOTS when set."""
    dirs = [tmp_path_factory.mktemp("screenshots")]
    extra = os.environ.get("ASSAY_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        dirs.append(Path(extra))
    return dirs


@pytest.fixture
def screenshot(screenshot_dirs: list[Path]):  # type: ignore[no-untyped-def]
    """``screenshot(page, name)`` saves a full-page PNG into every screenshot folder."""

    def take(page, name: str) -> list[Path]:  # type: ignore[no-untyped-def]
        paths = []
        for folder in screenshot_dirs:
            path = folder / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 1000
            paths.append(path)
        return paths

    return take


@pytest.fixture
def judge_changed_db(tmp_path, new_store_db):  # type: ignore[no-untyped-def]
    """A SQLite store holding two runs whose ``quality`` judge changed snapshot (C5):
    ``(path, run_a, run_b)``."""
    from tests.analyse.conftest import write_runs_with_a_changed_judge

    db = new_store_db(tmp_path / "assay.db")
    store = Store(f"sqlite:///{db}")
    try:
        a, b = write_runs_with_a_changed_judge(store)
    finally:
        store.close()
    return db, a, b
