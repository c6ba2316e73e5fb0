"""Human-corrected judge metrics (issue 13, item 1): a run's judge scores on every sample,
human labels on some, and prediction-powered inference between them.

Human labels come from a labels file (CSV, JSONL, JSON, YAML or Parquet rows with ``sample``
— or ``id``/``sample_id`` — and ``label``; the ``assay audit humans`` format with ``rater`` and
``time`` columns reads as is; an optional ``run`` column keeps one run's labels apart from
another's), or from a review queue (:func:`assay.review.load_queue_labels`). Several labels
of one sample are averaged. Labels that read as pass/fail (``pass``/``fail``, ``true``/
``false``) become 1/0.

For each subject × scorer the report puts three intervals side by side (judge-only, human-only,
PPI, :func:`assay.stats.ppi.prediction_powered_mean`); for a comparison of two runs, the same
three for the paired difference B − A on samples labelled in both runs.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.analyse.scores import RunScores
from assay.core import AssayError, DatasetError
from assay.stats import Interval
from assay.stats.ppi import PredictionPowered, prediction_powered_mean

_SAMPLE_KEYS = ("sample", "sample_id", "id")
_LABEL_KEYS = ("label", "human", "value", "score")
_WORDS = {"pass": 1.0, "fail": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _WORDS:
            return _WORDS[text]
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise DatasetError(
        f"label {value!r} is not a number or pass/fail",
        where=where,
        fix="give 0/1, pass/fail, true/false or a number",
    )


def read_label_rows(
    path: str | os.PathLike[str],
) -> list[tuple[str, float, str | None]]:
    """``(sample id, label, run or None)`` for every row of a labels file."""
    from assay.data.readers import open_rows

    source = open_rows(path)
    out = []
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, Mapping):
            raise DatasetError("a label row must be an object", where=where)
        sample = next((row[k] for k in _SAMPLE_KEYS if row.get(k) not in (None, "")), None)
        label_key = next((k for k in _LABEL_KEYS if k in row), None)
        if sample is None or label_key is None:
            raise DatasetError(
                "a label row needs a sample id and a label",
                where=where,
                fix='e.g. {"sample": "q17", "label": 1} (also: id/sample_id, human/value)',
            )
        run = row.get("run")
        out.append(
            (str(sample), _number(row[label_key], where), None if run in (None, "") else str(run))
        )
    if not out:
        raise DatasetError("the labels file holds no rows", where=source.label)
    return out


def average_labels(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Sample id → the mean of its labels."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for sample, value in pairs:
        grouped[sample].append(value)
    return {k: float(np.mean(v)) for k, v in grouped.items()}


def labels_from_file(path: str | os.PathLike[str], *, run: str | None = None) -> dict[str, float]:
    """A file's labels, averaged per sample; with ``run``, only rows whose ``run`` column
    is that run id (or a prefix of it) or empty."""
    rows = read_label_rows(path)
    keep = [(s, v) for s, v, r in rows if run is None or r is None or run.startswith(r) or r == run]
    return average_labels(keep)


def labels_from_queue(store: Any, queue: str) -> dict[str, float]:
    """A review queue's labels of run samples, averaged per sample."""
    from assay.review import load_queue_labels

    return average_labels([(x.sample, float(x.label)) for x in load_queue_labels(store, queue)])


@dataclass(frozen=True)
class HumanCorrected:
    """One subject × scorer of one run (or a pair of runs, for a difference): the three
    intervals and what went into them."""

    subject: str
    scorer: str
    result: PredictionPowered
    n_labels_unmatched: int
    difference: bool = False

    def as_dict(self) -> dict[str, Any]:
        r = self.result

        def interval(i: Interval) -> dict[str, Any]:
            return {
                "estimate": _num(i.estimate),
                "low": _num(i.low),
                "high": _num(i.high),
                "method": i.method,
                "confidence": i.confidence,
            }

        return {
            "subject": self.subject,
            "scorer": self.scorer,
            "difference": self.difference,
            "judge_only": interval(r.judge_only),
            "human_only": interval(r.human_only),
            "ppi": interval(r.ppi),
            "effective_n": {k: _num(v) for k, v in r.effective_n.items()},
            "n_labelled": r.n_labelled,
            "n_unlabelled": r.n_unlabelled,
            "lambda": _num(r.lam),
            "judge_bias": _num(r.judge_bias),
            "correlation": _num(r.correlation),
            "p_value": _num(r.p_value),
            "n_labels_unmatched": self.n_labels_unmatched,
        }


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _per_sample(scores: RunScores, subject: str, scorer: str) -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in scores.per_sample(subject, scorer).items()}


def _split(
    judge: Mapping[str, float], labels: Mapping[str, float]
) -> tuple[list[str], list[str], int]:
    labelled = sorted(i for i in judge if i in labels)
    unlabelled = sorted(i for i in judge if i not in labels)
    unmatched = sum(1 for i in labels if i not in judge)
    return labelled, unlabelled, unmatched


def human_corrected_run(
    scores: RunScores,
    labels: Mapping[str, float],
    *,
    scorers: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> list[HumanCorrected]:
    """PPI for every subject × scorer of a run (``scorers`` to limit them). Raises
    :class:`AssayError` when no judged sample carries a label, or too few do."""
    out = []
    for subject in scores.subjects:
        for scorer in scorers or scores.scorers:
            judge = _per_sample(scores, subject, scorer)
            labelled, unlabelled, unmatched = _split(judge, labels)
            if len(labelled) < 2 or len(unlabelled) < 2:
                continue
            result = prediction_powered_mean(
                [labels[i] for i in labelled],
                [judge[i] for i in labelled],
                [judge[i] for i in unlabelled],
                confidence,
            )
            out.append(HumanCorrected(subject, scorer, result, unmatched))
    if not out:
        raise AssayError(
            f"run {scores.run_id}: fewer than two judged samples carry a human label (or fewer "
            "than two lack one), so there is nothing to correct",
            where="--human",
            fix="label a random subset of the run's samples by sample id",
        )
    return out


def human_corrected_difference(
    scores_a: RunScores,
    scores_b: RunScores,
    labels_a: Mapping[str, float],
    labels_b: Mapping[str, float],
    *,
    subject_a: str,
    subject_b: str,
    scorer: str,
    confidence: float = 0.95,
) -> HumanCorrected | None:
    """PPI for the paired difference B − A: judge differences on every shared sample, human
    differences on the samples labelled in both runs. ``None`` when fewer than two samples
    are labelled in both (or fewer than two are not)."""
    ja, jb = _per_sample(scores_a, subject_a, scorer), _per_sample(scores_b, subject_b, scorer)
    judge = {i: jb[i] - ja[i] for i in ja if i in jb}
    both = {i: labels_b[i] - labels_a[i] for i in labels_a if i in labels_b}
    labelled, unlabelled, unmatched = _split(judge, both)
    if len(labelled) < 2 or len(unlabelled) < 2:
        return None
    result = prediction_powered_mean(
        [both[i] for i in labelled],
        [judge[i] for i in labelled],
        [judge[i] for i in unlabelled],
        confidence,
    )
    name = subject_a if subject_a == subject_b else f"{subject_a} → {subject_b}"
    return HumanCorrected(name, scorer, result, unmatched, difference=True)


def human_corrected_comparison(
    comparison: Any,
    scores_a: RunScores,
    scores_b: RunScores,
    labels_a: Mapping[str, float],
    labels_b: Mapping[str, float],
) -> dict[tuple[str, str], HumanCorrected]:
    """PPI differences for every metric of a :class:`~assay.analyse.RunComparison`, keyed by
    (subject, scorer) as the comparison names them."""
    out = {}
    for m in comparison.metrics:
        found = human_corrected_difference(
            scores_a, scores_b, labels_a, labels_b,
            subject_a=m.subject_a, subject_b=m.subject_b, scorer=m.scorer,
            confidence=comparison.settings.confidence,
        )  # fmt: skip
        if found is not None:
            out[(m.subject, m.scorer)] = found
    return out
