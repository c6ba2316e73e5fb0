"""``tool_count`` (J7): tool-selection accuracy as the exposed catalog grows.

Each item's target is the right tool's name. At catalog size N the prompt lists N tools (lines
``- <name>: <description>``): the right one, the other items' tools, then generated
distractors (``tool_0412_records``), in a seeded order, so a larger catalog holds every
smaller one's tools plus more. The reply should be the tool's name.

Rule. For each pair of adjacent sizes, the fall in accuracy (smaller − larger, paired over
items). ``tool_count_degradation`` when some fall exceeds ``max_drop`` (10 points by default,
a proposed default [I]) *and* its paired interval, Bonferroni-adjusted over the adjacent
pairs, excludes 0; otherwise ``stable``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from assay.core import Sample, SpecError
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, pts, register_probe
from assay.stats import paired_difference

_NOUNS = ("records", "invoice", "weather", "calendar", "refund", "search", "email", "ticket",
          "inventory", "shipping", "profile", "payment", "report", "contract", "alert")  # fmt: skip


class ToolCountOptions(ProbeOptions):
    sizes: list[int] = Field(default_factory=lambda: [50, 200, 417, 741], min_length=2)
    max_drop: float = Field(0.10, gt=0, lt=1)
    seed: int = 0


def _target(s: Sample) -> str:
    t = s.target
    return str(t[0]) if isinstance(t, tuple) and t else str(t)


@register_probe
class ToolCountProbe(Probe):
    kind = "tool_count"
    variant_key = "tools"
    options = ToolCountOptions
    description = "tool-selection accuracy by catalog size; falls between adjacent sizes"
    config: ToolCountOptions

    def variants(self) -> list[str]:
        return [str(n) for n in sorted(set(self.config.sizes))]

    def prepare(self, samples: Sequence[Sample], where: str) -> None:
        if min(self.config.sizes) < 2:
            raise SpecError("catalog sizes must be at least 2", where=f"{where}.sizes")
        for s in samples:
            if not isinstance(s.input, str) or s.target is None:
                raise SpecError(
                    f"sample {s.id!r}: the tool_count probe needs text inputs whose target "
                    "is the right tool's name",
                    where=where,
                )
        real = list(dict.fromkeys(_target(s) for s in samples))
        need = max(self.config.sizes)
        fake = [
            f"tool_{i:04d}_{_NOUNS[i % len(_NOUNS)]}"
            for i in range(need + len(real))
            if f"tool_{i:04d}_{_NOUNS[i % len(_NOUNS)]}" not in real
        ]
        self._catalog = real + fake[: max(0, need - 1)]

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        size = int(variant)
        gold = _target(sample)
        others = [t for t in self._catalog if t != gold][: size - 1]
        tools = [gold, *others]

        def order(name: str) -> bytes:
            return hashlib.blake2b(f"{self.config.seed}|{sample.id}|{name}".encode()).digest()

        lines = [f"- {name}: {name.replace('_', ' ')}" for name in sorted(tools, key=order)]
        text = "\n".join(
            [f"Tools ({size}):", *lines, "", f"Task: {sample.input}",
             "Reply with the name of the one tool to call."]
        )  # fmt: skip
        return sample.model_copy(update={"input": text})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        sizes = self.variants()
        curve = table.curve(subject, sizes)
        conf = 1 - 0.05 / max(1, len(sizes) - 1)
        falls: list[dict[str, Any]] = []
        verdict, flagged = "stable", False
        for small, large in itertools.pairwise(sizes):
            a, b = table.paired(subject, large, small)
            if len(a) < 2:
                continue
            d = paired_difference(a, b)
            adj = paired_difference(a, b, confidence=conf)
            falls.append({"from": int(small), "to": int(large), "fall": d.difference,
                          "interval": d.interval})  # fmt: skip
            if d.difference > c.max_drop and adj.interval.low > 0:
                verdict, flagged = "tool_count_degradation", True
        acc = ", ".join(f"{p.variant}: {pts(p.interval.estimate)}%" for p in curve)
        figure = f"accuracy by catalog size {acc}"
        if falls:
            worst = max(falls, key=lambda f: f["fall"])
            i = worst["interval"]
            figure += (
                f"; largest fall {pts(worst['fall'])} pts from {worst['from']} to "
                f"{worst['to']} tools (95% CI {pts(i.low)} to {pts(i.high)})"
            )
        rule = (
            f"tool_count_degradation: a fall > {pts(c.max_drop)} pts between adjacent sizes "
            f"with its paired interval, Bonferroni-adjusted over {len(sizes) - 1} pairs, "
            "excluding 0"
        )
        return self.result(table, subject, curve, verdict, flagged, figure, rule,
                           {"falls": falls})  # fmt: skip
