"""A pairwise judge run over k systems that samples the pairs it needs (issue 13, item 3):
``assay arena RUN:A RUN:B RUN:C … --judge J``.

The systems are subjects of stored runs (``RUN``: every subject of the run; ``RUN:SUBJECT``:
one). Each pair of systems is joined by sample id as :func:`assay.run.pairwise.pair_samples`
joins two sides, and each pair's shared samples are shuffled once (``seed``). The judge is the
ordinary pairwise judge (:class:`~assay.score.judges.PairwiseJudge`, both presentation orders)
run by the ordinary runner, so calls are cached, paced and retried, and every round is stored
as a pairwise judge run (named ``pairwise arena NAME round R``) that ``assay show`` and
``assay ratings`` read like any other.

Rounds:

1. warm-up: every pair of systems is judged on ``warmup`` samples;
2. then, while the ranking is not resolved and the budget (single-order verdicts) allows, the
   next ``per_round`` pairs are judged on ``batch`` samples each. ``active``: the unresolved
   adjacent pairs of the current Bradley-Terry fit, least resolved first
   (:func:`assay.stats.active_pairs.next_pairs`); ``uniform``: every pair in turn
   (round-robin), the baseline the active rule is measured against.

It stops when every adjacent gap is resolved (:func:`assay.stats.active_pairs.ranking_state`),
when the budget would be exceeded, or when the chosen pairs have no unjudged samples left.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from assay.core import Sample, SpecError
from assay.data import Dataset
from assay.run.evaluation import Eval
from assay.run.pairwise import PairSide, _graded, pair_samples, resolve_side
from assay.stats.active_pairs import RankingState, next_pairs, ranking_state
from assay.store import Store

STRATEGIES = ("active", "uniform")


@dataclass
class ArenaRound:
    run_id: str
    pairs: list[tuple[str, str]]
    n_verdicts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pairs": [list(p) for p in self.pairs],
            "n_verdicts": self.n_verdicts,
        }


@dataclass
class ArenaOutcome:
    """What an arena did: its systems, rounds, verdicts used, why it stopped, and the last
    ranking state (Wald fit with adjacent gaps)."""

    systems: list[str]
    strategy: str
    budget: int
    rounds: list[ArenaRound] = field(default_factory=list)
    verdicts: dict[str, list[Any]] = field(
        default_factory=lambda: {"first": [], "second": [], "outcome": []}
    )
    n_errors: int = 0
    stopped: str = ""
    state: RankingState | None = None
    #: Judges sharing a model lineage with a system they grade (C3), in words.
    warnings: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.rounds]

    @property
    def n_verdicts(self) -> int:
        return len(self.verdicts["outcome"])

    def as_dict(self) -> dict[str, Any]:
        state = self.state
        return {
            "systems": self.systems,
            "strategy": self.strategy,
            "budget": self.budget,
            "n_verdicts": self.n_verdicts,
            "n_errors": self.n_errors,
            "stopped": self.stopped,
            "warnings": self.warnings,
            "rounds": [r.as_dict() for r in self.rounds],
            "order": state.order() if state else [],
            "critical_z": state.critical_z if state else None,
            "gaps": [g.as_dict() for g in state.gaps] if state else [],
        }


def _sides(store: Store, refs: list[str]) -> list[PairSide]:
    sides: list[PairSide] = []
    for ref in refs:
        run_ref, _, subject = ref.partition(":")
        if subject:
            sides.append(resolve_side(store, ref))
            continue
        run_id = store.resolve_run_id(run_ref)
        for s in store.get_manifest(run_id).subjects:
            sides.append(resolve_side(store, f"{run_id}:{s.name}"))
    labels = [s.label for s in sides]
    if len(set(labels)) != len(labels):
        raise SpecError("a system is named twice", fix="name each RUN or RUN:SUBJECT once")
    if len(sides) < 2:
        raise SpecError("an arena needs at least two systems", fix="give two or more RUN:SUBJECT")
    return sides


def _read_round(
    store: Store, run_id: str, name: str, pairs: dict[str, dict[str, str]]
) -> tuple[list[str], list[str], list[float], int]:
    """Single-order verdicts of one stored round: (first, second, outcome) lists and the
    number of pairs without a verdict."""
    first: list[str] = []
    second: list[str] = []
    outcome: list[float] = []
    errors = 0
    for result in store.iter_results(run_id, name):
        verdict = result.output.metadata.get("pairwise") if result.output is not None else None
        if not isinstance(verdict, dict) or "error" in verdict:
            errors += 1
            continue
        labels = pairs[result.sample_id]
        for judge in verdict.get("judges", []):
            for single in judge.get("verdicts", []):
                order, winner = single.get("order"), single.get("winner")
                if order not in ("ab", "ba") or winner not in ("a", "b", "tie"):
                    continue
                first.append(labels[order[0]])
                second.append(labels[order[1]])
                outcome.append(0.5 if winner == "tie" else 1.0 if winner == order[0] else 0.0)
    return first, second, outcome, errors


def run_arena(
    store: Store,
    refs: list[str],
    *,
    judge: str | list[str],
    budget: int = 2_000,
    warmup: int = 2,
    batch: int = 8,
    per_round: int | None = None,
    strategy: str = "active",
    alpha: float = 0.05,
    seed: int = 0,
    name: str = "judge",
    arena_name: str = "arena",
    context: Any = None,
    lineage: Any = None,
    concurrency: int = 16,
    cache: bool = True,
) -> ArenaOutcome:
    """Judge the systems ``refs`` pair by pair until their ranking is resolved (see the module
    docstring). ``budget`` counts single-order verdicts (each judged pair gives two per
    judge); ``per_round`` defaults to k − 1 pairs."""
    from assay.providers.lineage import default_registry
    from assay.run.runner import RunOptions, run
    from assay.score.judges import PairwiseJudge, PairwiseJudgeSubject, lineage_warnings
    from assay.score.judges.pairwise import PairwisePreference, PositionConsistency

    if strategy not in STRATEGIES:
        raise SpecError(f"unknown strategy {strategy!r}", fix=f"use {' or '.join(STRATEGIES)}")
    if min(warmup, batch) < 1 or budget < 1:
        raise SpecError("budget, warm-up and batch must be at least 1")
    sides = _sides(store, refs)
    labels = [s.label for s in sides]
    k = len(sides)
    rng = random.Random(seed)
    pools: dict[tuple[int, int], list[Sample]] = {}
    for i in range(k):
        for j in range(i + 1, k):
            samples, _ = pair_samples(store, sides[i], sides[j])
            rng.shuffle(samples)
            pools[(i, j)] = samples
    empty = [f"{labels[i]} / {labels[j]}" for (i, j), p in pools.items() if not p]
    if empty:
        raise SpecError(
            f"no shared answered sample for {empty[0]}", fix="give runs of the same dataset"
        )
    judges = 1 if isinstance(judge, str) else len(judge)
    per_pair = 2 * judges  # verdicts per judged sample: both orders, every judge
    per_round = per_round or max(k - 1, 1)
    out = ArenaOutcome(systems=labels, strategy=strategy, budget=budget)
    registry = lineage or (context.lineage if context else None) or default_registry()
    all_pairs = list(pools)
    turn = 0
    round_no = 0
    while True:
        if round_no == 0:
            chosen = [(p, warmup) for p in all_pairs]
        else:
            state = ranking_state(*out.verdicts.values(), names=labels, alpha=alpha)
            out.state = state
            if state.resolved:
                out.stopped = "resolved"
                break
            if strategy == "active":
                index = {label: n for n, label in enumerate(labels)}
                wanted = [tuple(sorted((index[a], index[b]))) for a, b in next_pairs(state, k)]
            else:
                wanted = [all_pairs[(turn + n) % len(all_pairs)] for n in range(len(all_pairs))]
            wanted = [p for p in wanted if pools[p]][:per_round]  # type: ignore[index]
            turn += per_round
            if not wanted:
                out.stopped = "exhausted"
                break
            chosen = [(p, batch) for p in wanted]  # type: ignore[misc]
        room = (budget - out.n_verdicts) // per_pair
        if room < 1:
            out.stopped = "budget"
            break
        round_samples: list[Sample] = []
        sides_of: dict[str, dict[str, str]] = {}
        picked: list[tuple[str, str]] = []
        graded: dict[str, tuple[str, str, frozenset[str]]] = {}  # for the lineage check
        for (i, j), n in chosen:
            take = pools[(i, j)][: min(n, room - len(round_samples))]
            if not take:
                continue
            del pools[(i, j)][: len(take)]
            picked.append((labels[i], labels[j]))
            for side, which in ((sides[i], "a"), (sides[j], "b")):
                for entry in _graded(side, take, which, registry):
                    graded.setdefault(entry[0], entry)
            for s in take:
                sid = f"{s.id}@{i}v{j}"
                round_samples.append(s.model_copy(update={"id": sid}))
                sides_of[sid] = {"a": labels[i], "b": labels[j]}
        if not round_samples:
            out.stopped = "budget"
            break
        pairwise = PairwiseJudge(judge=judge, context=context, both_orders=True)
        subject = PairwiseJudgeSubject(name, pairwise, sides={}, graded=list(graded.values()))
        ev = Eval(
            name=f"pairwise {arena_name} round {round_no}",
            dataset=Dataset(f"pairs:{arena_name}", round_samples, source=" vs ".join(labels)),
            subjects=[subject],
            scorers=[PairwisePreference(), PositionConsistency()],
            seed=seed,
            concurrency=concurrency,
            spec={
                "arena": {
                    "systems": labels,
                    "judge": judge,
                    "strategy": strategy,
                    "round": round_no,
                    "pairs": [list(p) for p in picked],
                }
            },
            lineage=registry,
            scorer_context=context,
        )
        for warning in lineage_warnings(ev):
            if warning.describe() not in out.warnings:
                out.warnings.append(warning.describe())
        outcome = run(ev, db=store, options=RunOptions(cache=cache))
        first, second, result, errors = _read_round(store, outcome.run_id, name, sides_of)
        out.verdicts["first"] += first
        out.verdicts["second"] += second
        out.verdicts["outcome"] += result
        out.n_errors += errors
        out.rounds.append(ArenaRound(outcome.run_id, picked, len(result)))
        round_no += 1
    if out.n_verdicts:
        out.state = ranking_state(*out.verdicts.values(), names=labels, alpha=alpha)
    return out
