"""Server-rendered SVG charts of the cost and latency pages (no JavaScript, no external
resource): the latency histogram on a log axis, the stage breakdown, the Lorenz curve, the
output-length distribution with its caps, and the cost forecast fan.

Only geometry is computed here; every number comes from the analysis dicts, and every text is
escaped. Each chart carries its figures in ``data-`` attributes for the tests.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

_W, _H = 560, 220
_L, _R, _T, _B = 56, 16, 16, 40
STAGE_COLOURS = {
    "llm": "#0969da",
    "retrieval": "#1a7f37",
    "embedding": "#8250df",
    "tool": "#bc4c00",
    "assembly": "#9a6700",
    "queue": "#cf222e",
}


def _open(cls: str, title: str, data: str = "") -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" role="img" '
        f'width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}"{data}>',
        f"<title>{escape(title)}</title>",
        f'<rect x="{_L}" y="{_T}" width="{_W - _L - _R}" height="{_H - _T - _B}" '
        'fill="#f6f8fa" stroke="#d0d7de"/>',
    ]


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="#57606a">{escape(text)}</text>'
    )


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    k = math.floor(math.log10(max(low, 1e-9)))
    while 10**k <= high * 1.0001:
        if 10**k >= low / 1.0001:
            ticks.append(10.0**k)
        k += 1
    return ticks or [low, high]


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{value:.3g} ms"


def latency_histogram(hist: dict[str, list[float]], marks: dict[str, float | None]) -> str:
    """Trace counts per log-spaced latency bin; ``marks`` (``p50``, ``p99``) as vertical lines."""
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    parts = _open(
        "latency-histogram", "Total latency per trace, log scale", f' data-bins="{len(counts)}"'
    )
    if not counts:
        parts.append(_text(_W / 2, _H / 2, "no traces"))
        parts.append("</svg>")
        return "".join(parts)
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    span = hi - lo or 1.0
    top = max(counts) or 1

    def x(v: float) -> float:
        return _L + (_W - _L - _R) * (math.log10(v) - lo) / span

    def y(c: float) -> float:
        return _H - _B - (_H - _T - _B) * c / top

    for k, c in enumerate(counts):
        if c:
            parts.append(
                f'<rect class="bar" x="{x(edges[k]):.1f}" y="{y(c):.1f}" '
                f'width="{max(1.0, x(edges[k + 1]) - x(edges[k]) - 1):.1f}" '
                f'height="{_H - _B - y(c):.1f}" fill="#0969da" data-count="{int(c)}">'
                f"<title>{_ms(edges[k])} – {_ms(edges[k + 1])}: {int(c)} traces</title></rect>"
            )
    for tick in _log_ticks(edges[0], edges[-1]):
        parts.append(_text(x(tick), _H - _B + 14, _ms(tick)))
    for name, value in marks.items():
        if value:
            parts.append(
                f'<line class="mark" data-mark="{escape(name)}" data-value="{value}" '
                f'x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{_T}" y2="{_H - _B}" '
                'stroke="#cf222e" stroke-dasharray="4 3"/>'
            )
            parts.append(_text(x(value) + 3, _T + 12, f"{name} {_ms(value)}", "start"))
    parts.append(_text(_W / 2, _H - 6, "total latency per trace (log scale)"))
    parts.append("</svg>")
    return "".join(parts)


def stage_breakdown(groups: list[dict[str, Any]]) -> str:
    """One stacked bar per route: each stage's share of mean total time."""
    rows = [g for g in groups if g.get("stages")]
    height = 30 + 26 * max(1, len(rows)) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart stage-breakdown" role="img" '
        f'width="{_W}" height="{height}" viewBox="0 0 {_W} {height}" data-rows="{len(rows)}">',
        "<title>Share of mean total time per stage, per route</title>",
    ]
    left, width = 150, _W - 150 - _R
    for k, g in enumerate(rows):
        y = 20 + 26 * k
        parts.append(_text(left - 8, y + 14, str(g.get("route") or "all"), "end", 12))
        x = float(left)
        for s in g["stages"]:
            share = s.get("share_of_total")
            if s["stage"] not in STAGE_COLOURS or not share:
                continue
            w = width * min(share, 1.0)
            parts.append(
                f'<rect class="stage" data-route="{escape(str(g.get("route")))}" '
                f'data-stage="{s["stage"]}" data-share="{share:.4f}" x="{x:.1f}" y="{y}" '
                f'width="{w:.1f}" height="18" fill="{STAGE_COLOURS[s["stage"]]}">'
                f"<title>{escape(s['stage'])}: {100 * share:.1f}% of mean total</title></rect>"
            )
            x += w
    legend_y = height - 12
    x = float(left)
    for name, colour in STAGE_COLOURS.items():
        parts.append(
            f'<rect x="{x:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(_text(x + 14, legend_y, name, "start"))
        x += 80
    parts.append("</svg>")
    return "".join(parts)


def lorenz(curves: dict[str, dict[str, Any]]) -> str:
    """Lorenz curves (share of units → share of cost), one per grouping, with the diagonal."""
    size = 260
    pad = 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lorenz" role="img" '
        f'width="{size + pad + 140}" height="{size + pad}" '
        f'viewBox="0 0 {size + pad + 140} {size + pad}" data-curves="{len(curves)}">',
        "<title>Lorenz curves of cost: cumulative share of units against share of cost</title>",
        f'<rect x="{pad}" y="0" width="{size}" height="{size}" fill="#f6f8fa" stroke="#d0d7de"/>',
        f'<line x1="{pad}" y1="{size}" x2="{pad + size}" y2="0" stroke="#8c959f" '
        'stroke-dasharray="3 3"/>',
    ]
    colours = ("#0969da", "#bc4c00", "#1a7f37")
    for k, (name, c) in enumerate(curves.items()):
        points = " ".join(
            f"{pad + size * p:.1f},{size - size * v:.1f}" for p, v in c["lorenz"] if v is not None
        )
        gini = c["gini"]["estimate"]
        gini_text = "—" if gini is None else f"{gini:.2f}"
        parts.append(
            f'<polyline class="lorenz-curve" data-by="{escape(name)}" data-gini="{gini}" '
            f'points="{points}" fill="none" stroke="{colours[k % 3]}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{pad + size + 10}" y="{20 + 18 * k}" font-size="12" fill="{colours[k % 3]}">'
            f"{escape(name)}: Gini {gini_text}</text>"
        )
    parts.append(_text(pad + size / 2, size + 28, "share of units (least spending first)"))
    parts.append(_text(12, size / 2, "cost", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def length_distribution(group: dict[str, Any]) -> str:
    """Finished and cut outputs per log-spaced length bin, the current cap and the recommended
    one marked."""
    hist = group["histogram"]
    edges, done, cut = hist["edges"], hist["finished"], hist["cut"]
    cap, rec = group.get("current_cap"), group.get("recommended_cap")
    parts = _open(
        "length-distribution",
        f"Output lengths of {group.get('route')} / {group.get('model')}",
        f' data-current-cap="{cap or ""}" data-recommended-cap="{rec or ""}"',
    )
    if len(edges) < 2:
        parts.append("</svg>")
        return "".join(parts)
    hi_value = max([edges[-1], cap or 0, rec or 0]) * 1.05
    lo, hi = math.log10(edges[0]), math.log10(hi_value)
    top = max(max(d + c for d, c in zip(done, cut, strict=False)), 1)

    def x(v: float) -> float:
        return _L + (_W - _L - _R) * (math.log10(max(v, edges[0])) - lo) / (hi - lo or 1)

    def h(c: float) -> float:
        return (_H - _T - _B) * c / top

    for k in range(len(done)):
        x0, x1 = x(edges[k]), x(edges[k + 1])
        w = max(1.0, x1 - x0 - 1)
        base = _H - _B
        if done[k]:
            parts.append(
                f'<rect x="{x0:.1f}" y="{base - h(done[k]):.1f}" width="{w:.1f}" '
                f'height="{h(done[k]):.1f}" fill="#0969da"><title>{done[k]} finished</title></rect>'
            )
        if cut[k]:
            parts.append(
                f'<rect class="cut" x="{x0:.1f}" y="{base - h(done[k] + cut[k]):.1f}" '
                f'width="{w:.1f}" height="{h(cut[k]):.1f}" fill="#cf222e">'
                f"<title>{cut[k]} cut at the cap</title></rect>"
            )
    for label, value, colour in (("cap", cap, "#57606a"), ("recommended", rec, "#1a7f37")):
        if value:
            parts.append(
                f'<line class="cap-mark" data-mark="{label}" data-value="{value}" '
                f'x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{_T}" y2="{_H - _B}" '
                f'stroke="{colour}" stroke-width="2" stroke-dasharray="5 3"/>'
            )
            parts.append(_text(x(value) - 3, _T + 12, f"{label} {value:,}", "end"))
    for tick in _log_ticks(edges[0], hi_value):
        parts.append(_text(x(tick), _H - _B + 14, f"{tick:g}"))
    parts.append(_text(_W / 2, _H - 6, "output tokens (log scale); red: cut at the cap"))
    parts.append("</svg>")
    return "".join(parts)


def forecast_fan(forecast: dict[str, Any]) -> str:
    """The forecast's 5–95% and 25–75% bands and median against request volume."""
    fan = forecast.get("fan") or []
    parts = _open("forecast-fan", "Cost forecast by request volume", f' data-points="{len(fan)}"')
    if not fan:
        parts.append("</svg>")
        return "".join(parts)
    xs = [f["requests"] for f in fan]
    top = max((f["quantiles"]["p95"] or 0.0) for f in fan) * 1.05 or 1.0
    lo, hi = math.log10(xs[0]), math.log10(xs[-1])

    def x(v: float) -> float:
        return _L + (_W - _L - _R) * (math.log10(v) - lo) / (hi - lo or 1)

    def y(v: float) -> float:
        return _H - _B - (_H - _T - _B) * v / top

    for low, high, colour in (("p5", "p95", "#b6e3ff"), ("p25", "p75", "#54aeff")):
        upper = " ".join(f"{x(f['requests']):.1f},{y(f['quantiles'][high]):.1f}" for f in fan)
        lower = " ".join(
            f"{x(f['requests']):.1f},{y(f['quantiles'][low]):.1f}" for f in reversed(fan)
        )
        parts.append(
            f'<polygon class="band" data-band="{low}-{high}" points="{upper} {lower}" '
            f'fill="{colour}" opacity="0.8"/>'
        )
    median = " ".join(f"{x(f['requests']):.1f},{y(f['quantiles']['p50']):.1f}" for f in fan)
    parts.append(
        f'<polyline class="median" points="{median}" fill="none" stroke="#0550ae" '
        'stroke-width="2"/>'
    )
    for f in fan:
        parts.append(
            f'<circle class="fan-point" data-requests="{f["requests"]}" '
            f'data-p50="{f["quantiles"]["p50"]}" data-p5="{f["quantiles"]["p5"]}" '
            f'data-p95="{f["quantiles"]["p95"]}" cx="{x(f["requests"]):.1f}" '
            f'cy="{y(f["quantiles"]["p50"]):.1f}" r="3" fill="#0550ae">'
            f"<title>{f['requests']:,.0f} requests: ${f['quantiles']['p50']:,.2f} "
            f"(90%: ${f['quantiles']['p5']:,.2f}–${f['quantiles']['p95']:,.2f})</title></circle>"
        )
        parts.append(_text(x(f["requests"]), _H - _B + 14, f"{f['requests']:,.0f}"))
    for frac in (0.0, 0.5, 1.0):
        parts.append(_text(_L - 4, y(top * frac / 1.05) + 4, f"${top * frac / 1.05:,.2f}", "end"))
    parts.append(_text(_W / 2, _H - 6, "requests (log scale); bands: 50% and 90% of forecasts"))
    parts.append("</svg>")
    return "".join(parts)
