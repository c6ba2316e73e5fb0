"""``assay report``: one self-contained HTML file with a run's tables and, optionally, a
comparison with its forest plots. The stylesheet is inlined and the charts are inline SVG, so
the file opens offline and makes no network request."""

from __future__ import annotations

from datetime import UTC, datetime

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
    cmp = None
    if compare_with is not None:
        _, data = views.compare_page(store, run_id, compare_with, settings=settings)
        cmp = _finite(data)
        runs.append(views.run_page(store, compare_with))
    title = f"run {run_id}" if cmp is None else f"compare {run_id} → {compare_with}"
    return render(
        "report.html",
        standalone=True,
        title=title,
        runs=runs,
        cmp=cmp,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
