"""Did contamination move the score? Llama 2's per-subset Z-test (Touvron et al. 2023, App. A.6).

For each subset (clean, not clean, not dirty, dirty) of size ``n`` with mean score ``x̄``, Llama 2
compares ``x̄`` with the sampling distribution of the mean of ``n`` samples drawn from the whole
benchmark, whose mean is the benchmark mean ``μ`` and whose variance is ``σ²/n``:

    Z_n = (x̄ − μ) / sqrt(σ² / n)

For pass/fail scores ``σ² = μ(1 − μ)``, which is how Table 51's values were computed (they
reproduce from its ``n``, ``x̄`` and ``μ``); for graded scores ``σ²`` is the population variance
of the per-sample scores (the same thing for 0/1 scores). By the central limit theorem ``Z_n`` is
about standard normal if contamination does not matter; Llama 2 calls a benchmark affected when
every subset has ``|Z_n| > 2``. Finite-population correction is not applied, as in the paper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.data.contamination.report import ContaminationError
from assay.data.contamination.settings import SUBSETS, ContaminationSettings

if TYPE_CHECKING:
    from assay.store import Store

#: Llama 2's criterion: contamination affected the benchmark if every subset has |Z| above this.
AFFECTED_Z = 2.0


def llama2_z(xbar: float, mu: float, n: int, variance: float | None = None) -> float | None:
    """``(x̄ − μ) / sqrt(σ²/n)`` with ``σ² = μ(1 − μ)`` unless ``variance`` is given.

    Returns ``None`` when undefined: an empty subset, or zero variance (every score equal).
    """
    if n <= 0:
        return None
    var = mu * (1.0 - mu) if variance is None else variance
    if not var > 0.0:
        return None
    return (xbar - mu) / math.sqrt(var / n)


@dataclass(frozen=True)
class SubsetScore:
    """One row of Table 51: a subset's size, mean contamination, mean score and Z."""

    subset: str
    n: int
    avg_overlap: float | None
    mean: float | None
    mu: float
    z: float | None


@dataclass(frozen=True)
class ContaminationEffect:
    """Score per contamination subset for one subject and scorer, with Llama 2's verdict.

    ``affected`` is True when every subset has ``|Z| > 2``, False when some subset is defined
    and below, ``None`` when no Z could be computed. ``n_unscored`` counts eval samples without a
    score (never counted as zeros); ``n_unknown`` counts scored samples the scan did not cover.
    """

    subject: str | None
    scorer: str | None
    n: int
    mu: float
    variance: float
    rows: tuple[SubsetScore, ...]
    affected: bool | None
    n_unscored: int = 0
    n_unknown: int = 0


def contamination_effect(
    overlaps: Mapping[str, float],
    scores: Mapping[str, float],
    settings: ContaminationSettings | None = None,
    *,
    subject: str | None = None,
    scorer: str | None = None,
) -> ContaminationEffect:
    """Score per Llama 2 subset and its Z against the whole benchmark.

    ``overlaps``: sample id → contaminated share (``ContaminationReport.overlaps()``).
    ``scores``: sample id → score (per-sample mean over epochs; ``None`` values are skipped).
    The benchmark is every sample that has both an overlap and a score.
    """
    settings = settings or ContaminationSettings()
    pairs = [
        (overlaps[sid], float(value))
        for sid, value in scores.items()
        if sid in overlaps and value is not None and math.isfinite(float(value))
    ]
    n_unknown = sum(1 for sid, v in scores.items() if sid not in overlaps and v is not None)
    n_unscored = sum(1 for sid in overlaps if scores.get(sid) is None)
    if not pairs:
        raise ContaminationError(
            "no eval sample has both a score and a contamination measurement",
            where="scores",
            fix="score the same samples that were scanned (sample ids must match)",
        )
    n = len(pairs)
    mu = sum(v for _, v in pairs) / n
    variance = sum((v - mu) ** 2 for _, v in pairs) / n
    members: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for overlap, value in pairs:
        for subset in settings.subsets_of(overlap):
            members[subset].append((overlap, value))
    rows = []
    for subset in SUBSETS:
        group = members.get(subset, [])
        size = len(group)
        mean = sum(v for _, v in group) / size if size else None
        rows.append(
            SubsetScore(
                subset=subset,
                n=size,
                avg_overlap=sum(o for o, _ in group) / size if size else None,
                mean=mean,
                mu=mu,
                z=llama2_z(mean, mu, size, variance) if mean is not None else None,
            )
        )
    zs = [r.z for r in rows if r.z is not None]
    affected = None if not zs else len(zs) == len(rows) and all(abs(z) > AFFECTED_Z for z in zs)
    return ContaminationEffect(
        subject=subject,
        scorer=scorer,
        n=n,
        mu=mu,
        variance=variance,
        rows=tuple(rows),
        affected=affected,
        n_unscored=n_unscored,
        n_unknown=n_unknown,
    )


def scores_from_run(
    store: Store, run_id: str, *, subject: str | None = None, scorer: str | None = None
) -> dict[tuple[str, str], dict[str, float]]:
    """Per-sample scores of a stored run: ``(subject, scorer) → {sample id: score}``.

    A sample's score is the mean over its epochs of the scorer's non-null values (the sample is
    the unit of analysis); errored results and ungradable scores are left out, never zeros.
    Streams the results with :meth:`Store.iter_results`.
    """
    sums: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
    for result in store.iter_results(run_id, subject):
        if not result.ok:
            continue
        for score in result.scores:
            if scorer is not None and score.scorer != scorer:
                continue
            if score.value is None or not math.isfinite(score.value):
                continue
            acc = sums[(result.subject, score.scorer)].setdefault(result.sample_id, [0.0, 0.0])
            acc[0] += score.value
            acc[1] += 1
    if not sums:
        wanted = " and ".join(
            f"{k} {v!r}" for k, v in (("subject", subject), ("scorer", scorer)) if v
        )
        raise ContaminationError(
            f"run {run_id!r} has no scored results" + (f" for {wanted}" if wanted else ""),
            where=f"run {run_id}",
            fix="pick a run with scores (`assay runs`), or check --subject / --scorer",
        )
    return {
        key: {sid: total / count for sid, (total, count) in per_sample.items()}
        for key, per_sample in sorted(sums.items())
    }
