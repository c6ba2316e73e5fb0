"""``locale`` (G5): the same suite through each locale's prompt; parity against a reference.

``locales`` maps a locale code to its prompt template (inline text with ``{{ input }}``, or a
file relative to the spec); the rendered template becomes the sample's input and the locale is
in ``metadata["locale"]``. ``shipped`` lists the locales the product serves.

Rule. Parity of locale L is the paired difference L − reference over items (its 95% t
interval). ``no_eval_for_variant`` when a shipped locale has no prompt here (it was never
evaluated); ``locale_gap`` when some locale's gap is at least ``min_gap`` in size and its
interval, Bonferroni-adjusted over the compared locales, excludes 0; otherwise ``parity``.
"""

from __future__ import annotations

import re

from pydantic import Field

from assay.core import Sample, SpecError
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, pts, register_probe
from assay.stats import paired_difference

_INPUT = re.compile(r"\{\{\s*input\s*\}\}")


class LocaleOptions(ProbeOptions):
    locales: dict[str, str] = Field(min_length=1)
    reference: str = "en"
    shipped: list[str] = Field(default_factory=list)
    min_gap: float = Field(0.05, gt=0, lt=1)


@register_probe
class LocaleProbe(Probe):
    kind = "locale"
    variant_key = "locale"
    options = LocaleOptions
    description = "per-locale accuracy and paired parity with the reference locale"
    config: LocaleOptions

    def variants(self) -> list[str]:
        return list(self.config.locales)

    def prepare(self, samples: list[Sample], where: str) -> None:  # type: ignore[override]
        if self.config.reference not in self.config.locales:
            raise SpecError(
                f"reference locale {self.config.reference!r} has no prompt",
                where=f"{where}.reference",
                fix=f"locales: {', '.join(self.config.locales)}",
            )
        self._templates: dict[str, str] = {}
        for code, value in self.config.locales.items():
            path = self.base_dir / value
            text = value
            if "\n" not in value and "{{" not in value and path.is_file():
                text = path.read_text(encoding="utf-8")
            if not _INPUT.search(text):
                raise SpecError(
                    f"the {code!r} prompt has no {{{{ input }}}} placeholder",
                    where=f"{where}.locales.{code}",
                    fix="put {{ input }} where the question goes",
                )
            self._templates[code] = text

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        if not isinstance(sample.input, str):
            return sample
        text = _INPUT.sub(lambda _: str(sample.input), self._templates[variant])
        meta = {**sample.metadata, "locale": variant}
        return sample.model_copy(update={"input": text, "metadata": meta})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        curve = table.curve(subject)
        others = [code for code in c.locales if code != c.reference]
        conf = 1 - 0.05 / max(1, len(others))
        gaps: dict[str, object] = {}
        parts: list[str] = []
        verdict, flagged = "parity", False
        for code in others:
            a, b = table.paired(subject, c.reference, code)
            if len(a) < 2:
                continue
            d = paired_difference(a, b)
            adj = paired_difference(a, b, confidence=conf)
            gaps[code] = {"gap": d.difference, "interval": d.interval, "n": d.n}
            parts.append(
                f"{code} {'+' if d.difference >= 0 else '−'}{pts(abs(d.difference))} pts vs "
                f"{c.reference} (95% CI {pts(d.interval.low)} to {pts(d.interval.high)})"
            )
            excludes = adj.interval.low > 0 or adj.interval.high < 0
            if abs(d.difference) >= c.min_gap and excludes:
                verdict, flagged = "locale_gap", True
        missing = [code for code in c.shipped if code not in c.locales]
        if missing:
            verdict, flagged = "no_eval_for_variant", True
            parts.insert(0, f"shipped locale(s) never evaluated: {', '.join(missing)}")
        figure = "; ".join(parts) or "only the reference locale was evaluated"
        rule = (
            f"no_eval_for_variant: a shipped locale without a prompt here; locale_gap: "
            f"|gap vs {c.reference}| >= {pts(c.min_gap)} pts with its paired interval, "
            f"Bonferroni-adjusted over {len(others)} locale(s), excluding 0"
        )
        figures = {"gaps": gaps, "missing": missing}
        return self.result(table, subject, curve, verdict, flagged, figure, rule, figures)
