"""``long_session`` (G6): a constraint planted early in a conversation that keeps growing.

Each item becomes a chat: the first user turn plants the fact (``Keep this in mind: the answer
to “<input>” is <target>.``), then filler turns (user and assistant, about ``turn_tokens``
each) until the conversation holds the variant's number of tokens, then the item's question.
Tokens are counted as whitespace-separated words (a tokenizer-free, model-agnostic unit; real
tokenizers give roughly 1.3 tokens per English word).

Rule. Retention at each length is the metric there. The length at which retention falls is the
first length whose retention is below the shortest length's by at least ``min_drop`` (10
points, a proposed default [I]) with the paired interval, Bonferroni-adjusted over the longer
lengths, excluding 0: ``retention_falls``; otherwise ``retained``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from assay.core import Message, Sample, SpecError
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, pts, register_probe
from assay.stats import paired_difference

_FILLER_TEXT = (
    "Thanks. Let us talk about something else for a while: the weather has been mild, the "
    "garden needs watering, the library opens at nine and the train to the coast leaves "
    "every hour from the north platform, which is usually quiet on weekday mornings."
)
_FILLER = tuple(_FILLER_TEXT.split(" "))


class LongSessionOptions(ProbeOptions):
    lengths: list[int] = Field(
        default_factory=lambda: [2000, 8000, 16000, 32000, 64000], min_length=2
    )
    turn_tokens: int = Field(200, ge=10, le=10000)
    min_drop: float = Field(0.10, gt=0, lt=1)


def _turn(n: int, offset: int) -> str:
    return " ".join(_FILLER[(offset + i) % len(_FILLER)] for i in range(n))


@register_probe
class LongSessionProbe(Probe):
    kind = "long_session"
    variant_key = "context_tokens"
    options = LongSessionOptions
    description = "retention of an early constraint by conversation length"
    config: LongSessionOptions

    def variants(self) -> list[str]:
        return [str(n) for n in sorted(set(self.config.lengths))]

    def prepare(self, samples: Sequence[Sample], where: str) -> None:
        for s in samples:
            if not isinstance(s.input, str) or s.target is None:
                raise SpecError(
                    f"sample {s.id!r}: the long_session probe needs text inputs with targets",
                    where=where,
                )

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        total = int(variant)
        t = sample.target
        target = str(t[0]) if isinstance(t, tuple) and t else str(t)
        plant = f"Keep this in mind: the answer to “{sample.input}” is {target}."
        messages = [Message(role="user", content=plant),
                    Message(role="assistant", content="Noted.")]  # fmt: skip
        used = len(plant.split()) + 1 + len(str(sample.input).split())
        i = 0
        while used < total:
            n = min(self.config.turn_tokens, total - used)
            role = "user" if i % 2 == 0 else "assistant"
            messages.append(Message(role=role, content=_turn(n, i)))
            used += n
            i += 1
        if messages[-1].role == "user":
            messages.append(Message(role="assistant", content="Sure."))
        messages.append(Message(role="user", content=str(sample.input)))
        meta = {**sample.metadata, "context_tokens": total}
        return sample.model_copy(update={"input": tuple(messages), "metadata": meta})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        lengths = self.variants()
        curve = table.curve(subject, lengths)
        conf = 1 - 0.05 / max(1, len(lengths) - 1)
        first = lengths[0]
        falls_at = None
        drops = {}
        for length in lengths[1:]:
            a, b = table.paired(subject, length, first)
            if len(a) < 2:
                continue
            d = paired_difference(a, b)
            adj = paired_difference(a, b, confidence=conf)
            drops[length] = {"drop": d.difference, "interval": d.interval}
            if falls_at is None and d.difference >= c.min_drop and adj.interval.low > 0:
                falls_at = length
        acc = ", ".join(f"{int(p.variant):,}: {pts(p.interval.estimate)}%" for p in curve)
        figure = f"retention by context tokens {acc}"
        if falls_at is not None:
            before = lengths[lengths.index(falls_at) - 1]
            figure += f"; retention falls between {int(before):,} and {int(falls_at):,} tokens"
            verdict, flagged = "retention_falls", True
        else:
            verdict, flagged = "retained", False
        rule = (
            f"retention_falls: retention below the {int(first):,}-token level by >= "
            f"{pts(c.min_drop)} pts with its paired interval, Bonferroni-adjusted over "
            f"{len(lengths) - 1} lengths, excluding 0"
        )
        figures = {"falls_at": None if falls_at is None else int(falls_at), "drops": drops}
        return self.result(table, subject, curve, verdict, flagged, figure, rule, figures)
