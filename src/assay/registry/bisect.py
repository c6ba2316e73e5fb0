"""Prompt bisect (K2): which edit of a many-edit prompt rewrite dropped the score.

The diff between a good and a bad version is split into numbered edits
(:func:`assay.registry.edits.diff_edits`). With the good prompt's run as the baseline, bisect
evaluates *prefixes*: the good prompt with edits 1…k applied. A prefix is "bad" when
:func:`assay.analyse.compare.compare_runs` calls it ``regressed`` (paired, against the good
run). Binary search over k finds the first bad prefix in ⌈log2 n⌉ probe runs when one edit is
responsible; the culprit's paired difference and interval come from the two bracketing runs
(prefix k−1 and prefix k), which the search has already made.

Then one isolation run applies the culprit alone to the good prompt. If that does not regress,
the drop needs the culprit together with an earlier edit (an interaction): a second binary
search finds the smallest earlier prefix that, with the culprit, regresses, and so names the
partner edit.

Every probe is an ordinary run of the spec (stored, resumable); a probe whose exact eval (same
spec hash: prompt, model, data, scorers) is already complete in the store is reused instead of
re-run, and model responses come from the runner's response cache where the provider allows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.core import AssayError
from assay.registry.edits import Edit, apply_edits, diff_edits

if TYPE_CHECKING:
    from assay.registry.prompts import PromptVersion
    from assay.run import Eval
    from assay.store import Store


@dataclass
class Probe:
    """One evaluated prompt: which edits it applies, its run, and whether it regressed."""

    label: str
    edits: list[int]
    run_id: str
    reused: bool
    regressed: bool
    difference: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BisectResult:
    """What bisect found. ``culprit`` is the edit number (``None`` when no drop was found);
    ``partner`` the earlier edit it needs when ``interaction`` is true."""

    good: str
    bad: str
    edits: list[Edit]
    subject: str
    scorer: str
    culprit: int | None
    partner: int | None = None
    interaction: bool = False
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    search_runs: int = 0
    extra_runs: int = 0
    max_search_runs: int = 0
    probes: list[Probe] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "good": self.good,
            "bad": self.bad,
            "n_edits": len(self.edits),
            "edits": [e.to_dict() for e in self.edits],
            "subject": self.subject,
            "scorer": self.scorer,
            "culprit": self.culprit,
            "partner": self.partner,
            "interaction": self.interaction,
            "difference": self.difference,
            "interval": [self.low, self.high],
            "search_runs": self.search_runs,
            "extra_runs": self.extra_runs,
            "max_search_runs": self.max_search_runs,
            "probes": [p.to_dict() for p in self.probes],
            "message": self.message,
        }


class _Prober:
    def __init__(
        self,
        store: Store,
        ev: Eval,
        subject_index: int,
        scorer: str,
        on_run: Callable[[str], None] | None,
    ) -> None:
        self.store = store
        self.ev = ev
        self.index = subject_index
        self.subject = ev.subjects[subject_index]
        self.scorer = scorer
        self.on_run = on_run
        self.new_runs = 0
        self.baseline: str | None = None

    def eval_for(self, text: str) -> Eval:
        from assay.run import ModelSubject, PromptTemplate

        s = self.subject
        assert isinstance(s, ModelSubject)
        prompt = PromptTemplate(user=text, system=s.prompt.system, source=s.prompt.source)
        subject = ModelSubject(
            s.name, provider=s.provider, model=s.model, prompt=prompt, params=s.params
        )
        return dataclasses.replace(self.ev, subjects=[subject], pairwise=None)

    def run(self, text: str, label: str) -> tuple[str, bool]:
        """The run of ``text``: a complete stored run of the same eval, else a new one."""
        from assay.run import run, spec_hash

        ev = self.eval_for(text)
        for info in self.store.find_runs(spec_hash=spec_hash(ev)):
            if info.status == "completed" and info.n_errors == 0:
                return info.id, True
        if self.on_run:
            self.on_run(label)
        outcome = run(ev, db=self.store)
        self.new_runs += 1
        if outcome.status != "completed" or outcome.n_errors:
            raise AssayError(
                f"bisect run {outcome.run_id} ({label}) ended {outcome.status} with "
                f"{outcome.n_errors} errors",
                fix="fix the run's errors (assay show " + outcome.run_id + ") and bisect again",
            )
        return outcome.run_id, False

    def compare(self, run_a: str, run_b: str) -> Any:
        from assay.analyse.compare import compare_runs
        from assay.analyse.judge_guard import JUDGE_CHANGED

        name = self.subject.name
        comparison = compare_runs(
            self.store, run_a, run_b, subjects=[(name, name)], scorers=[self.scorer]
        )
        if not comparison.metrics:
            raise AssayError(
                f"runs {run_a} and {run_b} have no scores by {self.scorer!r} to compare",
                where="--scorer",
            )
        metric = comparison.metrics[0]
        if metric.verdict == JUDGE_CHANGED:
            # compare withholds the verdict (C5): read as "not regressed", it would steer the
            # search to a wrong edit, or to none.
            raise AssayError(
                f"the judge behind {self.scorer!r} changed between runs {run_a} and {run_b}, "
                "so a probe's score cannot be told from the judge's; bisect stopped",
                fix="pin the judge model's snapshot in the spec and bisect again "
                f"(assay compare {run_a} {run_b} shows the change)",
            )
        return metric

    def probe(self, base: str, edits: list[Edit], chosen: list[int], label: str) -> Probe:
        run_id, reused = self.run(apply_edits(base, edits, set(chosen)), label)
        assert self.baseline is not None
        metric = self.compare(self.baseline, run_id) if run_id != self.baseline else None
        regressed = metric is not None and metric.aggregate.verdict == "regressed"
        diff = None if metric is None else float(metric.aggregate.difference)
        return Probe(label, chosen, run_id, reused, regressed, diff)


def bisect_prompt(
    store: Store,
    good: PromptVersion,
    bad: PromptVersion,
    *,
    spec: str | Path,
    subject: str | None = None,
    scorer: str | None = None,
    isolate: bool = True,
    on_run: Callable[[str], None] | None = None,
) -> BisectResult:
    """Find the edit between ``good`` and ``bad`` that makes the spec's score regress.

    ``spec`` is run with ``subject``'s prompt (default: the only model subject) replaced by each
    probe's text; ``scorer`` (default: the first) is the score compared. ``isolate`` adds the
    run that tells a single-edit cause from an interaction. ``on_run`` is told before each new
    run.
    """
    from assay.run import ModelSubject, load_eval

    ev = load_eval(spec)
    models = [i for i, s in enumerate(ev.subjects) if isinstance(s, ModelSubject)]
    if subject is not None:
        index = next((i for i, s in enumerate(ev.subjects) if s.name == subject), None)
        if index is None or index not in models:
            raise AssayError(
                f"the spec has no model subject {subject!r}",
                where="--subject",
                fix="model subjects: " + ", ".join(ev.subjects[i].name for i in models),
            )
    elif len(models) == 1:
        index = models[0]
    else:
        raise AssayError(
            f"the spec has {len(models)} model subjects",
            where="--subject",
            fix="choose one: " + ", ".join(ev.subjects[i].name for i in models) or "add one",
        )
    scorer_names = [s.name for s in ev.scorers]
    scorer = scorer or scorer_names[0]
    if scorer not in scorer_names:
        raise AssayError(
            f"the spec has no scorer {scorer!r}", where="--scorer", fix=", ".join(scorer_names)
        )
    edits = diff_edits(good.content, bad.content)
    n = len(edits)
    if n == 0:
        raise AssayError(f"{good.ref} and {bad.ref} have the same clauses", where="GOOD BAD")
    prober = _Prober(store, ev, index, scorer, on_run)
    result = BisectResult(
        good.ref,
        bad.ref,
        edits,
        ev.subjects[index].name,
        scorer,
        culprit=None,
        max_search_runs=math.ceil(math.log2(n)) if n > 1 else 0,
    )
    base = good.content
    prober.baseline, reused = prober.run(base, f"good {good.ref}")
    result.probes.append(Probe(f"good {good.ref}", [], prober.baseline, reused, False, None))
    end = prober.probe(base, edits, list(range(1, n + 1)), f"bad {bad.ref}")
    result.probes.append(end)
    endpoint_runs = prober.new_runs
    if not end.regressed:
        result.message = (
            f"no regression of {scorer} from {good.ref} to {bad.ref} (difference "
            f"{end.difference:+.3f}): nothing to bisect"
        )
        result.extra_runs = endpoint_runs
        return result
    prefix_runs = {0: prober.baseline, n: end.run_id}
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        p = prober.probe(base, edits, list(range(1, mid + 1)), f"edits 1-{mid}")
        result.probes.append(p)
        prefix_runs[mid] = p.run_id
        if p.regressed:
            hi = mid
        else:
            lo = mid + 1
    k = lo
    result.culprit = k
    result.search_runs = prober.new_runs - endpoint_runs
    effect = prober.compare(prefix_runs[k - 1], prefix_runs[k])
    result.difference = float(effect.aggregate.difference)
    result.low = float(effect.aggregate.interval.low)
    result.high = float(effect.aggregate.interval.high)
    message = (
        f"edit #{k} is responsible: {edits[k - 1].describe()}; paired difference "
        f"{result.difference:+.3f} [{result.low:+.3f}, {result.high:+.3f}] ({scorer})"
    )
    if isolate and k > 1:
        alone = prober.probe(base, edits, [k], f"edit {k} alone")
        result.probes.append(alone)
        if not alone.regressed:
            result.interaction = True
            lo, hi = 1, k - 1  # smallest j with edits 1..j plus k regressing
            while lo < hi:
                mid = (lo + hi) // 2
                p = prober.probe(base, edits, [*range(1, mid + 1), k], f"edits 1-{mid} + {k}")
                result.probes.append(p)
                if p.regressed:
                    hi = mid
                else:
                    lo = mid + 1
            result.partner = lo
            message = (
                f"interaction: edit #{k} lowers the score only together with edit #{lo} "
                f"({edits[lo - 1].describe()}); alone it does not regress "
                f"(difference {alone.difference:+.3f}). With #{lo} applied, #{k} moves "
                f"{scorer} by {result.difference:+.3f} [{result.low:+.3f}, {result.high:+.3f}]"
            )
    result.extra_runs = prober.new_runs - result.search_runs
    result.message = message
    return result
