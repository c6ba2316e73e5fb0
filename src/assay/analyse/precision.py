"""How precisely one run measures each metric (``assay show --intervals``).

Beside the default interval (Wilson for pass/fail, t otherwise) this gives, per subject ×
scorer × group: the clustered interval when the run declares clusters (Miller 2024, App. A),
percentile and BCa bootstrap intervals (the cluster bootstrap when clustered), and, when
samples were answered more than once, the split of variance into between- and within-sample
parts and the flaky samples — those whose answers disagree across epochs (REQUIREMENTS B4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assay.analyse.scores import NO_LABEL, load_scores
from assay.stats import (
    EpochVariance,
    Interval,
    bootstrap_interval,
    clip_to_unit,
    cluster_bootstrap_interval,
    clustered_interval,
    epoch_variance,
    flaky_samples,
    mean_interval,
)
from assay.store import Store


@dataclass(frozen=True)
class FlakySample:
    """A sample whose answers disagreed: its mean over ``n_answers`` answers, and for a
    pass/fail scorer how many of them ``passed``."""

    sample_id: str
    mean: float
    n_answers: int
    passed: int | None = None


@dataclass(frozen=True)
class MetricPrecision:
    """The intervals of one subject × scorer × group, and its epoch statistics."""

    subject: str
    scorer: str
    slice_key: str | None
    slice_value: str | None
    default: Interval
    clustered: Interval | None
    n_clusters: int | None
    bootstrap_percentile: Interval | None
    bootstrap_bca: Interval | None
    epochs: EpochVariance | None
    flaky: list[FlakySample] = field(default_factory=list)

    @property
    def group(self) -> str:
        return "all" if self.slice_key is None else f"{self.slice_key}={self.slice_value}"


def run_precision(
    store: Store,
    run_id: str,
    *,
    slices: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 5_000,
    seed: int = 0,
    finite_cluster_correction: bool = True,
) -> list[MetricPrecision]:
    """Every interval estimator for every subject × scorer × group of a stored run.

    Per-sample means over epochs come first (the unit is the sample). Samples without a
    cluster label count as clusters of their own. Flaky samples are listed most unstable
    first. Seeded, so re-running gives the same bootstrap bounds.
    """
    scores = load_scores(store, run_id)
    slice_keys = list(slices if slices is not None else scores.manifest.slices)
    out: list[MetricPrecision] = []
    for subject in scores.subjects:
        for scorer in scores.scorers:
            per_sample = scores.per_sample(subject, scorer)
            ids = sorted(per_sample)
            groups: list[tuple[str | None, str | None, list[str]]] = [(None, None, ids)]
            for key in slice_keys:
                by_label: dict[str, list[str]] = defaultdict(list)
                for i in ids:
                    by_label[scores.slice_label(i, key)].append(i)
                for label in sorted(by_label, key=lambda x: (x == NO_LABEL, x)):
                    groups.append((key, label, by_label[label]))
            for group_key, group_label, members in groups:
                out.append(
                    _precision(
                        subject,
                        scorer,
                        group_key,
                        group_label,
                        members,
                        per_sample,
                        [scores.cluster(i) for i in members],
                        confidence,
                        n_resamples,
                        seed,
                        finite_cluster_correction,
                    )
                )
    return out


def _precision(
    subject: str,
    scorer: str,
    key: str | None,
    label: str | None,
    ids: list[str],
    per_sample: dict[str, list[float]],
    cluster_labels: list[str | None],
    confidence: float,
    n_resamples: int,
    seed: int,
    finite_cluster_correction: bool,
) -> MetricPrecision:
    means = np.array([np.mean(per_sample[i]) for i in ids])
    default = mean_interval(means, confidence)
    clustered = None
    n_clusters = None
    clusters = None
    if any(c is not None for c in cluster_labels):
        clusters = np.array(
            [
                c if c is not None else f"\x00sample:{i}"
                for c, i in zip(cluster_labels, ids, strict=True)
            ]
        )
        n_clusters = int(np.unique(clusters).size)
        clustered = clustered_interval(
            means, clusters, confidence, finite_cluster_correction=finite_cluster_correction
        )
    percentile = bca = None
    if means.size >= 2 and n_resamples > 0:
        if clusters is not None:
            percentile = cluster_bootstrap_interval(
                means, clusters, method="percentile", n_resamples=n_resamples,
                confidence=confidence, seed=seed,
            )  # fmt: skip
            bca = cluster_bootstrap_interval(
                means, clusters, method="bca", n_resamples=n_resamples,
                confidence=confidence, seed=seed,
            )  # fmt: skip
        else:
            percentile = bootstrap_interval(
                means, method="percentile", n_resamples=n_resamples,
                confidence=confidence, seed=seed,
            )  # fmt: skip
            bca = bootstrap_interval(
                means, method="bca", n_resamples=n_resamples, confidence=confidence, seed=seed
            )
    rate = bool(ids) and all(v in (0.0, 1.0) for i in ids for v in per_sample[i])
    if rate:
        # A rate (pass/fail answers, averaged over epochs): t and clustered intervals on the
        # per-sample pass rates can cross 0 or 1 (issue 20: 102%); a rate's interval cannot.
        default = clip_to_unit(default)
        clustered = None if clustered is None else clip_to_unit(clustered)
    epochs = None
    flaky: list[FlakySample] = []
    counts = [len(per_sample[i]) for i in ids]
    if ids and max(counts) > 1:
        values = np.concatenate([per_sample[i] for i in ids])
        index = np.repeat(np.arange(len(ids)), counts)
        epochs = epoch_variance(values, index)
        flaky = [
            FlakySample(
                ids[j],
                float(means[j]),
                counts[j],
                passed=int(sum(per_sample[ids[j]])) if rate else None,
            )
            for j in flaky_samples(values, index)
        ]
    return MetricPrecision(
        subject, scorer, key, label, default, clustered, n_clusters, percentile, bca, epochs, flaky
    )
