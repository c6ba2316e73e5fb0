"""Rendering of non-inferiority and equivalence verdicts (``assay compare --margin``).
Rendering only: every figure comes from :mod:`assay.analyse.compare`."""

from __future__ import annotations

import math

from rich.text import Text

from assay.analyse import RunComparison


def _pts(x: float, rate: bool) -> str:
    if math.isnan(x):
        return "—"
    return f"{100 * x:+.1f}" if rate else f"{x:+.3g}"


def margin_view(c: RunComparison) -> Text:
    """One line per metric: the margin verdict and the 1 − 2α interval that decided it."""
    s = c.settings
    text = Text()
    if s.margin is None:
        return text
    what = "equivalence (TOST)" if s.equivalence else "non-inferiority"
    level = 100 * (1 - 2 * s.alpha)
    for m in c.metrics:
        g = m.aggregate
        rate = min(g.mean_a, g.mean_b) >= 0 and max(g.mean_a, g.mean_b) <= 1
        unit = " pts" if rate else ""
        i = g.margin_interval
        label = m.margin_verdict or "—"
        style = "bold green" if label in ("non-inferior", "equivalent") else "bold yellow"
        text.append(f"{m.subject} / {m.scorer} {what} at margin ")
        text.append(f"{_pts(s.margin, rate).lstrip('+')}{unit}: ")
        text.append(label, style=style)
        if i is not None:
            text.append(
                f"  Δ {_pts(g.difference, rate)}{unit}, {level:.0f}% CI "
                f"[{_pts(i.low, rate)}, {_pts(i.high, rate)}] ({i.method})",
                style="dim",
            )
        text.append("\n")
    return text
