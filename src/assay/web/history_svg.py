"""The history chart: one metric of one eval across its runs, as server-rendered SVG.

Runs are spaced evenly in start order (runs a minute apart and runs a month apart would
otherwise crowd or vanish); the axis labels give their dates. The band is each run's interval,
the line its estimate, and a dashed vertical line marks a run whose manifest changed from the
run before (orange when the judge changed). Every text is escaped; no JavaScript.
"""

from __future__ import annotations

from html import escape
from typing import Any

from assay.web import fmt

_W, _H = 760, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 54, 16, 14, 38
_CHANGE = "#8250df"
_JUDGE = "#bc4c00"


def history_chart(series: dict[str, Any], marks: dict[str, dict[str, Any]]) -> str:
    """``series`` (``{"subject", "scorer", "rate", "points": [{"run_id", "label",
    "started_at", "estimate", "low", "high", "n"}]}``, oldest first) as an SVG line with its
    interval band; ``marks`` maps a run id to ``{"changes": [...], "judge": bool}``."""
    points = series["points"]
    rate = bool(series["rate"])
    values = [v for p in points for v in (p["estimate"], p["low"], p["high"]) if not fmt.missing(v)]
    if rate:
        low_y, high_y = 0.0, 1.0
    elif values:
        low_y, high_y = min(values), max(values)
        pad = (high_y - low_y) * 0.1 or abs(high_y) * 0.1 or 1.0
        low_y, high_y = low_y - pad, high_y + pad
    else:
        low_y, high_y = 0.0, 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return _LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - low_y) / (high_y - low_y))

    title = f"{series['subject']} / {series['scorer']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="history" role="img" width="{_W}" '
        f'height="{_H}" viewBox="0 0 {_W} {_H}" data-scorer="{escape(series["scorer"])}" '
        f'data-subject="{escape(series["subject"])}" data-points="{n}">',
        f"<title>{escape(title)} per run, with {len(marks)} manifest change(s) marked</title>",
    ]
    for frac in (0.0, 0.5, 1.0):
        v = low_y + frac * (high_y - low_y)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{escape(fmt.mean(v, rate))}</text>'
        )
    for i, p in enumerate(points):
        mark = marks.get(p["run_id"])
        if mark is None:
            continue
        colour = _JUDGE if mark.get("judge") else _CHANGE
        what = "; ".join(mark.get("changes") or []) or "changed"
        parts.append(
            f'<line class="change-mark" data-run="{escape(p["run_id"])}" x1="{x(i):.1f}" '
            f'x2="{x(i):.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="{colour}" '
            f'stroke-dasharray="4 3" stroke-width="1.5"><title>{escape(p["label"])}: '
            f"{escape(what)}</title></line>"
        )
    # The interval band: upper edge left to right, lower edge back, over runs that have both.
    banded = [(i, p) for i, p in enumerate(points) if not fmt.missing(p["low"])]
    banded = [(i, p) for i, p in banded if not fmt.missing(p["high"])]
    if len(banded) >= 2:
        upper = [f"{x(i):.1f},{y(p['high']):.1f}" for i, p in banded]
        lower = [f"{x(i):.1f},{y(p['low']):.1f}" for i, p in reversed(banded)]
        parts.append(
            f'<polygon class="band" points="{" ".join(upper + lower)}" fill="#0969da" '
            'fill-opacity="0.15" stroke="none"/>'
        )
    shown = [(i, p) for i, p in enumerate(points) if not fmt.missing(p["estimate"])]
    if len(shown) >= 2:
        path = " ".join(f"{x(i):.1f},{y(p['estimate']):.1f}" for i, p in shown)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#0969da" stroke-width="1.5"/>')
    for i, p in shown:
        interval = fmt.estimate(p, rate)
        parts.append(
            f'<circle class="point" data-run="{escape(p["run_id"])}" data-estimate='
            f'"{fmt.raw(p["estimate"])}" cx="{x(i):.1f}" cy="{y(p["estimate"]):.1f}" r="3" '
            f'fill="#0969da"><title>{escape(p["label"])} ({escape(p["started_at"][:16])}): '
            f"{escape(interval)}, n={p['n']}</title></circle>"
        )
    if points:
        ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))})
        for i in ticks:
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="{anchor}" '
                f'font-size="11" fill="#57606a">{escape(points[i]["started_at"][:10])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
