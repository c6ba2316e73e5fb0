"""``position`` (F6): move the gold passage through n positions among distractors.

Each item's gold passage is its metadata ``passage_field`` (default ``passage``), or, when
absent, a one-line note stating the answer. Distractors are other items' passages, the same
ones in the same order at every position, so only the gold passage moves. Passages are
lines ``[i] text`` under ``Passages:``, then ``Question: …``.

Rule. "Ends" are positions 1..e and n−e+1..n (``ends``, default 2), the rest the middle.
Per item, d = mean(ends) − mean(middle); the paired interval is Student's t over items.
``middle_blindness`` when the interval excludes 0 *and* d is at least the minimum detectable
effect at this n (80% power, two-sided 5%; :func:`assay.stats.
paired_minimum_detectable_effect` with ω² the variance of d), so a flag needs an effect the
design could reliably see, not just a significant wobble.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from assay.core import Sample, SpecError
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, pts, register_probe
from assay.stats import paired_minimum_detectable_effect, t_interval


class PositionOptions(ProbeOptions):
    n_passages: int = Field(12, ge=3, le=200)
    ends: int = Field(2, ge=1)
    passage_field: str = "passage"
    seed: int = 0


@register_probe
class PositionProbe(Probe):
    kind = "position"
    variant_key = "position"
    options = PositionOptions
    description = "accuracy by gold-passage position; lost in the middle"
    config: PositionOptions

    def variants(self) -> list[str]:
        return [str(i) for i in range(1, self.config.n_passages + 1)]

    def _passage(self, s: Sample) -> str:
        given = s.metadata.get(self.config.passage_field)
        if given is not None:
            return " ".join(str(given).split())
        t = s.target[0] if isinstance(s.target, tuple) else s.target
        return f"Note: the answer to “{s.input}” is {t}."

    def prepare(self, samples: Sequence[Sample], where: str) -> None:
        c = self.config
        if 2 * c.ends >= c.n_passages:
            raise SpecError(
                f"ends = {c.ends} leaves no middle among {c.n_passages} passages",
                where=f"{where}.ends",
                fix="use ends < n_passages / 2",
            )
        if len(samples) < c.n_passages:
            raise SpecError(
                f"{c.n_passages} passages need at least {c.n_passages} samples "
                "(distractors are other samples' passages)",
                where=f"{where}.n_passages",
            )
        for s in samples:
            if not isinstance(s.input, str) or s.target is None:
                raise SpecError(
                    f"sample {s.id!r}: the position probe needs text inputs with targets",
                    where=where,
                )
        self._samples = list(samples)
        self._passages = {s.id: self._passage(s) for s in samples}
        self._chosen: dict[str, list[str]] = {}

    def _distractors(self, sample: Sample) -> list[str]:
        cached = self._chosen.get(sample.id)
        if cached is not None:
            return list(cached)

        def key(s: Sample) -> bytes:
            return hashlib.blake2b(f"{self.config.seed}|{sample.id}|{s.id}".encode()).digest()

        others = sorted((s for s in self._samples if s.id != sample.id), key=key)
        chosen = [self._passages[s.id] for s in others[: self.config.n_passages - 1]]
        self._chosen[sample.id] = chosen
        return list(chosen)

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        pos = int(variant)
        passages = self._distractors(sample)
        passages.insert(pos - 1, self._passages[sample.id])
        lines = [f"[{i}] {p}" for i, p in enumerate(passages, 1)]
        text = "\n".join(["Passages:", *lines, "", f"Question: {sample.input}"])
        return sample.model_copy(update={"input": text})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        n = c.n_passages
        curve = table.curve(subject)
        ends = [str(i) for i in range(1, n + 1) if i <= c.ends or i > n - c.ends]
        middle = [str(i) for i in range(c.ends + 1, n - c.ends + 1)]
        by_variant = {v: table.item_means(subject, v) for v in ends + middle}
        items = sorted(set.intersection(*(set(m) for m in by_variant.values())))
        rule = (
            f"middle_blindness: mean at positions 1-{c.ends} and {n - c.ends + 1}-{n} minus the "
            "middle, paired over items, with its 95% t interval excluding 0 and the difference "
            "at least the MDE (80% power)"
        )
        if len(items) < 2:
            return self.result(
                table,
                subject,
                curve,
                "underpowered",
                False,
                "fewer than 2 items at every position",
                rule,
            )
        e = np.array([np.mean([by_variant[v][i] for v in ends]) for i in items])
        m = np.array([np.mean([by_variant[v][i] for v in middle]) for i in items])
        d = e - m
        interval = t_interval(d)
        omega2 = float(np.var(d, ddof=1))
        mde = paired_minimum_detectable_effect(len(items), omega2) if omega2 > 0 else 0.0
        worst = min((p for p in curve if p.variant in middle), key=lambda p: p.interval.estimate)
        flagged = interval.low > 0 and interval.estimate >= mde
        figure = (
            f"ends {pts(e.mean())}% vs middle {pts(m.mean())}%: {pts(interval.estimate)} pts "
            f"(95% CI {pts(interval.low)} to {pts(interval.high)}; MDE {pts(mde)} pts); "
            f"lowest at position {worst.variant} ({pts(worst.interval.estimate)}%)"
        )
        figures = {
            "ends_accuracy": float(e.mean()),
            "middle_accuracy": float(m.mean()),
            "difference": interval,
            "mde": mde,
            "lowest_position": int(worst.variant),
        }
        verdict = "middle_blindness" if flagged else "position_robust"
        return self.result(table, subject, curve, verdict, flagged, figure, rule, figures)
