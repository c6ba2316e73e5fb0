"""Verdicts: what a comparison may honestly claim (REQUIREMENTS B2, B9).

Every comparison lands in one of four boxes, and a metric whose aggregate hides a slice that
got worse lands in a fifth:

* ``improved`` / ``regressed``: the difference is significant at ``alpha`` (after the
  correction for the number of slices and metrics tested);
* ``no detectable difference``: not significant, and the comparison was sensitive enough to
  see an effect of the size that matters (MDE ≤ ``min_effect``): a difference that large
  would probably have been detected;
* ``underpowered``: not significant, and the comparison could not have detected an effect
  of the size that matters (MDE > ``min_effect``), or had too little data to test at all.
  Absence of evidence here is not evidence of absence;
* ``mixed: slice regression``: the aggregate did not regress, but a slice did —
  significantly, or by more than its own MDE (B9: +0.4 points overall with −8 on one slice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Literal, cast

IMPROVED: Final = "improved"
REGRESSED: Final = "regressed"
NO_DIFFERENCE: Final = "no detectable difference"
UNDERPOWERED: Final = "underpowered"
MIXED: Final = "mixed: slice regression"

VerdictLabel = Literal[
    "improved",
    "regressed",
    "no detectable difference",
    "underpowered",
    "mixed: slice regression",
]

#: Verdicts a CI gate treats as failures.
FAILING: Final = (REGRESSED, MIXED)


def verdict(
    difference: float,
    p_value: float,
    mde: float,
    *,
    min_effect: float,
    alpha: float = 0.05,
) -> VerdictLabel:
    """The verdict of one comparison (see the module docstring).

    ``difference`` is b − a; ``p_value`` the (adjusted) p-value of the test used; ``mde`` the
    minimum detectable effect at this n (:func:`~assay.stats.power.minimum_detectable_effect`);
    ``min_effect`` the smallest difference worth detecting, in the metric's units. A NaN
    p-value or MDE (too few samples to test) gives ``underpowered``.
    Example (REQUIREMENTS B2): 100 samples, 82% → 85%, p ≈ 0.5 and MDE ≈ 12.6 points against
    a 3-point effect of interest → ``underpowered``.
    """
    if math.isnan(p_value) or math.isnan(mde):
        return UNDERPOWERED
    if p_value < alpha and difference != 0:
        return IMPROVED if difference > 0 else REGRESSED
    return NO_DIFFERENCE if mde <= min_effect else UNDERPOWERED


def slice_regressed(label: str, difference: float, mde: float) -> bool:
    """Whether a slice counts as regressed for B9: it is ``regressed``, or it is not
    significantly different (``no detectable difference`` / ``underpowered``) and its
    difference is negative and at least its MDE in size (a drop the slice was powered to see).
    Any other label (a verdict withheld, say) is not read as a regression."""
    if label == REGRESSED:
        return True
    return (
        label in (NO_DIFFERENCE, UNDERPOWERED)
        and not math.isnan(mde)
        and difference < 0
        and -difference >= mde
    )


def overall_verdict(aggregate: str, slices: Sequence[tuple[str, float, float]]) -> VerdictLabel:
    """A metric's verdict from its aggregate verdict and its slices' (label, difference, MDE).

    A regressed aggregate stays ``regressed``; otherwise any slice that
    :func:`slice_regressed` makes it ``mixed: slice regression``; otherwise the aggregate's
    verdict stands.
    """
    if aggregate == REGRESSED:
        return REGRESSED
    if any(slice_regressed(label, d, mde) for label, d, mde in slices):
        return MIXED
    if aggregate not in (IMPROVED, NO_DIFFERENCE, UNDERPOWERED, MIXED):
        raise ValueError(f"unknown verdict {aggregate!r}")
    return cast(VerdictLabel, aggregate)
