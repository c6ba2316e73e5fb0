"""Server-rendered SVG charts (no JavaScript, no CDN): the comparison's forest plot.

Every text that goes into the SVG is escaped; the geometry is the only thing computed here.
"""

from __future__ import annotations

from html import escape
from typing import Any

from assay.web import fmt

VERDICT_COLOUR = {
    "improved": "#1a7f37",
    "regressed": "#cf222e",
    "mixed: slice regression": "#cf222e",
    "no detectable difference": "#0969da",
    "underpowered": "#9a6700",
}

_ROW = 28
_TOP = 34
_LABEL = 190
_PLOT = 380
_TEXT = 250


def forest_plot(metric: dict[str, Any], confidence: float = 0.95) -> str:
    """One metric of a comparison (a dict of ``RunComparison.to_dict()["metrics"]``) as a forest
    plot: one row per group (``all``, then each slice) with the paired difference B − A, its
    interval, the zero line and the band of the smallest effect worth detecting."""
    groups = metric["groups"]
    rate = fmt.is_rate(*(g["mean_a"] for g in groups), *(g["mean_b"] for g in groups))
    unit = " pts" if rate else ""
    bounds = [0.0, metric["min_effect"], -metric["min_effect"]]
    for g in groups:
        bounds.append(g["difference"] or 0.0)
        interval = g["interval"] or {}
        bounds += [v for v in (interval.get("low"), interval.get("high")) if v is not None]
    reach = max(abs(b) for b in bounds) * 1.1 or 1.0

    def x(value: float) -> float:
        return _LABEL + _PLOT * (value + reach) / (2 * reach)

    width = _LABEL + _PLOT + _TEXT
    height = _TOP + _ROW * len(groups) + 30
    title = f"{metric['subject_a']} → {metric['subject_b']} / {metric['scorer']}"
    if metric["subject_a"] == metric["subject_b"]:
        title = f"{metric['subject_a']} / {metric['scorer']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="forest" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-scorer="{escape(metric["scorer"])}" data-rows="{len(groups)}">',
        f"<title>Paired difference B − A{unit} with {100 * confidence:.0f}% intervals: "
        f"{escape(title)}</title>",
        f'<rect x="{x(-metric["min_effect"]):.1f}" y="{_TOP - 8}" '
        f'width="{x(metric["min_effect"]) - x(-metric["min_effect"]):.1f}" '
        f'height="{_ROW * len(groups) + 8}" fill="#eaeef2"><title>smallest effect worth '
        f"detecting: ±{fmt.delta(metric['min_effect'], rate, signed=False)}{unit}</title></rect>",
        f'<line x1="{x(0):.1f}" y1="{_TOP - 10}" x2="{x(0):.1f}" '
        f'y2="{_TOP + _ROW * len(groups)}" stroke="#57606a" stroke-dasharray="3 3"/>',
        f'<text x="{_LABEL}" y="16" font-size="12" fill="#57606a">B − A{unit}, '
        f"{100 * confidence:.0f}% CI</text>",
        f'<text x="{_LABEL + _PLOT + 8}" y="16" font-size="12" fill="#57606a">'
        f"Δ [CI] · verdict</text>",
    ]
    for k, g in enumerate(groups):
        y = _TOP + _ROW * k + _ROW / 2 - 4
        colour = VERDICT_COLOUR.get(g["verdict"], "#57606a")
        interval = g["interval"] or {}
        low, high, diff = interval.get("low"), interval.get("high"), g["difference"]
        bold = ' font-weight="bold"' if g["slice_key"] is None else ""
        parts.append(
            f'<g class="forest-row" data-group="{escape(g["group"])}" '
            f'data-difference="{fmt.raw(diff)}" data-low="{fmt.raw(low)}" '
            f'data-high="{fmt.raw(high)}" data-verdict="{escape(g["verdict"])}">'
        )
        parts.append(
            f"<title>{escape(g['group'])}: {fmt.delta(diff, rate)}{unit} "
            f"{fmt.interval(interval, rate)}, n={g['n']}, {escape(g['verdict'])}</title>"
        )
        parts.append(
            f'<text x="{_LABEL - 10}" y="{y + 4:.1f}" font-size="13" text-anchor="end"{bold}>'
            f"{escape(g['group'])} (n={g['n']})</text>"
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
            for end in (low, high):
                parts.append(
                    f'<line x1="{x(end):.1f}" y1="{y - 5:.1f}" x2="{x(end):.1f}" '
                    f'y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
        if diff is not None:
            if g["slice_key"] is None:
                cx = x(diff)
                parts.append(
                    f'<polygon points="{cx - 7:.1f},{y:.1f} {cx:.1f},{y - 7:.1f} '
                    f'{cx + 7:.1f},{y:.1f} {cx:.1f},{y + 7:.1f}" fill="{colour}"/>'
                )
            else:
                parts.append(f'<circle cx="{x(diff):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>')
        parts.append(
            f'<text x="{_LABEL + _PLOT + 8}" y="{y + 4:.1f}" font-size="12" fill="{colour}">'
            f"{fmt.delta(diff, rate)} {fmt.interval(interval, rate)} · "
            f"{escape(g['verdict'])}</text>"
        )
        parts.append("</g>")
    axis_y = _TOP + _ROW * len(groups) + 14
    for tick in (-reach / 1.1, 0.0, reach / 1.1):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y}" font-size="11" text-anchor="middle" '
            f'fill="#57606a">{fmt.delta(tick, rate) if tick else "0"}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
