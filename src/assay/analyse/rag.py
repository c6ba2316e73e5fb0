"""A RAG run's metric split by whether the knowledge base still backs each sample (F1, F2).

When the corpus changes under an eval, a sample whose gold documents changed or disappeared
may now have a wrong target: a model answering from the new documents is marked wrong, and the
run's number drops for reasons that have nothing to do with the model. Instead of silently
scoring those samples, the report splits every subject × scorer metric into:

* ``valid``: samples whose gold documents are unchanged (``still_valid``);
* ``invalidated``: samples whose gold documents changed or are gone (``gold_changed``,
  ``gold_missing``): the part of any drop attributable to the KB change (``eval_invalidated``);
* ``unpinned``: samples that pin no gold documents (nothing to check);
* ``unchecked``: samples of the run that the KB check did not cover (another dataset file);

beside ``all``, each with its interval. As in ``assay show``, a sample's epochs are averaged
first and errored or ungraded results are left out; the interval is Wilson when the metric's
per-sample values are all 0 or 1 and Student-t otherwise, decided once per metric so every
group of one metric uses the same estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.analyse.scores import load_scores
from assay.stats import Interval, is_binary, t_interval, wilson_interval
from assay.store import Store

if TYPE_CHECKING:
    from assay.data.kb_pinning import KbCheckReport

GROUPS = ("all", "valid", "invalidated", "unpinned", "unchecked")
_GROUP_OF_STATUS = {
    "still_valid": "valid",
    "gold_changed": "invalidated",
    "gold_missing": "invalidated",
    "unpinned": "unpinned",
}


@dataclass(frozen=True)
class GroupScore:
    """One subject × scorer metric over one validity group."""

    group: str
    interval: Interval

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (NaN bounds become null)."""
        i = self.interval

        def num(x: float) -> float | None:
            return None if np.isnan(x) else x

        return {
            "group": self.group,
            "estimate": num(i.estimate),
            "low": num(i.low),
            "high": num(i.high),
            "n": i.n,
            "method": i.method,
            "confidence": i.confidence,
        }


@dataclass(frozen=True)
class ValiditySplit:
    """One subject × scorer: its metric on every non-empty validity group, ``all`` first."""

    subject: str
    scorer: str
    groups: tuple[GroupScore, ...]

    def group(self, name: str) -> GroupScore | None:
        """The group called ``name`` (``None`` when the run has no graded sample in it)."""
        return next((g for g in self.groups if g.group == name), None)


@dataclass(frozen=True)
class RagSplitReport:
    """Every metric of a run split by KB validity, and which samples fell in which group."""

    run_id: str
    sample_groups: dict[str, list[str]]
    metrics: tuple[ValiditySplit, ...]

    def counts(self) -> dict[str, int]:
        """Samples of the run per group (``all`` included)."""
        return {g: len(ids) for g, ids in self.sample_groups.items()}

    def metric(self, subject: str, scorer: str) -> ValiditySplit:
        """Look one metric up."""
        for m in self.metrics:
            if m.subject == subject and m.scorer == scorer:
                return m
        raise KeyError((subject, scorer))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "run_id": self.run_id,
            "counts": self.counts(),
            "invalidated": self.sample_groups["invalidated"],
            "metrics": [
                {
                    "subject": m.subject,
                    "scorer": m.scorer,
                    "groups": [g.as_dict() for g in m.groups],
                }
                for m in self.metrics
            ],
        }


def _interval(values: list[float], binary: bool, confidence: float) -> Interval:
    if binary:
        return wilson_interval(round(sum(values)), len(values), confidence)
    return t_interval(values, confidence)


def split_by_kb_validity(
    store: Store, run_id: str, kb: KbCheckReport, *, confidence: float = 0.95
) -> RagSplitReport:
    """Split run ``run_id``'s metrics by each sample's status in ``kb`` (an
    :func:`assay.data.kb_pinning.kb_check` report, matched by sample id): rules in the module
    docstring."""
    scores = load_scores(store, run_id)
    status = {s.sample_id: s.status for s in kb}
    group_of = {
        sample_id: _GROUP_OF_STATUS[status[sample_id]] if sample_id in status else "unchecked"
        for sample_id in scores.sample_meta
    }
    sample_groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for sample_id, group in group_of.items():
        sample_groups["all"].append(sample_id)
        sample_groups[group].append(sample_id)

    metrics = []
    for subject in scores.subjects:
        for scorer in scores.scorers:
            per_sample = {
                sid: float(np.mean(v)) for sid, v in scores.per_sample(subject, scorer).items()
            }
            if not per_sample:
                continue
            binary = is_binary(list(per_sample.values()))
            grouped: dict[str, list[float]] = {g: [] for g in GROUPS}
            for sid, value in per_sample.items():
                grouped["all"].append(value)
                grouped[group_of.get(sid, "unchecked")].append(value)
            metrics.append(
                ValiditySplit(
                    subject,
                    scorer,
                    tuple(
                        GroupScore(g, _interval(grouped[g], binary, confidence))
                        for g in GROUPS
                        if grouped[g]
                    ),
                )
            )
    return RagSplitReport(run_id, sample_groups, tuple(metrics))
