"""Every HTML page the app serves, in Chromium at a phone's width (390 px) and a laptop's
(1,440 px): nothing may stick out sideways except inside its own scroll box (tables, ``pre``).

The pages are found by walking ``app.state.routers`` (so a page added later is checked too);
path parameters are filled from links the parameterless pages show, which keeps the walk honest
about what a user can reach. Screenshots go where tests/web/conftest.py's ``screenshot`` puts
them, named ``responsive-<width>-<page>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.store import Store
from assay.web.live import serve_in_thread

WIDTHS = (390, 1440)
#: Routes that are not pages: JSON, OTLP, static files, the API schema.
NOT_PAGES = ("/api/", "/v1/", "/static/", "/openapi", "/docs", "/redoc")

#: What sticks out of the viewport, ignoring what lies inside a box that scrolls sideways.
OVERFLOWING = """() => {
  const width = window.innerWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden')
          && p.clientWidth < p.scrollWidth + 1) return true;
      if (s.display === 'none') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1 || scrolls(el)) continue;
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
             + (el.className && typeof el.className === 'string' ? '.' + el.className : '')
             + ' right=' + Math.round(r.right));
    if (out.length > 5) break;
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, out};
}"""


def _page_routes(app: Any) -> list[str]:
    """Every GET route that renders HTML, as path templates (``/runs/{run}``)."""
    paths: list[str] = []
    for router in app.state.routers:
        for route in router.routes:
            if "GET" not in (getattr(route, "methods", None) or ()):
                continue
            if route.path.startswith(NOT_PAGES) or route.path in paths:
                continue
            paths.append(route.path)
    return paths


def _pattern(template: str) -> re.Pattern[str]:
    """A regex matching concrete paths of a route template."""
    out, pos = "", 0
    for match in re.finditer(r"\{([^}:]+)(:path)?\}", template):
        out += re.escape(template[pos : match.start()])
        out += ".+" if match.group(2) else "[^/?#]+"
        pos = match.end()
    return re.compile("^" + out + re.escape(template[pos:]) + "$")


@pytest.fixture(scope="module")
def site(demo_store) -> Iterator[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    """The app over the demo store (runs, a judge run, certificates, a week of traces) on a
    free port, and its page routes."""
    from assay.web import create_app

    store = Store(demo_store.db)
    app = create_app(store)
    with serve_in_thread(app) as url:
        yield url, _page_routes(app)
    store.close()


def _visit(
    page: Any, url: str, path: str, width: int, folders: list[Path], *, reached: bool = True
) -> tuple[list[str], bytes]:
    """Load one page, screenshot it (the whole page on a phone, the first screen on a laptop:
    full-page shots of long wide pages cost seconds each), and say what (if anything) widens
    it past the viewport; also return the HTML. A page reached through a link must answer
    below 400; one whose parameters were guessed may say "not found", never a server error."""
    response = page.goto(url + path)
    assert response is not None, path
    assert response.status < (400 if reached else 500), (path, response.status)
    found = page.evaluate(OVERFLOWING)
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    for folder in folders:
        shot = folder / f"responsive-{width}-{name[:60]}.png"
        page.screenshot(path=str(shot), full_page=width < 800)
        assert shot.stat().st_size > 1000
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems = [f"scrollWidth {found['scrollWidth']} > {found['innerWidth']}", *found["out"]]
    return problems, response.body()


#: Guesses for parameters no link on the demo's pages fills (a page of something it lacks).
GUESSES = {"run": "{v2}", "run_a": "{v1}", "run_b": "{v2}", "sample_id": "q0001"}


def _guess(template: str, demo_store: Any) -> str:
    def value(match: re.Match[str]) -> str:
        guess = GUESSES.get(match.group(1), "demo-qa")
        return guess.format(v1=demo_store.v1, v2=demo_store.v2)

    return re.sub(r"\{([^}:]+)(?::path)?\}", value, template)


def test_every_page_fits_a_phone_and_a_laptop(site, demo_store, browser, screenshot_dirs):  # type: ignore[no-untyped-def]
    base, routes = site
    fixed = [r for r in routes if "{" not in r]
    templated = [r for r in routes if "{" in r]
    assert "/" in fixed and "/runs/{run}" in templated and "/data" in fixed
    # Parameters: the demo's two runs for the pages that compare, links for the rest.
    chosen = {
        "/compare/{run_a}/{run_b}": f"/compare/{demo_store.v1}/{demo_store.v2}",
        "/compare/{run_a}/{run_b}/samples/{sample_id:path}": (
            f"/compare/{demo_store.v1}/{demo_store.v2}/samples/q0001"
        ),
        "/runs/{run}": f"/runs/{demo_store.v2}",
    }
    with Store(demo_store.db) as store:
        audit = next(r.id for r in store.list_runs() if r.name == "audit sim/demo-judge")
    # Pages in the state a form leaves them, with their result tables.
    fixed += [
        f"/lint?run={audit}",
        "/plan?baseline=0.82&target=0.85",
        f"/plan?baseline=0.8&run_a={demo_store.v1}&run_b={demo_store.v2}&delta=0.05",
        "/data/sample?n=40&strata=hour_of_week,route",
        "/data/composition?by=route",
        "/data/provenance?revoked_since=2020-01-01",
    ]
    problems: dict[str, list[str]] = {}
    html: dict[str, bytes] = {}  # each page is rendered once; the phone pass replays it
    wide, narrow = WIDTHS[-1], WIDTHS[0]
    context = browser.new_context(viewport={"width": wide, "height": 900})
    page = context.new_page()
    links: set[str] = set()

    def visit(path: str, *, reached: bool = True) -> None:
        found, html[path] = _visit(page, base, path, wide, screenshot_dirs, reached=reached)
        if found:
            problems[f"{wide}px {path}"] = found
        links.update(page.eval_on_selector_all("a[href^='/']", "as => as.map(a => a.pathname)"))

    for path in fixed:
        visit(path)
    # Fill each template from the links seen so far; pages reached that way add their links
    # (a run page links its samples) until no template gains a value.
    pending = list(templated)
    while pending:
        progress = False
        for template in list(pending):
            target = chosen.get(template) or min(
                (p for p in links if _pattern(template).match(p)), default=None, key=len
            )
            if target is not None:
                chosen[template] = target
                pending.remove(template)
                progress = True
                visit(target)
        if not progress:
            break
    # What no link leads to (the demo holds no review queue, prompt or probe run) is still
    # laid out: its page, or its "not found" page, with guessed parameters.
    guessed = {t: _guess(t, demo_store) for t in pending}
    for path in guessed.values():
        visit(path, reached=False)
    context.close()

    context = browser.new_context(viewport={"width": narrow, "height": 844})

    def replay(route: Any) -> None:
        path = route.request.url[len(base) :]
        if route.request.resource_type == "document" and path in html:
            route.fulfill(body=html[path], content_type="text/html; charset=utf-8")
        else:
            route.continue_()

    context.route(f"{base}/**", replay)
    page = context.new_page()
    for path in html:
        found, _ = _visit(page, base, path, narrow, screenshot_dirs)
        if found:
            problems[f"{narrow}px {path}"] = found
    context.close()
    assert not problems, problems
    assert len(html) >= len(routes), sorted(set(routes) - set(chosen) - set(fixed))


def test_phone_menu_and_planner_letters(site, browser, screenshot):  # type: ignore[no-untyped-def]
    """At 390 px the nav folds into a menu that opens without JavaScript, and the planner's
    fields take what is typed, letters included, so the server can name the bad field."""
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/plan")
    assert not page.locator("nav.nav-wide").is_visible()
    traces = page.locator("details.nav-narrow a[href='/traces']")
    assert not traces.is_visible()
    page.click("details.nav-narrow summary")
    assert traces.is_visible() and page.locator("details.nav-narrow a[href='/data']").is_visible()
    screenshot(page, "responsive-390-menu-open")
    page.click("details.nav-narrow summary")
    page.fill("input[name=baseline]", "0.8a")
    page.fill("input[name=target]", "0.85")
    page.click("#plan-form button[type=submit]")
    error = page.locator("#plan-error")
    assert error.inner_text().startswith("Baseline pass rate: '0.8a' is not a number")
    assert page.locator("input[name=baseline]").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=baseline]").input_value() == "0.8a"
    box = error.bounding_box()
    assert box is not None and box["y"] < 844  # the message is on the first screen
    screenshot(page, "responsive-390-plan-error")
    context.close()
