"""``consistency`` (F7): the same question across sessions, or across personas (cross-user).

Variants are N sessions (a header ``[session <tag>]`` before the question, the tag hashed
from the session number, as a chat product's session id would be) or, with ``personas``,
one variant per persona (``You are assisting <persona>.``): the "Cross-User Consistency
Problem", where the same factual question gets different answers for different users.

Rule. Per item, the distinct answers across variants (outputs normalised: trimmed,
lower-cased, trailing punctuation dropped; the answer number when every output has one).
``inconsistent_numeric_answer`` when some item's numeric answers spread by more than
``numeric_tolerance``; ``inconsistent_answer`` when some item's text answers differ;
otherwise ``consistent``. The consistency rate (items with one answer) carries a Wilson
interval. The check is exact, not statistical: one item answered two ways is a finding.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import Field

from assay.core import Sample
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, register_probe
from assay.stats import wilson_interval

_NUMBER = re.compile(r"[-−]?\d+(?:[.,]\d+)?")


class ConsistencyOptions(ProbeOptions):
    sessions: int = Field(10, ge=2, le=1000)
    personas: list[str] | None = Field(None, min_length=2)
    numeric_tolerance: float = Field(0.0, ge=0)


def _normalise(text: str) -> str:
    return text.strip().lower().rstrip(".!?。 ")


def _number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    return float(found[-1].replace("−", "-").replace(",", "."))


@register_probe
class ConsistencyProbe(Probe):
    kind = "consistency"
    variant_key = "session"
    options = ConsistencyOptions
    description = "distinct answers to the same question across sessions or personas"
    config: ConsistencyOptions

    def variants(self) -> list[str]:
        if self.config.personas:
            return list(self.config.personas)
        return [f"s{i}" for i in range(1, self.config.sessions + 1)]

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        if not isinstance(sample.input, str):
            return sample
        if self.config.personas:
            text = f"You are assisting {variant}.\n\n{sample.input}"
        else:
            tag = hashlib.blake2b(variant.encode(), digest_size=4).hexdigest()
            text = f"[session {tag}]\n{sample.input}"
        return sample.model_copy(update={"input": text})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        curve = table.curve(subject)
        items = table.texts.get(subject, {})
        n_consistent = 0
        worst_numeric: tuple[float, str, list[float]] | None = None
        worst_text: tuple[int, str, list[str]] | None = None
        for item, by_variant in sorted(items.items()):
            outputs = [t for texts in by_variant.values() for t in texts]
            distinct = sorted({_normalise(t) for t in outputs})
            numbers = [_number(t) for t in outputs]
            if outputs and all(x is not None for x in numbers):
                values = sorted({x for x in numbers if x is not None})
                spread = values[-1] - values[0]
                if spread <= self.config.numeric_tolerance:
                    n_consistent += 1
                elif worst_numeric is None or spread > worst_numeric[0]:
                    worst_numeric = (spread, item, values)
            elif len(distinct) <= 1:
                n_consistent += 1
            elif worst_text is None or len(distinct) > worst_text[0]:
                worst_text = (len(distinct), item, distinct)
        n = len(items)
        rate = wilson_interval(n_consistent, n) if n else None
        what = f"{len(self.variants())} {'personas' if self.config.personas else 'sessions'}"
        figures: dict[str, object] = {"consistency_rate": rate, "n_items": n}
        if worst_numeric is not None:
            spread, item, values = worst_numeric
            verdict = "inconsistent_numeric_answer"
            figure = (
                f"{len(values)} distinct answers across {what} for item {item!r} "
                f"({', '.join(f'{v:g}' for v in values)}; spread {spread:g})"
            )
            figures |= {
                "item": item,
                "distinct_answers": len(values),
                "values": values,
                "spread": spread,
            }
        elif worst_text is not None:
            count, item, distinct = worst_text
            verdict = "inconsistent_answer"
            figure = f"{count} distinct answers across {what} for item {item!r}"
            figures |= {"item": item, "distinct_answers": count, "values": distinct}
        else:
            verdict, figure = "consistent", f"every item answered one way across {what}"
        if rate is not None:
            figure += (
                f"; {n_consistent}/{n} items consistent "
                f"(95% CI {100 * rate.low:.0f}-{100 * rate.high:.0f}%)"
            )
        rule = (
            "inconsistent_numeric_answer: an item's numeric answers spread by more than "
            f"{self.config.numeric_tolerance:g}; inconsistent_answer: an item's normalised text "
            "answers differ"
        )
        flagged = verdict != "consistent"
        return self.result(table, subject, curve, verdict, flagged, figure, rule, figures)
