"""A probe's curve as inline SVG: the estimate per variant with its interval as a band."""

from __future__ import annotations

import math
from html import escape
from typing import Any

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 640, 260, 48, 16, 16, 44


def probe_curve_svg(result: dict[str, Any]) -> str:
    """``result`` is :meth:`ProbeResult.as_dict`; y runs from 0 to max(1, highest bound)."""
    points = [p for p in result["curve"] if p.get("estimate") is not None]
    if not points:
        return '<p class="muted">no values to plot</p>'
    top = float(max(1.0, *(p["high"] for p in points if p.get("high") is not None)))
    n = len(points)

    def x(i: int) -> float:
        span = _W - _LEFT - _RIGHT
        return _LEFT + (span / 2 if n == 1 else span * i / (n - 1))

    def y(v: float) -> float:
        return _TOP + (_H - _TOP - _BOTTOM) * (1 - max(0.0, v) / top)

    def bound(p: dict[str, Any], key: str) -> float:
        v = p.get(key)
        return float(p["estimate"] if v is None or not math.isfinite(v) else v)

    upper = [f"{x(i):.1f},{y(bound(p, 'high')):.1f}" for i, p in enumerate(points)]
    lower = [f"{x(i):.1f},{y(bound(p, 'low')):.1f}" for i, p in reversed(list(enumerate(points)))]
    line = " ".join(f"{x(i):.1f},{y(p['estimate']):.1f}" for i, p in enumerate(points))
    parts = [
        f'<svg class="probe-curve" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{escape(result["metric"])} by {escape(result["variant_key"])}">',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        v = tick * top
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">'
            f"{100 * v:.0f}%</text>"
        )
    parts.append(
        f'<polygon class="band" points="{" ".join(upper + lower)}" fill="#4a7bd0" '
        'fill-opacity="0.2" stroke="none"/>'
    )
    parts.append(f'<polyline points="{line}" fill="none" stroke="#2456a8" stroke-width="2"/>')
    for i, p in enumerate(points):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p["estimate"]):.1f}" r="3.5" fill="#2456a8">'
            f"<title>{escape(str(p['variant']))}: {100 * p['estimate']:.1f}% "
            f"[{100 * bound(p, 'low'):.1f}, {100 * bound(p, 'high'):.1f}] n={p['n']}</title>"
            "</circle>"
            f'<text x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11">{escape(str(p["variant"]))}</text>'
        )
    parts.append(
        f'<text x="{(_W + _LEFT) / 2:.1f}" y="{_H - 6}" text-anchor="middle" font-size="12">'
        f"{escape(result['variant_key'])}</text></svg>"
    )
    return "".join(parts)
