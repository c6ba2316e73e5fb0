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
from itertools import chain, repeat
from operator import itemgetter
from statistics import fmean
from typing import Any

from assay.analyse.judges import JudgeFlag, judge_flags
from assay.analyse.panels import PanelReport, panel_reports
from assay.analyse.scores import GatheredScores, gather_scores
from assay.core import RunManifest
from assay.stats import Interval, clip_to_unit, mean_interval
from assay.store import RunInfo, Store
from assay.store.score_reads import paused_gc, read_sample_labels, read_score_columns


@dataclass(frozen=True)
class MetricSummary:
    """A scorer's mean for one subject over one group of samples (all, or one slice)."""

    subject: str
    scorer: str
    slice_key: str | None
    slice_value: str | None
    interval: Interval
    n_ungraded: int
    #: Whether every score is 0 or 1: a pass rate (shown as a percentage), epochs or not.
    rate: bool = False

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


def _group_label(value: Any) -> str:
    """The group a slice label falls in: the label's text, ``(none)`` without one."""
    return "(none)" if value is None else str(value)


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _walk_rows(
    store: Store, run_id: str, scorer_names: list[str]
) -> tuple[GatheredScores, dict[tuple[str, str], list[tuple[Any, Any]]], dict[Any, Any], set[str]]:
    """Every score row with its metadata: what panels (B5) need besides the values, each
    member's grade and each result's scorer values for the reference."""
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    ungraded: dict[tuple[str, str], int] = {}
    n_results: dict[str, int] = {}
    errored: dict[str, set[str]] = {}
    errors: dict[str, dict[str, int]] = {}
    members: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
    by_result: dict[tuple[str, Any], dict[str, float]] = {}
    judged: set[str] = set()
    current: tuple[str, str, int] | None = None
    skip = False
    for subject, sample_id, epoch, error_class, scorer, value, meta in store.iter_score_rows(
        run_id, with_metadata=True
    ):
        if current is not None and sample_id == current[1]:
            sample_id = current[1]  # one id string per result, not one per score row
        if (subject, sample_id, epoch) != current:
            current = (subject, sample_id, epoch)
            n_results[subject] = n_results.get(subject, 0) + 1
            skip = bool(error_class)
            if skip:
                assert error_class is not None
                errored.setdefault(subject, set()).add(sample_id)
                counts = errors.setdefault(subject, {})
                counts[error_class] = counts.get(error_class, 0) + 1
                for name in scorer_names:
                    ungraded[(subject, name)] = ungraded.get((subject, name), 0) + 1
        if skip or scorer is None:
            continue
        key = (subject, scorer)
        if value is None:
            ungraded[key] = ungraded.get(key, 0) + 1
        else:
            values.setdefault(key, {}).setdefault(sample_id, []).append(value)
        where = (sample_id, epoch)
        if value is not None:
            by_result.setdefault((subject, where), {})[scorer] = value
        if "panel" in meta:
            members[key].append((where, meta["panel"]))
        elif "judge" in meta:
            judged.add(scorer)
    gathered = GatheredScores(values, ungraded, errored, errors, n_results)
    return gathered, members, by_result, judged


#: Runs with at most this many results are summarised from plain rows in pure Python: no
#: numpy import (about a tenth of a second), which a small run's end-of-run summary would
#: otherwise pay for a few hundred numbers. Larger runs read flat columns into arrays. Both
#: paths give identical numbers (``tests/store/test_summary_paths.py``).
SMALL_RUN_RESULTS = 2000


def _sample_means(lists: list[list[float]], *, arrays: bool = True) -> tuple[Any, bool]:
    """Each sample's mean over its epochs (a single value as it is, else ``fmean``), and
    whether every value is 0 or 1 (a rate). A numpy array, or a list without ``arrays``."""
    if not arrays:
        means = [v[0] if len(v) == 1 else fmean(v) for v in lists]
        rate = all(x == 0.0 or x == 1.0 for v in lists for x in v)
        return means, rate
    import numpy as np

    n = len(lists)
    if all(len(v) == 1 for v in lists):
        means = np.fromiter(map(itemgetter(0), lists), float, n)
        return means, bool(((means == 0.0) | (means == 1.0)).all())
    flat = np.fromiter(chain.from_iterable(lists), float)
    rate = bool(((flat == 0.0) | (flat == 1.0)).all())
    return np.fromiter(map(fmean, lists), float, n), rate


def _label_codes(
    key: str, sample_meta: dict[str, tuple[dict[str, Any], str | None]]
) -> tuple[dict[str, int], list[str]]:
    """Each sample's label under ``key`` as a code into the returned labels (code 0 is
    ``(none)``, for samples without one)."""
    codes: dict[str, int] = {"(none)": 0}
    of_sample = {
        sample_id: codes.setdefault(_group_label(metadata.get(key)), len(codes))
        for sample_id, (metadata, _) in sample_meta.items()
    }
    return of_sample, list(codes)


def _slice_groups(
    sample_ids: list[str], coded: tuple[dict[str, int], list[str]], *, arrays: bool = True
) -> dict[str, Any]:
    """Positions of ``sample_ids`` by label, labels in sorted order: index arrays, or lists
    without ``arrays``."""
    of_sample, labels = coded
    if not arrays:
        positions: dict[int, list[int]] = {}
        for i, sample_id in enumerate(sample_ids):
            positions.setdefault(of_sample.get(sample_id, 0), []).append(i)
        return {labels[c]: positions[c] for c in sorted(positions, key=labels.__getitem__)}
    import numpy as np

    codes = np.fromiter(map(of_sample.get, sample_ids, repeat(0)), np.intp, len(sample_ids))
    present = sorted(np.unique(codes).tolist(), key=labels.__getitem__)
    return {labels[code]: np.flatnonzero(codes == code) for code in present}


def has_panels(manifest: RunManifest) -> bool:
    """Whether the run has judge panels (B5: members named ``scorer[k]``)."""
    return any(j.name.endswith("]") for j in manifest.judges)


def summarise_run(
    store: Store, run_id: str, *, slices: Sequence[str] | None = None, confidence: float = 0.95
) -> RunSummary:
    """Summarise a stored run (complete or not)."""
    info = store.get_run(run_id)
    return summarise(store, info, store.get_manifest(run_id), slices=slices, confidence=confidence)


def summarise(
    store: Store,
    info: RunInfo,
    manifest: RunManifest,
    *,
    slices: Sequence[str] | None = None,
    confidence: float = 0.95,
    arrays: bool | None = None,
) -> RunSummary:
    """:func:`summarise_run` of the run ``info`` and ``manifest`` describe (already read).

    ``arrays`` chooses how the scores are gathered: flat columns into numpy arrays (True), or
    plain rows in pure Python (False); by default arrays above :data:`SMALL_RUN_RESULTS`
    results. The numbers are the same either way."""
    run_id = info.id
    slice_keys = list(slices if slices is not None else manifest.slices)
    scorer_names = [s.name for s in manifest.scorers]
    # Panels (B5) need every score's metadata; other runs are read as plain columns (no
    # outputs, no per-row Python step): at 100,000 results, walking rows took most of `assay
    # show`'s seconds (issue 20).
    has_panel = has_panels(manifest)
    if arrays is None:
        arrays = info.n_results > SMALL_RUN_RESULTS
    with paused_gc():
        sample_meta = read_sample_labels(store, run_id) if slice_keys else {}
        if has_panel or not arrays:
            gathered, members, by_result, judged = _walk_rows(store, run_id, scorer_names)
        else:
            gathered = gather_scores(read_score_columns(store, run_id), scorer_names)
            members, by_result, judged = {}, {}, set()

    coded = {key: _label_codes(key, sample_meta) for key in slice_keys}
    metrics: list[MetricSummary] = []
    subjects = [s.name for s in manifest.subjects]
    for subject in subjects:
        for scorer in scorer_names:
            key = (subject, scorer)
            per_sample = gathered.values.get(key, {})
            means, rate = _sample_means(list(per_sample.values()), arrays=arrays)
            n_ungraded = gathered.ungraded.get(key, 0)
            metrics.append(
                MetricSummary(
                    subject,
                    scorer,
                    None,
                    None,
                    _interval(means, confidence, rate),
                    n_ungraded,
                    rate=rate,
                )
            )
            for slice_key in slice_keys:
                groups = _slice_groups(list(per_sample), coded[slice_key], arrays=arrays)
                for label, positions in groups.items():
                    chosen = means[positions] if arrays else [means[i] for i in positions]
                    metrics.append(
                        MetricSummary(
                            subject,
                            scorer,
                            slice_key,
                            label,
                            _interval(chosen, confidence, rate),
                            0,
                            rate=rate,
                        )
                    )
    counts = [
        SubjectCounts(
            subject=s.name,
            n_results=gathered.n_results.get(s.name, 0),
            n_errors=sum(gathered.error_classes.get(s.name, {}).values()),
            error_classes=dict(gathered.error_classes.get(s.name, {})),
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
