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
from statistics import fmean
from typing import Any

from assay.analyse.judges import JudgeFlag, judge_flags
from assay.analyse.panels import PanelReport, panel_reports
from assay.core import RunManifest
from assay.stats import Interval, clip_to_unit, mean_interval
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
    #: Judge warnings (``judge_changed``, ``same_lineage_judge``) from the manifest, and
    #: ``correlated_panel`` from the panels.
    flags: list[JudgeFlag] = field(default_factory=list)
    #: n_eff of each panel scorer (B5), per subject.
    panels: list[PanelReport] = field(default_factory=list)

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
            "panels": [p.as_dict() for p in self.panels],
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


def _interval(values: list[float], confidence: float, rate: bool) -> Interval:
    """:func:`mean_interval` of per-sample means; for pass/fail scores (a rate, B4) clipped
    to [0, 1] (epoch averages such as 0.6 get a t interval, which can pass 100%)."""
    interval = mean_interval(values, confidence)
    return clip_to_unit(interval) if rate else interval


def _label(value: Any) -> str | None:
    """A slice label as :meth:`assay.core.Sample.slice_value` gives it: text, or ``None``."""
    return None if value is None else str(value)


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
        for sid, (metadata, _cluster) in store.sample_labels(run_id).items():
            labels[sid] = {k: _label(metadata.get(k)) for k in slice_keys}

    # (subject, scorer) -> sample_id -> values over epochs
    values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ungraded: dict[tuple[str, str], int] = defaultdict(int)
    n_results: dict[str, int] = defaultdict(int)
    errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    scorer_names = [s.name for s in manifest.scorers]
    # Panels (B5): every member's grade, and each result's scorer values for the reference.
    has_panel = any(j.name.endswith("]") for j in manifest.judges)
    members: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
    by_result: dict[tuple[str, Any], dict[str, float]] = {}
    judged: set[str] = set()
    # Plain score rows (no outputs parsed, no models built): at 100,000 results, reading whole
    # results took most of `assay show`'s seconds and memory (issue 20).
    current: tuple[str, str, int] | None = None
    skip = False
    for subject, sample_id, epoch, error_class, scorer, value, meta in store.iter_score_rows(
        run_id, with_metadata=has_panel
    ):
        if current is not None and sample_id == current[1]:
            sample_id = current[1]  # one id string per result, not one per score row
        if (subject, sample_id, epoch) != current:
            current = (subject, sample_id, epoch)
            n_results[subject] += 1
            skip = bool(error_class)
            if skip:
                assert error_class is not None
                errors[subject][error_class] += 1
                for name in scorer_names:
                    ungraded[(subject, name)] += 1
        if skip or scorer is None:
            continue
        key = (subject, scorer)
        if value is None:
            ungraded[key] += 1
        else:
            values[key][sample_id].append(value)
        if has_panel:
            where = (sample_id, epoch)
            if value is not None:
                by_result.setdefault((subject, where), {})[scorer] = value
            if "panel" in meta:
                members[key].append((where, meta["panel"]))
            elif "judge" in meta:
                judged.add(scorer)

    metrics: list[MetricSummary] = []
    subjects = [s.name for s in manifest.subjects]
    for subject in subjects:
        for scorer in scorer_names:
            key = (subject, scorer)
            per_sample = {sid: fmean(v) for sid, v in values[key].items()}
            rate = all(x in (0.0, 1.0) for v in values[key].values() for x in v)

            metrics.append(
                MetricSummary(
                    subject,
                    scorer,
                    None,
                    None,
                    _interval(list(per_sample.values()), confidence, rate),
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
                            _interval(groups[label], confidence, rate),
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
    panels = panel_reports(members, by_result, scorer_names, frozenset(judged))
    flags = judge_flags(manifest) + [
        JudgeFlag("correlated_panel", p.scorer, p.describe(), p.as_dict())
        for p in panels
        if p.correlated
    ]
    return RunSummary(
        run=info,
        manifest=manifest,
        slices=slice_keys,
        metrics=metrics,
        subjects=counts,
        flags=flags,
        panels=panels,
    )
