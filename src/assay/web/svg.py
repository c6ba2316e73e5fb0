"""Server-rendered SVG charts (no JavaScript, no CDN): the comparison's forest plot.

Every text that goes into the SVG is escaped; the geometry is the only thing computed here.
Text widths are estimated from character counts (an average glyph of 0.6 em in a sans-serif
face, a bold one of 0.65 em), which is enough to reserve a label column that nothing clips;
long group names wrap onto a second line.
"""

from __future__ import annotations

import math
import textwrap
from html import escape
from typing import Any

from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.web import fmt

VERDICT_COLOUR = {
    "improved": "#1a7f37",
    "regressed": "#cf222e",
    "mixed: slice regression": "#cf222e",
    "no detectable difference": "#0969da",
    "underpowered": "#9a6700",
    JUDGE_CHANGED: "#bc4c00",  # amber-orange: withheld until a migration note (C5)
}
A_COLOUR = "#8250df"
B_COLOUR = "#24292f"

_ROW = 30
_TOP = 34
_PLOT = 360
_LEVELS = 170
_GAP = 24
_TEXT = 270
_LEGEND = 40
_LABEL_FONT = 13
_WRAP = 30


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An estimate of ``text``'s width in pixels at font ``size`` (see the module docstring)."""
    return len(text) * size * (0.65 if bold else 0.6)


def _row_text(group: dict[str, Any], rate: bool) -> str:
    """A row's "Δ [CI] · verdict" text, right of the levels."""
    interval = group["interval"] or {}
    return (
        f"{fmt.delta(group['difference'], rate)} {fmt.interval(interval, rate)} · "
        f"{group['verdict']}"
    )


def _label_lines(group: dict[str, Any]) -> list[str]:
    label = f"{group['group']} (n={group['n']})"
    return textwrap.wrap(label, _WRAP, break_long_words=True) or [label]


def forest_plot(metric: dict[str, Any], confidence: float = 0.95) -> str:
    """One metric of a comparison (a dict of ``RunComparison.to_dict()["metrics"]``) as a forest
    plot: one row per group (``all``, then each slice) with the paired difference B − A and its
    interval against the zero line and the grey band of the smallest effect worth detecting
    (± the metric's ``min_effect``); beside it a second panel with the A and B levels of the
    group (on whole tenths around them, for rates); a legend says what each mark is."""
    groups = metric["groups"]
    rate = fmt.is_rate(*(g["mean_a"] for g in groups), *(g["mean_b"] for g in groups))
    unit = " pts" if rate else ""
    bounds = [0.0, metric["min_effect"], -metric["min_effect"]]
    for g in groups:
        bounds.append(g["difference"] or 0.0)
        interval = g["interval"] or {}
        bounds += [v for v in (interval.get("low"), interval.get("high")) if v is not None]
    reach = max(abs(b) for b in bounds) * 1.1 or 1.0
    lines = [_label_lines(g) for g in groups]
    label_w = 12 + max(
        text_width(line, _LABEL_FONT, bold=g["slice_key"] is None)
        for g, ls in zip(groups, lines, strict=True)
        for line in ls
    )
    label_w = max(120.0, label_w)
    plot_x = label_w
    levels_x = plot_x + _PLOT + _GAP
    text_x = levels_x + _LEVELS + _GAP
    levels = [v for g in groups for v in (g["mean_a"], g["mean_b"]) if v is not None]
    if rate:  # whole tenths around the levels, so that close levels stay apart
        level_low = max(0.0, math.floor(10 * min(levels, default=0.0) - 1e-9) / 10)
        level_high = min(1.0, math.ceil(10 * max(levels, default=1.0) + 1e-9) / 10)
        if level_high <= level_low:
            level_low, level_high = 0.0, 1.0
    else:
        level_low, level_high = (min(levels), max(levels)) if levels else (0.0, 1.0)
        if level_high <= level_low:
            level_low, level_high = level_low - 1, level_high + 1

    def x(value: float) -> float:
        return plot_x + _PLOT * (value + reach) / (2 * reach)

    def lx(value: float) -> float:
        return levels_x + _LEVELS * (value - level_low) / (level_high - level_low)

    heights = [_ROW + 14 * (len(ls) - 1) for ls in lines]
    body = sum(heights)
    texts = [_row_text(g, rate) for g in groups]
    # Wide enough for the longest row's "Δ [CI] · verdict" (a withheld verdict is long).
    width = int(text_x + max(_TEXT, 8 + max(text_width(t, 12) for t in texts)))
    axis_y = _TOP + body + 14
    height = axis_y + 12 + _LEGEND
    title = f"{metric['subject_a']} → {metric['subject_b']} / {metric['scorer']}"
    if metric["subject_a"] == metric["subject_b"]:
        title = f"{metric['subject_a']} / {metric['scorer']}"
    band = fmt.delta(metric["min_effect"], rate, signed=False)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="forest" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'data-scorer="{escape(metric["scorer"])}" data-rows="{len(groups)}">',
        f"<title>Paired difference B − A{unit} with {100 * confidence:.0f}% intervals, and the "
        f"A and B levels per group: {escape(title)}</title>",
        f'<rect class="min-effect-band" x="{x(-metric["min_effect"]):.1f}" y="{_TOP - 8}" '
        f'width="{x(metric["min_effect"]) - x(-metric["min_effect"]):.1f}" '
        f'height="{body + 8}" fill="#eaeef2"><title>grey band: ±{band}{unit}, the smallest '
        f"effect worth detecting (differences inside it are too small to matter)</title></rect>",
        f'<line x1="{x(0):.1f}" y1="{_TOP - 10}" x2="{x(0):.1f}" '
        f'y2="{_TOP + body}" stroke="#57606a" stroke-dasharray="3 3"/>',
        f'<text x="{plot_x}" y="16" font-size="12" fill="#57606a">B − A{unit}, '
        f"{100 * confidence:.0f}% CI</text>",
        f'<text x="{levels_x}" y="16" font-size="12" fill="#57606a">levels: '
        f'<tspan fill="{A_COLOUR}">○ A</tspan> <tspan fill="{B_COLOUR}">● B</tspan></text>',
        f'<text x="{text_x}" y="16" font-size="12" fill="#57606a">Δ [CI] · verdict</text>',
        f'<line x1="{levels_x}" y1="{_TOP - 8}" x2="{levels_x}" y2="{_TOP + body}" '
        f'stroke="#d0d7de"/>',
        f'<line x1="{levels_x + _LEVELS}" y1="{_TOP - 8}" x2="{levels_x + _LEVELS}" '
        f'y2="{_TOP + body}" stroke="#d0d7de"/>',
    ]
    top = _TOP
    for g, ls, h, text in zip(groups, lines, heights, texts, strict=True):
        y = top + _ROW / 2 - 4
        colour = VERDICT_COLOUR.get(g["verdict"], "#57606a")
        interval = g["interval"] or {}
        low, high, diff = interval.get("low"), interval.get("high"), g["difference"]
        bold = ' font-weight="bold"' if g["slice_key"] is None else ""
        parts.append(
            f'<g class="forest-row" data-group="{escape(g["group"])}" '
            f'data-difference="{fmt.raw(diff)}" data-low="{fmt.raw(low)}" '
            f'data-high="{fmt.raw(high)}" data-verdict="{escape(g["verdict"])}" '
            f'data-mean-a="{fmt.raw(g["mean_a"])}" data-mean-b="{fmt.raw(g["mean_b"])}">'
        )
        parts.append(
            f"<title>{escape(g['group'])}: {fmt.delta(diff, rate)}{unit} "
            f"{fmt.interval(interval, rate)}, A {fmt.mean(g['mean_a'], rate)}, "
            f"B {fmt.mean(g['mean_b'], rate)}, n={g['n']}, {escape(g['verdict'])}</title>"
        )
        for k, line in enumerate(ls):
            parts.append(
                f'<text class="forest-label" x="{plot_x - 10:.1f}" y="{y + 4 + 14 * k:.1f}" '
                f'font-size="{_LABEL_FONT}" text-anchor="end"{bold}>{escape(line)}</text>'
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
        a, b = g["mean_a"], g["mean_b"]
        if a is not None and b is not None:
            parts.append(
                f'<line x1="{lx(a):.1f}" y1="{y:.1f}" x2="{lx(b):.1f}" y2="{y:.1f}" '
                f'stroke="#afb8c1" stroke-width="2"/>'
            )
            parts.append(
                f'<circle class="level-a" cx="{lx(a):.1f}" cy="{y:.1f}" r="4.5" fill="#fff" '
                f'stroke="{A_COLOUR}" stroke-width="2"><title>A {fmt.mean(a, rate)}</title>'
                "</circle>"
            )
            parts.append(
                f'<circle class="level-b" cx="{lx(b):.1f}" cy="{y:.1f}" r="4" '
                f'fill="{B_COLOUR}"><title>B {fmt.mean(b, rate)}</title></circle>'
            )
        parts.append(
            f'<text x="{text_x}" y="{y + 4:.1f}" font-size="12" fill="{colour}">'
            f"{escape(text)}</text>"
        )
        parts.append("</g>")
        top += h
    for tick in (-reach / 1.1, 0.0, reach / 1.1):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y}" font-size="11" text-anchor="middle" '
            f'fill="#57606a">{fmt.delta(tick, rate) if tick else "0"}</text>'
        )
    for value, anchor in ((level_low, "start"), (level_high, "end")):
        parts.append(
            f'<text x="{lx(value):.1f}" y="{axis_y}" font-size="11" text-anchor="{anchor}" '
            f'fill="#57606a">{fmt.mean(value, rate)}</text>'
        )
    legend_y = axis_y + 24
    parts.append(
        f'<g class="forest-legend" font-size="11" fill="#57606a">'
        f'<rect x="{plot_x}" y="{legend_y - 9}" width="14" height="10" fill="#eaeef2"/>'
        f'<text x="{plot_x + 20}" y="{legend_y}">grey band: ±{band}{unit}, the smallest effect '
        f"worth detecting</text>"
        f'<polygon points="{plot_x + 3},{legend_y + 12} {plot_x + 8},{legend_y + 7} '
        f'{plot_x + 13},{legend_y + 12} {plot_x + 8},{legend_y + 17}" fill="#57606a"/>'
        f'<text x="{plot_x + 20}" y="{legend_y + 16}">all samples</text>'
        f'<circle cx="{plot_x + 108}" cy="{legend_y + 12}" r="4" fill="#57606a"/>'
        f'<text x="{plot_x + 116}" y="{legend_y + 16}">a slice; whiskers: '
        f"{100 * confidence:.0f}% interval; dashed line: no difference</text>"
        "</g>"
    )
    parts.append("</svg>")
    return "".join(parts)
