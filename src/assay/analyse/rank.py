"""Many candidates at once (issue 13, item 2): ``assay rank RUN1 RUN2 RUN3 …`` and
``assay compare`` with more than two runs.

Candidates are runs, or subjects of runs (``RUN:SUBJECT``; a run with several subjects gives
one candidate per subject). All are joined by sample id (the samples every candidate graded)
and, per scorer, the report gives:

* every paired difference with its test and interval (:mod:`assay.analyse.paired_estimators`:
  McNemar's exact test with Tango's interval for pass/fail, the paired t otherwise), Holm-
  corrected across all K(K − 1)/2 pairs, so the chance of any false "X beats Y" stays ≤ α;
* each candidate against a baseline (the first, or ``baseline``), Holm across K − 1: the
  forest plot's rows;
* the bootstrap rank distribution, P(best) and expected rank (nested over epochs when there
  are any), and simultaneous rank intervals (:func:`assay.stats.ranking.rank_distribution`);
* the model confidence set (:func:`assay.stats.ranking.model_confidence_set`), and one verdict
  line saying which candidates can be dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.analyse.paired_estimators import estimate_group
from assay.analyse.scores import RunScores, load_scores
from assay.core import AssayError
from assay.stats import Interval, adjust_p_values
from assay.stats.ranking import ConfidenceSet, RankDistribution, model_confidence_set
from assay.stats.ranking import rank_distribution as _rank_distribution
from assay.store import Store


@dataclass(frozen=True)
class Candidate:
    """One system being ranked: a subject of a stored run."""

    name: str
    run_id: str
    subject: str


@dataclass(frozen=True)
class PairRow:
    """B − A for one pair of candidates (``b`` minus ``a``), Holm-corrected."""

    a: str
    b: str
    difference: float
    interval: Interval
    test: str
    p_value: float
    p_adjusted: float

    @property
    def significant(self) -> bool:
        return self.p_adjusted < 0.05 if not math.isnan(self.p_adjusted) else False


@dataclass(frozen=True)
class ScorerRanking:
    """Everything about one scorer's ranking of the candidates."""

    scorer: str
    names: list[str]
    n_items: int
    epochs: float
    means: list[float]
    pairs: list[PairRow]
    baseline: str
    versus_baseline: list[PairRow]
    ranks: RankDistribution
    confidence_set: ConfidenceSet
    alpha: float

    @property
    def keep(self) -> list[str]:
        return [self.names[i] for i in self.confidence_set.included]

    @property
    def drop(self) -> list[str]:
        return [self.names[i] for i in self.confidence_set.excluded]

    @property
    def verdict(self) -> str:
        """One line: which candidates can be dropped."""
        level = f"{100 * (1 - self.alpha):.0f}%"
        keep = ", ".join(self.keep)
        if not self.drop:
            return f"no candidate can be dropped: all are indistinguishable from the best ({level})"
        return (
            f"drop {', '.join(self.drop)}; keep {keep} (indistinguishable from the best: "
            f"model confidence set at {level})"
        )


@dataclass(frozen=True)
class RankReport:
    candidates: list[Candidate]
    rankings: list[ScorerRanking]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [c.__dict__ for c in self.candidates],
            "warnings": self.warnings,
            "rankings": [_ranking_dict(r) for r in self.rankings],
        }


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _pair_dict(p: PairRow) -> dict[str, Any]:
    i = p.interval
    return {
        "a": p.a,
        "b": p.b,
        "difference": _num(p.difference),
        "low": _num(i.low),
        "high": _num(i.high),
        "method": i.method,
        "test": p.test,
        "p_value": _num(p.p_value),
        "p_adjusted": _num(p.p_adjusted),
    }


def _ranking_dict(r: ScorerRanking) -> dict[str, Any]:
    rd = r.ranks
    return {
        "scorer": r.scorer,
        "verdict": r.verdict,
        "n_items": r.n_items,
        "epochs": r.epochs,
        "baseline": r.baseline,
        "keep": r.keep,
        "drop": r.drop,
        "candidates": [
            {
                "name": name,
                "mean": _num(r.means[j]),
                "p_best": _num(rd.p_best[j]),
                "expected_rank": _num(rd.expected_rank[j]),
                "rank_interval": [int(rd.rank_low[j]), int(rd.rank_high[j])],
                "rank_distribution": [_num(v) for v in rd.distribution[j]],
                "mcs_p_value": _num(r.confidence_set.p_values[j]),
                "in_confidence_set": j in r.confidence_set.included,
            }
            for j, name in enumerate(r.names)
        ],
        "pairs": [_pair_dict(p) for p in r.pairs],
        "versus_baseline": [_pair_dict(p) for p in r.versus_baseline],
        "rank_confidence": rd.confidence,
        "nested_bootstrap": rd.nested,
        "n_resamples": rd.n_resamples,
    }


def resolve_candidates(store: Store, refs: Sequence[str]) -> list[tuple[Candidate, RunScores]]:
    """``RUN`` (every subject of the run) or ``RUN:SUBJECT``, each run read once. Names are
    the subject's, suffixed with the run id's last part when they would clash."""
    loaded: dict[str, RunScores] = {}
    picked: list[tuple[str, str]] = []
    for ref in refs:
        run_ref, _, subject = ref.partition(":")
        run_id = store.resolve_run_id(run_ref)
        if run_id not in loaded:
            loaded[run_id] = load_scores(store, run_id)
        subjects = loaded[run_id].subjects
        if subject and subject not in subjects:
            raise AssayError(
                f"run {run_id} has no subject {subject!r}",
                where=ref,
                fix=f"its subjects: {', '.join(subjects)}",
            )
        for s in [subject] if subject else subjects:
            picked.append((run_id, s))
    if len(set(picked)) != len(picked):
        raise AssayError("a candidate is named twice", fix="name each run (or RUN:SUBJECT) once")
    counts: dict[str, int] = {}
    for _, s in picked:
        counts[s] = counts.get(s, 0) + 1
    out = []
    for run_id, s in picked:
        name = s if counts[s] == 1 else f"{s}@{run_id.rsplit('-', 1)[-1]}"
        out.append((Candidate(name, run_id, s), loaded[run_id]))
    if len(out) < 2:
        raise AssayError(
            "ranking needs at least two candidates",
            fix="give two or more runs, or a run with several subjects",
        )
    return out


def rank_candidates(
    candidates: Sequence[tuple[Candidate, RunScores]],
    *,
    scorers: Sequence[str] | None = None,
    baseline: str | None = None,
    alpha: float = 0.05,
    n_resamples: int = 2_000,
    seed: int = 0,
) -> RankReport:
    """Rank candidates already read from the store (see the module docstring)."""
    names = [c.name for c, _ in candidates]
    if baseline is not None and baseline not in names:
        raise AssayError(
            f"no candidate is named {baseline!r}", where="--baseline", fix=", ".join(names)
        )
    common = [s for s in candidates[0][1].scorers if all(s in r.scorers for _, r in candidates)]
    if scorers:
        missing = [s for s in scorers if s not in common]
        if missing:
            raise AssayError(
                f"scorer {missing[0]!r} is not in every run",
                where="--scorer",
                fix=f"scorers in all: {', '.join(common) or '(none)'}",
            )
        common = list(scorers)
    if not common:
        raise AssayError("the candidates share no scorer", fix="rank runs graded the same way")
    warnings: list[str] = []
    rankings = []
    for scorer in common:
        per = [r.per_sample(c.subject, scorer) for c, r in candidates]
        shared = sorted(set.intersection(*(set(p) for p in per)))
        left_out = max(len(p) for p in per) - len(shared)
        if left_out:
            warnings.append(
                f"{scorer}: {left_out} samples not graded for every candidate are left out "
                "(candidates are joined by sample id)"
            )
        if len(shared) < 2:
            warnings.append(f"{scorer}: fewer than two samples shared by every candidate")
            continue
        rankings.append(
            _rank_scorer(scorer, names, per, shared, baseline or names[0], alpha, n_resamples, seed)
        )
    if not rankings:
        raise AssayError(
            "the candidates share too few graded samples to rank",
            fix="rank runs over the same dataset (samples are joined by id)",
        )
    return RankReport([c for c, _ in candidates], rankings, warnings)


def _rank_scorer(
    scorer: str,
    names: list[str],
    per: list[dict[str, list[float]]],
    shared: list[str],
    baseline: str,
    alpha: float,
    n_resamples: int,
    seed: int,
) -> ScorerRanking:
    k = len(names)
    epochs = max(len(p[i]) for p in per for i in shared)
    cube = np.full((len(shared), k, epochs), np.nan)
    for j, p in enumerate(per):
        for row, i in enumerate(shared):
            cube[row, j, : len(p[i])] = p[i]
    x = np.nanmean(cube, axis=2)
    binary = epochs == 1 and bool(np.all((x == 0) | (x == 1)))
    confidence = 1 - alpha

    def pair(a: int, b: int) -> tuple[float, Interval, str, float]:
        est = estimate_group(
            x[:, a], x[:, b], None, binary, confidence=confidence, alpha=alpha, min_clusters=10
        )
        return float(x[:, b].mean() - x[:, a].mean()), est.interval, est.test, est.p_value

    def corrected(rows: list[tuple[int, int]]) -> list[PairRow]:
        found = [pair(a, b) for a, b in rows]
        adjusted, _ = adjust_p_values([f[3] for f in found], "holm", alpha=alpha)
        return [
            PairRow(names[a], names[b], d, i, t, p, float(q))
            for (a, b), (d, i, t, p), q in zip(rows, found, adjusted, strict=True)
        ]

    pairs = corrected([(a, b) for a in range(k) for b in range(a + 1, k)])
    base = names.index(baseline)
    versus = corrected([(base, j) for j in range(k) if j != base])
    ranks = _rank_distribution(
        cube if epochs > 1 else x, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    mcs = model_confidence_set(x, size=alpha, n_resamples=max(n_resamples // 2, 500), seed=seed)
    return ScorerRanking(
        scorer=scorer,
        names=names,
        n_items=len(shared),
        epochs=float(np.mean(np.sum(~np.isnan(cube), axis=2))),
        means=[float(v) for v in x.mean(axis=0)],
        pairs=pairs,
        baseline=baseline,
        versus_baseline=versus,
        ranks=ranks,
        confidence_set=mcs,
        alpha=alpha,
    )


def rank_runs(
    store: Store,
    refs: Sequence[str],
    *,
    scorers: Sequence[str] | None = None,
    baseline: str | None = None,
    alpha: float = 0.05,
    n_resamples: int = 2_000,
    seed: int = 0,
) -> RankReport:
    """Rank stored runs (or ``RUN:SUBJECT`` subjects) against each other: a pure function of
    the store (resampling seeded)."""
    return rank_candidates(
        resolve_candidates(store, refs),
        scorers=scorers,
        baseline=baseline,
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
    )
