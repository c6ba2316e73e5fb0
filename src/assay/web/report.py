"""``assay report``: one self-contained HTML file with a run's tables and, optionally, a
comparison with its forest plots and its most-changed samples (both outputs and their word
diff). The stylesheet is inlined and the charts are inline SVG, so
the file opens offline and makes no network request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from assay import __version__
from assay.analyse import CompareSettings
from assay.store import Store
from assay.web import views
from assay.web.app import _finite
from assay.web.render import render


def render_report(
    store: Store,
    run_id: str,
    compare_with: str | None = None,
    *,
    settings: CompareSettings | None = None,
) -> str:
    """The report of stored run ``run_id``; with ``compare_with``, also the comparison of
    ``run_id`` (A, the baseline) with ``compare_with`` (B, the candidate), the numbers of
    ``assay compare run_id compare_with``."""
    runs = [views.run_page(store, run_id)]
    cmp = extra = pairs = None
    if compare_with is not None:
        from assay.web import ab
        from assay.web.compare_view import compare_extras

        _, data = views.compare_page(store, run_id, compare_with, settings=settings)
        cmp = _finite(data)
        extra = compare_extras(store, cmp)
        pairs = ab.top_pairs(store, cmp)
        runs.append(views.run_page(store, compare_with))
    title = f"run {run_id}" if cmp is None else f"compare {run_id} → {compare_with}"
    return render(
        "report.html",
        standalone=True,
        title=title,
        runs=runs,
        cmp=cmp,
        extra=extra,
        grid=pairs,
        probes=[p for p in (_probe(store, r) for r in (run_id, compare_with) if r) if p],
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )


def _probe(store: Store, run_id: str) -> dict[str, Any] | None:
    """A probe run's curves (SVG with interval bands), verdicts and rules, for the report; None
    for a run that is not a probe (its spec has no ``probe:`` section)."""
    spec = store.get_spec(run_id) or {}
    if not isinstance(spec.get("probe"), dict):
        return None
    from assay.web.probe import probe_data
    from assay.web.probe_svg import probe_curve_svg

    data = probe_data(store, run_id)
    data["svgs"] = [probe_curve_svg(r) for r in data["results"]]
    return data
