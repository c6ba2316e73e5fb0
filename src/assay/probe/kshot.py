"""``kshot`` (B8): accuracy by the number of few-shot examples, fixed vs retrieved.

Examples are the eval's other samples (never the item itself), shown as lines
``Example <i>: Q: … A: …`` under ``Examples:`` (fixed: the same seeded order for every item) or
``Examples (retrieved):`` (retrieved: the k most similar by word-set Jaccard similarity).

Rule. The peak is the k with the highest mean (the first on ties). The regression from peak
at each later k is the paired difference peak − k over items (:func:`assay.stats.
paired_difference`). ``peak_regression`` when the largest one is at least ``min_regression``
*and* its interval, Bonferroni-adjusted over all K(K−1)/2 pairs of ks (the peak is chosen
from the data, so any pair could have been the one compared), excludes 0.
``selection_collapse`` when, at some k, retrieved examples fall below fixed ones by the same
criterion (adjusted over the K ks). Otherwise ``steady_plateau``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from assay.core import Sample, SpecError
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, pts, register_probe
from assay.stats import paired_difference


class KShotOptions(ProbeOptions):
    ks: list[int] = Field(default_factory=lambda: list(range(9)), min_length=2)
    selection: list[Literal["fixed", "retrieved"]] = Field(
        default_factory=lambda: ["fixed"],  # type: ignore[arg-type]
        min_length=1,
    )
    min_regression: float = Field(0.10, gt=0, lt=1)
    seed: int = 0


def _words(text: str) -> set[str]:
    return {w for w in "".join(c.lower() if c.isalnum() else " " for c in text).split()}


def _target(sample: Sample) -> str:
    t = sample.target
    return str(t[0]) if isinstance(t, tuple) and t else str(t)


@register_probe
class KShotProbe(Probe):
    kind = "kshot"
    variant_key = "k"
    options = KShotOptions
    description = "accuracy by number of few-shot examples; peak k and regression from peak"
    config: KShotOptions

    def variants(self) -> list[str]:
        ks = sorted(set(self.config.ks))
        if len(self.config.selection) == 1:
            return [str(k) for k in ks]
        return [f"{sel}:{k}" for sel in self.config.selection for k in ks]

    def prepare(self, samples: Sequence[Sample], where: str) -> None:
        need = max(self.config.ks)
        if any(k < 0 for k in self.config.ks):
            raise SpecError("ks must be 0 or more", where=f"{where}.ks")
        if len(samples) <= need:
            raise SpecError(
                f"k = {need} needs at least {need + 1} samples (examples are other samples)",
                where=f"{where}.ks",
                fix="use smaller ks or a larger dataset",
            )
        for s in samples:
            if not isinstance(s.input, str) or s.target is None:
                raise SpecError(
                    f"sample {s.id!r}: the kshot probe needs text inputs with targets",
                    where=where,
                )
        key = lambda s: hashlib.blake2b(f"{self.config.seed}|{s.id}".encode()).digest()  # noqa: E731
        self._fixed = sorted(samples, key=key)
        self._samples = list(samples)
        self._words = {s.id: _words(str(s.input)) for s in samples}

    def _examples(self, sample: Sample, k: int, selection: str) -> list[Sample]:
        if selection == "fixed":
            return [s for s in self._fixed if s.id != sample.id][:k]
        mine = self._words[sample.id]

        def similarity(s: Sample) -> tuple[float, str]:
            other = self._words[s.id]
            union = len(mine | other) or 1
            return (-len(mine & other) / union, s.id)

        return sorted((s for s in self._samples if s.id != sample.id), key=similarity)[:k]

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        selection, _, k_text = variant.rpartition(":")
        selection = selection or self.config.selection[0]
        k = int(k_text)
        if k == 0:
            text = str(sample.input)
        else:
            header = "Examples:" if selection == "fixed" else "Examples (retrieved):"
            lines = [
                f"Example {i}: Q: {e.input} A: {_target(e)}"
                for i, e in enumerate(self._examples(sample, k, selection), 1)
            ]
            text = "\n".join([header, *lines, "", f"Question: {sample.input}"])
        meta = {**sample.metadata, "selection": selection}
        return sample.model_copy(update={"input": text, "metadata": meta})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        ks = sorted(set(c.ks))
        curve = table.curve(subject)
        figures: dict[str, object] = {}
        n_pairs = len(ks) * (len(ks) - 1) // 2
        pair_conf = 1 - 0.05 / max(1, n_pairs)
        verdict, flagged, figure = "steady_plateau", False, ""
        for sel in c.selection:
            labels = [str(k) if len(c.selection) == 1 else f"{sel}:{k}" for k in ks]
            means = {
                k: p.interval.estimate
                for k, lab in zip(ks, labels, strict=True)
                for p in curve
                if p.variant == lab
            }
            if not means:
                continue
            peak = max(means, key=lambda k: (means[k], -k))
            worst = None
            for k, lab in zip(ks, labels, strict=True):
                if k <= peak or k not in means:
                    continue
                a, b = table.paired(subject, lab, labels[ks.index(peak)])
                if len(a) < 2:
                    continue
                d95 = paired_difference(a, b)
                adj = paired_difference(a, b, confidence=pair_conf)
                if worst is None or d95.difference > worst[1].difference:
                    worst = (k, d95, adj)
            fig: dict[str, object] = {"peak_k": peak, "peak_accuracy": means[peak]}
            text = f"{sel}: peak k = {peak} ({pts(means[peak])}%)"
            if worst is not None:
                k, d95, adj = worst
                fig |= {
                    "regression_k": k,
                    "regression": d95.difference,
                    "regression_interval": d95.interval,
                    "regression_adjusted_low": adj.interval.low,
                }
                text += (
                    f"; regression from peak: {pts(d95.difference)} pts at k={k} "
                    f"(95% CI {pts(d95.interval.low)} to {pts(d95.interval.high)})"
                )
                if d95.difference >= c.min_regression and adj.interval.low > 0 and not flagged:
                    verdict, flagged = "peak_regression", True
            figures[sel] = fig
            figure = f"{figure}; {text}" if figure else text
        if set(c.selection) == {"fixed", "retrieved"}:
            adj_conf = 1 - 0.05 / len(ks)
            for k in ks:
                if k == 0:
                    continue
                a, b = table.paired(subject, f"retrieved:{k}", f"fixed:{k}")
                if len(a) < 2:
                    continue
                d = paired_difference(a, b, confidence=adj_conf)
                if d.difference >= c.min_regression and d.interval.low > 0:
                    verdict, flagged = "selection_collapse", True
                    figures["selection_collapse"] = {"k": k, "fixed_minus_retrieved": d.difference}
                    figure += f"; retrieved examples {pts(d.difference)} pts below fixed at k={k}"
                    break
        rule = (
            f"peak_regression: regression from peak >= {pts(c.min_regression)} pts and its "
            f"paired interval, Bonferroni-adjusted over {n_pairs} pairs of k, excludes 0; "
            "selection_collapse: retrieved below fixed at some k by the same criterion"
        )
        return self.result(table, subject, curve, verdict, flagged, figure, rule, figures)
