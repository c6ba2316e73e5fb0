"""Position bias: does the order in which two outputs are shown sway the judge? (issue 6.)

Every pair is judged twice, once with output A shown first and once with B shown first, and
both verdicts are expressed in terms of the *outputs* (``"a"``, ``"b"``, ``"tie"``; ``None``
for a judge error). A judge without position bias gives the same verdict in both orders and,
when it decides, picks the first-shown output half the time. Zheng et al. (2023), "Judging
LLM-as-a-Judge with MT-Bench and Chatbot Arena" (arXiv 2306.05685), §3.3/Table 2: GPT-4 was
consistent on 65% of MT-Bench pairs; Zeng et al. (2024), "Evaluating Large Language Models at
Evaluating Instruction Following" (LLMBar, arXiv 2310.07641) report per-order accuracy, the
consistency rate and Cohen's kappa between the two orders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core.certificate import CheckResult, CheckVerdict
from assay.stats import Interval, clustered_interval, cohens_kappa, wilson_interval

LABELS = ("a", "b", "tie")


def _label(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text not in LABELS:
        raise ValueError(f"{where}: verdicts must be 'a', 'b', 'tie' or None, got {value!r}")
    return text


def bias_verdict(
    rate: float, low: float, high: float, tolerance: float
) -> tuple[CheckVerdict, list[str]]:
    """The position-bias rule on a first-shown preference rate: ``fail`` when the interval
    excludes 0.5 *and* the rate is more than ``tolerance`` from 0.5; ``warn`` when only one
    holds; ``pass`` otherwise. Returns the verdict and which conditions held
    (``interval_excludes_half``, ``beyond_tolerance``)."""
    held = []
    if low > 0.5 or high < 0.5:
        held.append("interval_excludes_half")
    if abs(rate - 0.5) > tolerance:
        held.append("beyond_tolerance")
    verdict: CheckVerdict = "fail" if len(held) == 2 else "warn" if held else "pass"
    return verdict, held


def _first_rate_interval(picks: list[int], pairs: list[int], confidence: float) -> Interval:
    """Interval for the share of decided verdicts that picked the first-shown output.

    The two verdicts of one pair are not independent (a judge that sees a real quality
    difference picks the better output in both orders: once first-shown, once second), so
    pairs are clusters: the cluster-robust t interval (:func:`assay.stats.clustered_interval`,
    CR1). When it is undefined or degenerate (fewer than two pairs, or every verdict the
    same) the Wilson interval of the verdicts is used instead.
    """
    k, n = int(sum(picks)), len(picks)
    if len(set(pairs)) >= 2 and 0 < k < n:
        ci = clustered_interval(np.asarray(picks, dtype=float), np.asarray(pairs), confidence)
        if not math.isnan(ci.low) and ci.high > ci.low:
            return Interval(
                ci.estimate,
                max(0.0, ci.low),
                min(1.0, ci.high),
                ci.n,
                ci.method,
                confidence,
                ci.standard_error,
            )
    return wilson_interval(k, n, confidence)


def position_checks(
    first: Sequence[Any],
    second: Sequence[Any],
    gold: Sequence[Any] | None = None,
    *,
    tolerance: float = 0.05,
    confidence: float = 0.95,
) -> list[CheckResult]:
    """Position-bias checks from verdicts in both presentation orders.

    ``first[i]`` is the verdict on pair i with output A shown first, ``second[i]`` with B shown
    first, both in terms of the outputs (``"a"``, ``"b"``, ``"tie"``, ``None`` = error).
    ``gold[i]`` (``"a"``/``"b"``), if given, is the better output. Returns, in order:

    ``position_consistency``
        share of pairs (both verdicts present) whose two verdicts are identical, ties
        included as a label (LLMBar's ``equal``, MT-Bench's consistency), Wilson interval.
        Informational (``pass``): an inconsistent judge is noisy or biased; the direction is
        decided by the next check. ``details`` counts MT-Bench's pair classes: consistent,
        inconsistent favouring the first-shown (A when A first, B when B first), favouring
        the second-shown, and inconsistent with a tie.
    ``position_first_rate``
        among decided single verdicts (not ties, not errors; both orders pooled), the share
        that picked the first-shown output, with a cluster-robust interval (pairs as
        clusters). Flag ``position_bias``: ``fail`` when the interval excludes 0.5 and the rate
        is more than ``tolerance`` from 0.5, ``warn`` when only one holds (:func:`bias_verdict`).
    ``position_second_rate``
        the share that picked the second-shown output (1 − the first-shown rate, since ties
        are left out), with the mirrored interval and the same verdict.
    ``position_kappa``
        Cohen's kappa between the two orders' verdicts (LLMBar's ``kappa_agreement``), with
        its asymptotic interval, informational. It compares the judge with itself, so it
        needs no gold labels;
    with ``gold``: ``position_accuracy_first_order`` and ``position_accuracy_second_order``
        share of pairs with a verdict in that order whose verdict equals ``gold`` (a tie or a
        wrong pick is wrong; LLMBar's ``correct_False``/``correct_True``), Wilson intervals,
        informational; ``details`` of the second also holds ``correct_both``.
    """
    if len(first) != len(second):
        raise ValueError(f"first and second differ in length: {len(first)}, {len(second)}")
    if gold is not None and len(gold) != len(first):
        raise ValueError(f"gold has {len(gold)} labels for {len(first)} pairs")
    f = [_label(v, "first") for v in first]
    s = [_label(v, "second") for v in second]
    g = None if gold is None else [_label(v, "gold") for v in gold]
    if g is not None and any(x == "tie" for x in g):
        raise ValueError("gold labels must be 'a' or 'b' (or None)")
    checks: list[CheckResult] = []

    # Consistency -------------------------------------------------------------------------
    both = [(x, y) for x, y in zip(f, s, strict=True) if x is not None and y is not None]
    agree = sum(x == y for x, y in both)
    classes = {
        "consistent": agree,
        "favour_first": sum(x == "a" and y == "b" for x, y in both),
        "favour_second": sum(x == "b" and y == "a" for x, y in both),
        "inconsistent_with_tie": sum(x != y and "tie" in (x, y) for x, y in both),
    }
    errors = {
        "first_order_errors": sum(x is None for x in f),
        "second_order_errors": sum(y is None for y in s),
    }
    if both:
        ci = wilson_interval(agree, len(both), confidence)
        checks.append(
            CheckResult(
                check="position_consistency",
                figure=ci.estimate,
                low=ci.low,
                high=ci.high,
                n=len(both),
                verdict="pass",
                message=(
                    f"the two presentation orders agree on {agree}/{len(both)} pairs "
                    f"({100 * ci.estimate:.1f}%)"
                ),
                details={**classes, **errors},
            )
        )
    else:
        checks.append(
            CheckResult(
                check="position_consistency",
                verdict="skipped",
                message="no pair was judged in both orders",
                details=errors,
            )
        )

    # First- and second-shown preference rates ---------------------------------------------
    picks: list[int] = []
    pairs: list[int] = []
    ties = 0
    for i, (x, y) in enumerate(zip(f, s, strict=True)):
        for verdict, first_label in ((x, "a"), (y, "b")):
            if verdict is None:
                continue
            if verdict == "tie":
                ties += 1
                continue
            picks.append(int(verdict == first_label))
            pairs.append(i)
    if picks:
        ci = _first_rate_interval(picks, pairs, confidence)
        rate = ci.estimate
        verdict, held = bias_verdict(rate, ci.low, ci.high, tolerance)
        details = {
            "decided": len(picks),
            "ties": ties,
            "picked_first": int(sum(picks)),
            "picked_second": len(picks) - int(sum(picks)),
            "tolerance": tolerance,
            "conditions_held": held,
            "interval_method": ci.method,
        }
        flag = "position_bias" if verdict == "fail" else None
        side = "first" if rate > 0.5 else "second"
        message = (
            f"picks the first-shown output in {100 * rate:.1f}% "
            f"[{100 * ci.low:.1f}, {100 * ci.high:.1f}] of decided verdicts"
        )
        if verdict == "fail":
            message += f": position bias towards the {side}-shown output"
        elif verdict == "warn":
            message += (
                " (not clearly 50%)" if "interval_excludes_half" in held else " (too few verdicts)"
            )
        checks.append(
            CheckResult(
                check="position_first_rate",
                figure=rate,
                low=ci.low,
                high=ci.high,
                n=len(picks),
                verdict=verdict,
                flag=flag,
                message=message,
                details=details,
            )
        )
        checks.append(
            CheckResult(
                check="position_second_rate",
                figure=1 - rate,
                low=1 - ci.high,
                high=1 - ci.low,
                n=len(picks),
                verdict=verdict,
                flag=flag,
                message=(
                    f"picks the second-shown output in {100 * (1 - rate):.1f}% "
                    f"[{100 * (1 - ci.high):.1f}, {100 * (1 - ci.low):.1f}] of decided verdicts"
                ),
                details=details,
            )
        )
    else:
        for name in ("position_first_rate", "position_second_rate"):
            checks.append(
                CheckResult(
                    check=name,
                    verdict="skipped",
                    message="no decided verdict (all ties or errors)",
                    details={"ties": ties, **errors},
                )
            )

    # Agreement between the orders (needs no gold) ------------------------------------------
    if both:
        kappa = cohens_kappa(f, s, categories=list(LABELS), confidence=confidence)
        ok = not math.isnan(kappa.kappa)
        checks.append(
            CheckResult(
                check="position_kappa",
                figure=kappa.kappa if ok else None,
                low=kappa.low if ok else None,
                high=kappa.high if ok else None,
                n=kappa.n,
                verdict="pass" if ok else "skipped",
                message=(
                    f"Cohen's kappa between the two orders: {kappa.kappa:.3f}"
                    if ok
                    else "kappa undefined (one label only)"
                ),
                details={"observed": kappa.observed, "expected": kappa.expected},
            )
        )

    # Accuracy against gold -----------------------------------------------------------------
    if g is None:
        return checks
    correct_both = sum(
        x is not None and y is not None and x == y == t
        for x, y, t in zip(f, s, g, strict=True)
        if t is not None
    )
    for name, order, shown in (
        ("position_accuracy_first_order", f, "A first"),
        ("position_accuracy_second_order", s, "B first"),
    ):
        judged = [(v, t) for v, t in zip(order, g, strict=True) if v is not None and t is not None]
        if not judged:
            checks.append(
                CheckResult(
                    check=name, verdict="skipped", message=f"no gold-labelled verdict ({shown})"
                )
            )
            continue
        correct = sum(v == t for v, t in judged)
        ci = wilson_interval(correct, len(judged), confidence)
        extra: dict[str, Any] = {"correct": correct, "order": shown}
        if order is s:
            extra["correct_both"] = correct_both
        checks.append(
            CheckResult(
                check=name,
                figure=ci.estimate,
                low=ci.low,
                high=ci.high,
                n=len(judged),
                verdict="pass",
                message=(
                    f"accuracy with {shown}: {correct}/{len(judged)} ({100 * ci.estimate:.1f}%)"
                ),
                details=extra,
            )
        )
    return checks


def identical_pair_check(
    verdicts: Sequence[Any],
    *,
    first_label: str = "a",
    second_label: str = "b",
    tie_label: str = "tie",
    tolerance: float = 0.05,
    confidence: float = 0.95,
) -> CheckResult:
    """Position bias measured directly: the *same* output shown in both slots.

    ``verdicts[i]`` is the judge's pick on probe i, in slot terms: ``first_label`` (the
    first-shown slot), ``second_label``, ``tie_label`` (compared case-insensitively, so the
    judge's own ``"A"``/``"B"``/``"tie"`` labels work), or ``None`` for an error. Any other
    value raises. A judge without position bias calls a tie or splits its picks 50/50.

    Figure: the first-slot rate among all non-error verdicts, with a Wilson interval;
    ``details`` has the second-slot and tie rates and the split among decided verdicts.
    Verdict (flag ``position_bias``): the rule of :func:`bias_verdict` on the first-slot
    share *among decided verdicts* (Wilson interval), so a judge that mostly ties but always
    picks the first slot when it does decide is still named.
    """
    labels = {
        first_label.lower(): "first",
        second_label.lower(): "second",
        tie_label.lower(): "tie",
    }
    counts = {"first": 0, "second": 0, "tie": 0}
    errors = 0
    for v in verdicts:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            errors += 1
            continue
        key = str(v).strip().lower()
        if key not in labels:
            raise ValueError(
                f"identical-pair verdicts must be {first_label!r}, {second_label!r}, "
                f"{tie_label!r} or None, got {v!r}"
            )
        counts[labels[key]] += 1
    n = sum(counts.values())
    if n == 0:
        return CheckResult(
            check="position_identical_pair",
            verdict="skipped",
            message="no identical-pair verdicts",
            details={"errors": errors},
        )
    ci = wilson_interval(counts["first"], n, confidence)
    decided = counts["first"] + counts["second"]
    details: dict[str, Any] = {
        **counts,
        "errors": errors,
        "second_rate": counts["second"] / n,
        "tie_rate": counts["tie"] / n,
        "decided": decided,
        "tolerance": tolerance,
    }
    verdict: CheckVerdict = "pass"
    held: list[str] = []
    if decided:
        split = wilson_interval(counts["first"], decided, confidence)
        verdict, held = bias_verdict(split.estimate, split.low, split.high, tolerance)
        details.update(
            first_share_of_decided=split.estimate,
            first_share_low=split.low,
            first_share_high=split.high,
            conditions_held=held,
        )
    message = (
        f"same output in both slots: first slot {100 * ci.estimate:.1f}% "
        f"[{100 * ci.low:.1f}, {100 * ci.high:.1f}], second {100 * details['second_rate']:.1f}%, "
        f"tie {100 * details['tie_rate']:.1f}%"
    )
    if verdict == "fail":
        message += ": position bias"
    return CheckResult(
        check="position_identical_pair",
        figure=ci.estimate,
        low=ci.low,
        high=ci.high,
        n=n,
        verdict=verdict,
        flag="position_bias" if verdict == "fail" else None,
        message=message,
        details=details,
    )
