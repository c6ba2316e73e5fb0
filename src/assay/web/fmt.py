"""How figures are written on pages and in reports (the conventions of ``assay compare``'s
terminal view): rates as percentages and differences in points, other metrics to 3 significant
figures, p-values to 3 decimals. Formatting only; the numbers come from ``assay.analyse``."""

from __future__ import annotations

import math
from typing import Any


def missing(x: Any) -> bool:
    """Whether a figure is absent (``None`` or NaN)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def mean(x: float | None, rate: bool = True) -> str:
    """A mean: ``82.5%`` for a rate, ``3.42`` otherwise."""
    if missing(x):
        return "—"
    assert x is not None
    return f"{100 * x:.1f}%" if rate else f"{x:.3g}"


def delta(x: float | None, rate: bool = True, signed: bool = True) -> str:
    """A difference: ``+3.0`` points for a rate, ``+0.12`` otherwise."""
    if missing(x):
        return "—"
    assert x is not None
    if rate:
        return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def p_value(p: float | None) -> str:
    """A p-value: ``<0.001`` or three decimals."""
    if missing(p):
        return "—"
    assert p is not None
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def interval(i: dict[str, Any] | None, rate: bool = True) -> str:
    """``[low, high]`` of an interval dict, as differences."""
    if not i or missing(i.get("low")) or missing(i.get("high")):
        return "[—]"
    return f"[{delta(i['low'], rate)}, {delta(i['high'], rate)}]"


def estimate(i: dict[str, Any], rate: bool = True) -> str:
    """A mean with its interval: ``82.5% [78.1%, 86.3%]``."""
    if missing(i.get("low")) or missing(i.get("high")):
        return mean(i.get("estimate"), rate)
    return f"{mean(i['estimate'], rate)} [{mean(i['low'], rate)}, {mean(i['high'], rate)}]"


def is_rate(*values: float | None) -> bool:
    """Whether every present value lies in [0, 1] (shown as % and points)."""
    present = [v for v in values if not missing(v)]
    return all(0 <= v <= 1 for v in present)  # type: ignore[operator]


def raw(x: Any) -> str:
    """A number exactly as JSON writes it (for ``data-`` attributes that tests compare)."""
    if missing(x):
        return ""
    return repr(float(x)) if isinstance(x, (int, float)) else str(x)


FILTERS = {
    "mean": mean,
    "delta": delta,
    "p_value": p_value,
    "ci": interval,
    "estimate": estimate,
    "raw": raw,
}
