"""One run's numbers: per subject, per scorer, overall and per slice, with intervals.

The unit of analysis is the sample: with several epochs, each sample's scores are averaged
first and the interval is computed over samples (Miller 2024, "Adding Error Bars to Evals",
§3). Results that errored or could not be graded are counted, never averaged in as zeros.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.analyse.judges import JudgeFlag, judge_flags
from assay.core import RunManifest
from assay.stats import Interval, mean_interval
from assay.store import RunInfo, Store


@dataclass(frozen=True)
class MetricSummary:
    """A scorer's mean for one subject over one group of samples (all, or one slice)."""

    subject: str
    scorer: str
    slice_key: str | None
    slice_value: str | None
    interval: Interval
    n_ungraded: int

    @property
    def group(self) -> str:
        """``all`` or ``key=value``."""
        return "all" if self.slice_key is None else f"{self.slice_key}={self.slice_value}"


@dataclass(frozen=True)
class SubjectCounts:
    """How many results a subject has, and how its failures break down."""

    subject: str
    n_results: int
    n_errors: int
    error_classes: dict[str, int]
    resolved_models: list[str]


@dataclass(frozen=True)
class RunSummary:
    """Everything ``assay show`` prints about a run."""

    run: RunInfo
    manifest: RunManifest
    slices: list[str]
    metrics: list[MetricSummary] = field(default_factory=list)
    subjects: list[SubjectCounts] = field(default_factory=list)
    #: Judge warnings (``judge_changed``, ``same_lineage_judge``) from the manifest.
    flags: list[JudgeFlag] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``assay show --json``; NaN bounds become ``None``)."""

        def interval(i: Any) -> dict[str, Any]:
            return {
                "estimate": _finite(i.estimate),
                "low": _finite(i.low),
                "high": _finite(i.high),
                "n": i.n,
                "method": i.method,
                "confidence": i.confidence,
            }

        return {
            "run": self.run.model_dump(mode="json"),
            "flags": [f.as_dict() for f in self.flags],
            "slices": self.slices,
            "subjects": [vars(s) for s in self.subjects],
            "metrics": [
                {
                    "subject": m.subject,
                    "scorer": m.scorer,
                    "group": m.group,
                    "slice_key": m.slice_key,
                    "slice_value": m.slice_value,
                    "n_ungraded": m.n_ungraded,
                    **interval(m.interval),
                }
                for m in self.metrics
            ],
        }

    def metric(self, subject: str, scorer: str, group: str = "all") -> MetricSummary:
        """Look one metric up (``group`` is ``all`` or ``key=value``)."""
        for m in self.metrics:
            if m.subject == subject and m.scorer == scorer and m.group == group:
                return m
        raise KeyError((subject, scorer, group))


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def summarise_run(
    store: Store, run_id: str, *, slices: Sequence[str] | None = None, confidence: float = 0.95
) -> RunSummary:
    """Summarise a stored run (complete or not)."""
    info = store.get_run(run_id)
    manifest = store.get_manifest(run_id)
    slice_keys = list(slices if slices is not None else manifest.slices)
    labels: dict[str, dict[str, str | None]] = {}
    if slice_keys:
        for sample in store.get_samples(run_id):
            labels[sample.id] = {k: sample.slice_value(k) for k in slice_keys}

    # (subject, scorer) -> sample_id -> values over epochs
    values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ungraded: dict[tuple[str, str], int] = defaultdict(int)
    n_results: dict[str, int] = defaultdict(int)
    errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    scorer_names = [s.name for s in manifest.scorers]
    for result in store.iter_results(run_id):
        n_results[result.subject] += 1
        if result.error_class:
            errors[result.subject][result.error_class] += 1
            for name in scorer_names:
                ungraded[(result.subject, name)] += 1
            continue
        for score in result.scores:
            key = (result.subject, score.scorer)
            if score.value is None:
                ungraded[key] += 1
            else:
                values[key][result.sample_id].append(score.value)

    metrics: list[MetricSummary] = []
    subjects = [s.name for s in manifest.subjects]
    for subject in subjects:
        for scorer in scorer_names:
            key = (subject, scorer)
            per_sample = {sid: float(np.mean(v)) for sid, v in values[key].items()}
            metrics.append(
                MetricSummary(
                    subject,
                    scorer,
                    None,
                    None,
                    mean_interval(list(per_sample.values()), confidence),
                    ungraded[key],
                )
            )
            for slice_key in slice_keys:
                groups: dict[str, list[float]] = defaultdict(list)
                for sid, v in per_sample.items():
                    label = labels.get(sid, {}).get(slice_key)
                    groups["(none)" if label is None else label].append(v)
                for label in sorted(groups):
                    metrics.append(
                        MetricSummary(
                            subject,
                            scorer,
                            slice_key,
                            label,
                            mean_interval(groups[label], confidence),
                            0,
                        )
                    )
    counts = [
        SubjectCounts(
            subject=s.name,
            n_results=n_results[s.name],
            n_errors=sum(errors[s.name].values()),
            error_classes=dict(errors[s.name]),
            resolved_models=list(s.resolved_models),
        )
        for s in manifest.subjects
    ]
    return RunSummary(
        run=info,
        manifest=manifest,
        slices=slice_keys,
        metrics=metrics,
        subjects=counts,
        flags=judge_flags(manifest),
    )
