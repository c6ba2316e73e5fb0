"""The ranking page's forest plot: each candidate's paired difference from the baseline with
its multiplicity-adjusted interval, as server-rendered SVG (no script). Geometry only: every
figure comes from :func:`assay.analyse.rank.rank_candidates` (``versus_baseline`` rows)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from assay.web import fmt

WIDTH = 640
ROW = 28
TOP = 30
BOTTOM = 34


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values spanning ``[low, high]`` (1, 2 or 5 × a power of ten apart)."""
    span = max(high - low, 1e-12)
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]


def rank_forest(
    rows: list[dict[str, Any]],
    baseline: str,
    rate: bool,
    alpha: float,
    labels: dict[str, str] | None = None,
) -> str:
    """One row per candidate (``b`` against the baseline ``a``): the point difference, its
    interval as a bar (filled when Holm's adjusted p < ``alpha``), and a line at zero.
    ``labels`` maps candidate names to what the page calls them."""
    if not rows:
        return ""
    labels = labels or {}
    shown = {r["b"]: labels.get(r["b"], r["b"]) for r in rows}
    baseline = labels.get(baseline, baseline)
    label_w = min(240, max(80, int(7.2 * max(len(v) for v in shown.values())) + 16))
    values = [v for r in rows for v in (r["low"], r["high"], r["difference"]) if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    pad = 0.08 * max(high - low, 1e-9)
    low, high = low - pad, high + pad
    x0, x1 = label_w, WIDTH - 16
    height = TOP + ROW * len(rows) + BOTTOM

    def x(v: float) -> float:
        return float(x0 + (v - low) / (high - low) * (x1 - x0))

    unit = "points" if rate else "difference"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rank-forest" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="difference from {escape(baseline)} per candidate">',
        f'<text x="{x0}" y="16" font-size="12" fill="#57606a">{escape(unit)} against '
        f"{escape(baseline)} (← worse · better →)</text>",
    ]
    axis_y = TOP + ROW * len(rows) + 4
    for t in _ticks(low, high):
        tx = x(t)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{axis_y}" stroke="#eaeef2"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 16}" font-size="11" text-anchor="middle" '
            f'fill="#57606a">{escape(fmt.delta(t, rate))}</text>'
        )
    zx = x(0.0)
    parts.append(
        f'<line class="zero" x1="{zx:.1f}" y1="{TOP - 4}" x2="{zx:.1f}" y2="{axis_y}" '
        'stroke="#57606a" stroke-dasharray="3 3"/>'
    )
    for k, r in enumerate(rows):
        y = TOP + ROW * k + ROW / 2
        significant = r["p_adjusted"] is not None and r["p_adjusted"] < alpha
        colour = "#cf222e" if significant and r["difference"] < 0 else "#1a7f37"
        colour = colour if significant else "#57606a"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end">'
            f"{escape(shown[r['b']])}</text>"
        )
        if r["low"] is not None and r["high"] is not None:
            parts.append(
                f'<line class="ci" data-candidate="{escape(r["b"])}" x1="{x(r["low"]):.1f}" '
                f'y1="{y:.1f}" x2="{x(r["high"]):.1f}" y2="{y:.1f}" stroke="{colour}" '
                'stroke-width="3"/>'
            )
        if r["difference"] is not None:
            fill = colour if significant else "#fff"
            parts.append(
                f'<circle class="point" cx="{x(r["difference"]):.1f}" cy="{y:.1f}" r="5" '
                f'fill="{fill}" stroke="{colour}" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)
