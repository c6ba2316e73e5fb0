"""The numbers of one metric in ``assay compare``: per group (all samples, then each slice) the
paired difference, the chosen test, the MDE and the resampling checks, before the
multiple-comparison correction (applied in :func:`assay.analyse.compare.compare_scores`).

At 100,000 samples every per-sample step is done once per metric on arrays: the epoch means,
the pass/fail check, the cluster labels (as integer codes, in the labels' sorted order, which
is how every clustered statistic factorises them) and the slice labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from statistics import fmean
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analyse.compare_types import DEFAULT_MIN_EFFECT_SHARE, CompareSettings
from assay.analyse.paired_estimators import estimate_group, margin_verdict
from assay.analyse.scores import NO_LABEL, OneScorePerSample, RunScores
from assay.stats import (
    mcnemar_exact,
    minimum_detectable_effect,
    paired_bootstrap_interval,
    paired_difference,
    sign_flip_test,
)


def default_min_effect(values: NDArray[np.float64]) -> float:
    """3% of the metric's range: 0.03 for scores within [0, 1], else 3% of the observed span."""
    if values.size == 0:
        return DEFAULT_MIN_EFFECT_SHARE
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return DEFAULT_MIN_EFFECT_SHARE
    return DEFAULT_MIN_EFFECT_SHARE * (high - low) if high > low else DEFAULT_MIN_EFFECT_SHARE


def _scale(values: NDArray[np.float64]) -> float:
    low, high = float(values.min()), float(values.max())
    return 1.0 if low >= 0 and high <= 1 else max(high - low, 1e-12)


@dataclass
class GroupRow:
    """A group's numbers before the multiple-comparison correction."""

    slice_key: str | None
    slice_value: str | None
    fields: dict[str, Any]
    p_value: float


def compare_group(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    clusters: NDArray[Any] | None,
    binary: bool,
    scale: float,
    settings: CompareSettings,
) -> tuple[dict[str, Any], float]:
    n = int(a.size)
    pd = paired_difference(a, b, confidence=settings.confidence)
    chosen = estimate_group(
        a,
        b,
        clusters,
        binary,
        confidence=settings.confidence,
        alpha=settings.alpha,
        min_clusters=settings.min_clusters,
    )
    n_clusters = chosen.n_clusters
    use_clusters = n_clusters is not None and n_clusters >= settings.min_clusters
    interval, p, se, test, note = (
        chosen.interval,
        chosen.p_value,
        chosen.standard_error,
        chosen.test,
        chosen.note,
    )
    a_only = b_only = None
    if binary:
        mc = mcnemar_exact(a, b)
        a_only, b_only = mc.a_only, mc.b_only
    margin_label = margin_interval = None
    if settings.margin is not None:
        margin_label, margin_interval = margin_verdict(
            chosen, settings.margin, settings.alpha, settings.equivalence
        )
    se_for_mde = float(se) if se is not None else math.nan
    if se_for_mde <= 1e-9 * scale and n >= 1:
        # No variation in the differences (but for floating-point rounding, as when B adds
        # the same constant to every score): an SE of ~0 would claim infinite power.
        # Use the rule-of-three bound instead (Hanley & Lippman-Hand 1983): a difference that
        # never varied in n samples may still vary in up to 3/n of them.
        se_for_mde = scale * math.sqrt(min(1.0, 3 / n) / n)
        note = (note + "; " if note else "") + "no variation in the differences"
    # In the design of the row's test: t quantiles on its degrees of freedom (CR2's
    # Bell-McCaffrey ν, the paired t's n − 1), normal ones for McNemar's exact test.
    mde = (
        minimum_detectable_effect(
            se_for_mde, alpha=settings.alpha, power=settings.power, df=chosen.df
        )
        if n >= 2
        else math.nan
    )
    bootstrap = permutation = None
    if n >= 2 and settings.n_resamples > 0:
        bootstrap = paired_bootstrap_interval(
            a,
            b,
            clusters=clusters if use_clusters else None,
            method="percentile" if use_clusters else "bca",
            n_resamples=settings.n_resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
        permutation = sign_flip_test(a, b, n_resamples=settings.n_resamples, seed=settings.seed)
    fields = {
        "n": n,
        "mean_a": pd.mean_a,
        "mean_b": pd.mean_b,
        "difference": pd.difference,
        "interval": interval,
        "test": test,
        "mde": mde,
        "se_paired": pd.se_paired,
        "se_unpaired": pd.se_unpaired,
        "correlation": pd.correlation,
        "n_clusters": n_clusters,
        "se_clustered": se if n_clusters is not None and n_clusters >= 2 else None,
        "binary": binary,
        "a_only": a_only,
        "b_only": b_only,
        "bootstrap": bootstrap,
        "permutation_p": None if permutation is None else permutation.p_value,
        "note": note,
        "margin_verdict": margin_label,
        "margin_interval": margin_interval,
    }
    return fields, p


def _sample_means(lists: list[list[float]]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Each sample's mean over its epochs, and how many epochs it has. A sample with one value
    is that value (what ``fmean`` gives); others are averaged with ``fmean`` as before."""
    n = len(lists)
    counts = np.fromiter(map(len, lists), np.int64, n)
    if bool((counts == 1).all()):
        return np.fromiter(map(itemgetter(0), lists), np.float64, n), counts
    return np.fromiter(map(fmean, lists), np.float64, n), counts


def _same_samples(
    va: Mapping[str, list[float]], vb: Mapping[str, list[float]]
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]] | None:
    """The shared samples (sorted) and each run's value of each, straight from the arrays,
    when both runs have one value per sample (:class:`OneScorePerSample`) for the same
    samples in sorted order (the store's): what ``sorted`` of the ids and the per-sample means
    below give, without a Python step per sample. ``None`` otherwise."""
    if not (isinstance(va, OneScorePerSample) and isinstance(vb, OneScorePerSample)):
        return None
    if va.ids is not vb.ids and va.ids != vb.ids:
        return None
    shared = sorted(va.ids)
    if shared != va.ids:
        return None
    return shared, va.array.astype(np.float64), vb.array.astype(np.float64)


def _in_order(values: Mapping[str, list[float]], ids: list[str]) -> list[list[float]]:
    """``values[i]`` for each of ``ids``: the mapping's own order when it is already that
    (the store gives samples in id order), without a lookup per sample."""
    return list(values.values()) if list(values) == ids else list(map(values.__getitem__, ids))


def _is_binary(values: NDArray[np.float64], counts: NDArray[np.int64]) -> bool:
    """One value per sample, each 0 or 1: a pass/fail metric."""
    return bool((counts == 1).all() and ((values == 0.0) | (values == 1.0)).all())


_MISSING: Any = object()


def _labels_by_object(scores: RunScores) -> bool:
    """Whether a sample's labels in ``scores`` are a function of its ``sample_meta`` entry
    alone: :class:`RunScores` itself, or a subclass that keeps its label methods."""
    kind = type(scores)
    return all(
        getattr(kind, name) is getattr(RunScores, name)
        for name in ("slice_label", "slice_labels", "cluster", "clusters_of", "has_sample")
    )


@dataclass
class _LabelGroups:
    """The shared samples grouped by the pair of ``sample_meta`` entries (the objects) they
    have in runs A and B. The store's reader gives samples with the same metadata and cluster
    one entry (:func:`~assay.store.score_reads.read_sample_labels`), so at 100,000 samples
    there are as many groups as distinct labels, and each label is worked out once per group
    (from one sample of it) rather than once per sample."""

    #: Each shared sample's group.
    group: NDArray[np.intp]
    #: One sample of each group (its run A and run B labels are every member's).
    reps: list[str]
    #: How many samples each group has.
    counts: NDArray[np.intp]


def _entry_ids(scores: RunScores, shared: list[str]) -> NDArray[np.uint64]:
    """Each sample's ``sample_meta`` entry as its object id (equal ids: the same object)."""
    entries = map(scores.sample_meta.get, shared, repeat(_MISSING))
    return np.fromiter(map(id, entries), np.uint64, len(shared))


def _label_groups(
    scores_a: RunScores, scores_b: RunScores, shared: list[str]
) -> _LabelGroups | None:
    """:class:`_LabelGroups` of the shared samples; ``None`` when labels are not a function of
    the entries (a subclass's own label methods), or when nearly every sample has entries of
    its own (grouping would only add work): then labels are read per sample."""
    n = len(shared)
    if n == 0 or not (_labels_by_object(scores_a) and _labels_by_object(scores_b)):
        return None
    ids_a, ids_b = _entry_ids(scores_a, shared), _entry_ids(scores_b, shared)
    order = np.lexsort((ids_b, ids_a))
    sorted_a, sorted_b = ids_a[order], ids_b[order]
    new = np.empty(n, bool)
    new[0] = True
    np.not_equal(sorted_a[1:], sorted_a[:-1], out=new[1:])
    new[1:] |= sorted_b[1:] != sorted_b[:-1]
    starts = np.flatnonzero(new)
    if starts.size * 2 > n:
        return None
    group = np.empty(n, np.intp)
    group[order] = np.cumsum(new) - 1
    reps = [shared[k] for k in order[starts].tolist()]
    return _LabelGroups(group, reps, np.diff(np.append(starts, n)))


def _cluster_codes(
    scores_a: RunScores,
    scores_b: RunScores,
    shared: list[str],
    grouped: _LabelGroups | None = None,
) -> NDArray[np.intp] | None:
    """Cluster of each shared sample (run A's label, else run B's; a sample with neither is a
    cluster of its own), as integer codes in the sorted order of the labels, so every
    statistic factorises them as it would the labels, without sorting 100,000 strings per
    group; ``None`` when no sample has a cluster. With ``grouped``, each group's label is
    read from one of its samples."""
    if grouped is not None:
        per_group = [
            x if x is not None else scores_b.cluster(r)
            for r, x in zip(grouped.reps, map(scores_a.cluster, grouped.reps), strict=True)
        ]
        if all(c is None for c in per_group):
            return None
        unnamed = [k for k, c in enumerate(per_group) if c is None]
        alone = np.flatnonzero(np.isin(grouped.group, unnamed)).tolist() if unnamed else []
        named_alone = [f"\x00sample:{shared[j]}".rstrip("\x00") for j in alone]
        stripped_group = [c.rstrip("\x00") if c is not None else "" for c in per_group]
        distinct = {x for x, c in zip(stripped_group, per_group, strict=True) if c is not None}
        code = {x: k for k, x in enumerate(sorted(distinct.union(named_alone)))}
        group_code = np.array(
            [
                code[x] if c is not None else -1
                for x, c in zip(stripped_group, per_group, strict=True)
            ],
            np.intp,
        )
        out = group_code[grouped.group]
        if alone:
            out[alone] = [code[x] for x in named_alone]
        return out
    labels_a = scores_a.clusters_of(shared)
    labels_b = scores_b.clusters_of(shared)
    labels = [x if x is not None else y for x, y in zip(labels_a, labels_b, strict=True)]
    if all(c is None for c in labels):
        return None
    named = [c if c is not None else f"\x00sample:{i}" for c, i in zip(labels, shared, strict=True)]
    # The codes numpy's sort of the labels as an array gives (trailing NULs do not count in a
    # numpy string), from a sort of the distinct labels only.
    stripped = [x.rstrip("\x00") for x in named]
    code = {x: k for k, x in enumerate(sorted(set(stripped)))}
    return np.fromiter(map(code.__getitem__, stripped), np.intp, len(stripped))


def _slice_groups(
    scores_a: RunScores,
    scores_b: RunScores,
    shared: list[str],
    key: str,
    grouped: _LabelGroups | None = None,
) -> tuple[list[tuple[str | None, str | None, NDArray[np.intp]]], int]:
    """The groups of slice ``key`` (run A's label, else run B's), and how many samples the
    two runs label differently. With ``grouped``, each group's labels are read from one of
    its samples."""
    if grouped is not None:
        reps = grouped.reps
        labels_a = [scores_a.slice_label(r, key) for r in reps]
        labels_b = [scores_b.slice_label(r, key) for r in reps]
        per_group = [x if x != NO_LABEL else y for x, y in zip(labels_a, labels_b, strict=True)]
        mismatched = sum(
            int(n)
            for r, x, y, n in zip(reps, labels_a, labels_b, grouped.counts.tolist(), strict=True)
            if x != y and scores_a.has_sample(r) and scores_b.has_sample(r)
        )
        # A numpy string array's ``==`` (the per-sample path) ignores trailing NULs.
        stripped = [x.rstrip("\x00") for x in per_group]
        code = {x: k for k, x in enumerate(dict.fromkeys(stripped))}
        sample_code = np.array([code[x] for x in stripped], np.intp)[grouped.group]
        return [
            (key, value, np.flatnonzero(sample_code == code[value.rstrip("\x00")]))
            for value in sorted(set(per_group))
        ], mismatched
    labels_a = scores_a.slice_labels(shared, key)
    labels_b = scores_b.slice_labels(shared, key)
    labels = [x if x != NO_LABEL else y for x, y in zip(labels_a, labels_b, strict=True)]
    mismatched = sum(
        1
        for i, x, y in zip(shared, labels_a, labels_b, strict=True)
        if x != y and scores_a.has_sample(i) and scores_b.has_sample(i)
    )
    label_array = np.array(labels)
    groups: list[tuple[str | None, str | None, NDArray[np.intp]]] = [
        (key, value, np.flatnonzero(label_array == value)) for value in sorted(set(labels))
    ]
    return groups, mismatched


def metric_rows(
    scores_a: RunScores,
    scores_b: RunScores,
    subject_a: str,
    subject_b: str,
    scorer: str,
    slices: Sequence[str],
    settings: CompareSettings,
    warnings: list[str],
    memo: dict[Any, Any] | None = None,
) -> tuple[list[GroupRow], dict[str, Any]] | None:
    """One metric's rows (the aggregate, then each slice's groups) before the correction, and
    the metric's facts; ``None`` (with a warning) when the runs share no graded sample.

    ``memo`` keeps the clusters and slice groups of a set of shared samples for the next
    metric of the same two runs (metrics graded on the same samples share them)."""
    va = scores_a.per_sample(subject_a, scorer)
    vb = scores_b.per_sample(subject_b, scorer)
    # Kept in the order of the mappings (sample id order, from the store), which makes the
    # sorts below linear.
    columns = _same_samples(va, vb)
    only_a: list[str] = []
    only_b: list[str] = []
    if columns is not None:  # one value per sample, the same samples in both, in id order
        shared = columns[0]
    elif va.keys() == vb.keys():  # the same samples graded in both runs: nearly always
        shared = sorted(va)
    else:
        shared = sorted([i for i in va if i in vb])
        only_a = sorted([i for i in va if i not in vb])
        only_b = sorted([i for i in vb if i not in va])
    label = (
        f"{subject_a}/{scorer}" if subject_a == subject_b else f"{subject_a}→{subject_b}/{scorer}"
    )
    if only_a or only_b:
        warnings.append(
            f"{label}: {len(only_a)} samples graded only in run A and {len(only_b)} only in run B "
            "are left out (the runs are joined by sample id)"
        )
    if len(shared) == 0:
        warnings.append(f"{label}: the runs share no graded sample; nothing to compare")
        return None
    # Per-sample arrays built in one pass each: per-sample Python calls (labels, clusters,
    # means) were most of `assay compare`'s time at 100,000 samples (issue 20).
    if columns is not None:
        a, b = columns[1], columns[2]
        epochs_a = epochs_b = np.ones(len(shared), np.int64)
    else:
        a, epochs_a = _sample_means(_in_order(va, shared))
        b, epochs_b = _sample_means(_in_order(vb, shared))
    binary = _is_binary(a, epochs_a) and _is_binary(b, epochs_b)
    memo = {} if memo is None else memo
    samples = tuple(shared)
    if ("groups", samples) not in memo:
        memo["groups", samples] = _label_groups(scores_a, scores_b, shared)
    grouped = memo["groups", samples]
    if ("clusters", samples) not in memo:
        memo["clusters", samples] = _cluster_codes(scores_a, scores_b, shared, grouped)
    clusters = memo["clusters", samples]
    both = np.concatenate([a, b])
    scale = _scale(both)
    groups: list[tuple[str | None, str | None, NDArray[np.intp]]] = [
        (None, None, np.arange(len(shared)))
    ]
    for key in slices:
        if ("slice", key, samples) not in memo:
            memo["slice", key, samples] = _slice_groups(scores_a, scores_b, shared, key, grouped)
        found, mismatched = memo["slice", key, samples]
        groups += found
        if mismatched:
            warnings.append(
                f"{label}: {mismatched} samples have different '{key}' labels in the two runs; "
                "run A's labels are used"
            )
    rows: list[GroupRow] = []
    for group_key, group_value, idx in groups:
        fields, p = compare_group(
            a[idx],
            b[idx],
            None if clusters is None else clusters[idx],
            binary,
            scale,
            settings,
        )
        rows.append(GroupRow(group_key, group_value, fields, p))
    if isinstance(settings.min_effect, Mapping):
        min_effect = settings.min_effect.get(scorer, default_min_effect(both))
    elif settings.min_effect is not None:
        min_effect = float(settings.min_effect)
    else:
        min_effect = default_min_effect(both)
    meta = {
        "subject_a": subject_a,
        "subject_b": subject_b,
        "scorer": scorer,
        "min_effect": min_effect,
        "only_a": only_a,
        "only_b": only_b,
        "epochs_a": float(np.mean(epochs_a)),
        "epochs_b": float(np.mean(epochs_b)),
    }
    return rows, meta
