"""Prices of model calls, versioned by date, with every kind of token priced as it is billed.

A :class:`PriceBook` answers "what did this call cost" from its usage (see
:mod:`assay.trace.usage` for the reading of the token counts: cached input, cache writes and
audio/image input are parts of the input tokens; reasoning and audio output are parts of the
output tokens) and the date it was made. Its sources, first match wins:

1. the user's entries (a ``prices:`` file or a spec's ``prices:`` table): a model-name glob, an
   optional ``since`` date (several entries for one glob version a price over time; the newest
   one in force at the call's date applies), and rates per kind of token;
2. the ``genai-prices`` package's table (maintained upstream, shipped in the package, read
   offline; its prices carry their own start dates), when it is installed;
3. the built-in list of :data:`assay.run.accounting.DEFAULT_PRICES`-style entries
   (:data:`BUILTIN_PRICES`), input and output only.

A part of the usage with no price of its own is priced at the rate the provider bills it at
(reasoning at the output rate; cached reads, cache writes, audio and image input at the input
rate) and the fallback is *named* in the result's ``notes``, so a report can say so: a cost never
silently prices reasoning tokens as plain output or cached tokens as fresh input.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

#: The parts of a call's usage that can carry a price of their own, in report order.
TOKEN_PARTS: tuple[str, ...] = (
    "input",
    "cached_input",
    "cache_write",
    "input_audio",
    "input_image",
    "output",
    "reasoning",
    "output_audio",
)
_INPUT_PARTS = ("cached_input", "cache_write", "input_audio", "input_image")
_OUTPUT_PARTS = ("reasoning", "output_audio")

#: Input and output list prices (USD per million tokens) used when neither the user nor
#: ``genai-prices`` knows a model (the same table as the run accounting's defaults).
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini*": (0.15, 0.60),
    "gpt-4o*": (2.50, 10.00),
    "gpt-4.1-nano*": (0.10, 0.40),
    "gpt-4.1-mini*": (0.40, 1.60),
    "gpt-4.1*": (2.00, 8.00),
    "o3-mini*": (1.10, 4.40),
    "claude-3-5-haiku*": (0.80, 4.00),
    "claude-3-5-sonnet*": (3.00, 15.00),
    "claude-3-7-sonnet*": (3.00, 15.00),
    "claude-sonnet-4*": (3.00, 15.00),
}

#: The GenAI conventions' provider names that ``genai-prices`` spells differently.
_PROVIDER_IDS = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
}


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for one model from a date on.

    ``input``/``output`` are the base rates; the other parts are ``None`` when the source lists
    no separate price (then :meth:`rate` falls back as providers bill, and says so). Tiered
    prices (a higher rate for every token of a call whose input exceeds a threshold, as Gemini
    bills) are ``tiers``: ``{part: ((threshold, rate), ...)}``.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    input_audio: float | None = None
    output_audio: float | None = None
    input_image: float | None = None
    tiers: Mapping[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    source: str = "builtin"
    model: str = ""
    since: date | None = None

    def rate(self, part: str, input_tokens: int = 0) -> tuple[float, str | None]:
        """The rate of ``part`` (for a call with ``input_tokens`` input tokens, for tiers), and
        a note when it is a fallback to the base input or output rate."""
        own = getattr(self, part)
        note = None
        if own is None:
            base = "output" if part in _OUTPUT_PARTS else "input"
            own = getattr(self, base)
            note = f"{part.replace('_', ' ')} tokens priced at the {base} rate ({self.model})"
            part = base
        for threshold, tier_rate in reversed(self.tiers.get(part, ())):
            if input_tokens > threshold:
                return tier_rate, note
        return float(own), note

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {p: getattr(self, p) for p in TOKEN_PARTS}
        out.update(
            model=self.model,
            source=self.source,
            since=self.since.isoformat() if self.since else None,
            tiers={k: [list(t) for t in v] for k, v in self.tiers.items()},
        )
        return out


@dataclass(frozen=True)
class PriceEntry:
    """A user's price: a model-name glob (matched against the name after any ``provider/``
    prefix), the date it applies from (``None``: always), and its :class:`Rates`."""

    pattern: str
    rates: Rates
    since: date | None = None
    where: str = ""


@dataclass(frozen=True)
class PricedCall:
    """What one call cost, part by part (``costs`` and ``tokens`` keyed by :data:`TOKEN_PARTS`;
    ``input``/``output`` there are the tokens with no price of their own)."""

    total: float
    costs: dict[str, float]
    tokens: dict[str, int]
    rates: Rates
    notes: tuple[str, ...] = ()


def split_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    details: Mapping[str, int | None] | None = None,
) -> dict[str, int]:
    """Token counts per part: the detail parts as given, ``input``/``output`` what is left of
    the totals (never negative: details larger than their total are capped at the total)."""
    details = details or {}
    parts = {p: int(details.get(p) or 0) for p in (*_INPUT_PARTS, *_OUTPUT_PARTS)}
    total_in, total_out = int(input_tokens or 0), int(output_tokens or 0)
    left = total_in
    for p in _INPUT_PARTS:
        parts[p] = min(parts[p], left)
        left -= parts[p]
    parts["input"] = left
    left = total_out
    for p in _OUTPUT_PARTS:
        parts[p] = min(parts[p], left)
        left -= parts[p]
    parts["output"] = left
    return {p: parts[p] for p in TOKEN_PARTS}


class PriceBook:
    """Prices by model and date (see the module docstring for the sources and their order).

    ``entries`` are the user's :class:`PriceEntry` list, or a mapping ``glob -> (input,
    output)`` as a spec's ``prices:`` table has it. ``use_genai_prices=False`` skips the package
    (the built-in list still applies).
    """

    def __init__(
        self,
        entries: Iterable[PriceEntry] | Mapping[str, tuple[float, float]] | None = None,
        *,
        use_genai_prices: bool = True,
        builtin: bool = True,
    ) -> None:
        if isinstance(entries, Mapping):
            entries = [
                PriceEntry(str(k), Rates(float(v[0]), float(v[1]), source="spec", model=str(k)))
                for k, v in entries.items()
            ]
        self.entries: list[PriceEntry] = list(entries or ())
        self.use_genai_prices = use_genai_prices
        self.builtin = builtin
        self._memo: dict[tuple[str, str | None, date | None], Rates | None] = {}

    # -- lookup --------------------------------------------------------------------------------

    def rates(
        self, model: str | None, provider: str | None = None, at: datetime | date | None = None
    ) -> Rates | None:
        """The rates in force for ``model`` on ``at``'s date (today when ``None``)."""
        if not model:
            return None
        day = _day(at)
        key = (model, provider, day)
        if key not in self._memo:
            self._memo[key] = self._find(model, provider, day)
        return self._memo[key]

    def _find(self, model: str, provider: str | None, day: date) -> Rates | None:
        name = model.rsplit("/", 1)[-1]
        user = self._user_rates(name, day)
        if user is not None:
            return user
        if self.use_genai_prices:
            found = _genai_prices_rates(model, provider, day)
            if found is not None:
                return found
        if self.builtin:
            for pattern, (price_in, price_out) in BUILTIN_PRICES.items():
                if fnmatch.fnmatchcase(name, pattern):
                    return Rates(price_in, price_out, source="builtin", model=pattern)
        return None

    def _user_rates(self, name: str, day: date) -> Rates | None:
        patterns: list[str] = []
        for entry in self.entries:
            if entry.pattern not in patterns:
                patterns.append(entry.pattern)
        for pattern in patterns:
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            valid = [
                e
                for e in self.entries
                if e.pattern == pattern and (e.since is None or e.since <= day)
            ]
            if valid:
                best = max(valid, key=lambda e: e.since or date.min)
                return replace(best.rates, since=best.since, model=best.rates.model or pattern)
        return None

    # -- pricing -------------------------------------------------------------------------------

    def price(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        details: Mapping[str, int | None] | None = None,
        *,
        provider: str | None = None,
        at: datetime | date | None = None,
    ) -> PricedCall | None:
        """One call's cost part by part, or ``None`` when the model has no price or the call
        reports no tokens at all."""
        rates = self.rates(model, provider, at)
        if rates is None or (input_tokens is None and output_tokens is None):
            return None
        tokens = split_usage(input_tokens, output_tokens, details)
        total_in = int(input_tokens or 0)
        costs: dict[str, float] = {}
        notes: list[str] = []
        for part in TOKEN_PARTS:
            count = tokens[part]
            rate, note = rates.rate(part, total_in)
            costs[part] = count * rate / 1e6
            if note and count:
                notes.append(note)
        return PricedCall(sum(costs.values()), costs, tokens, rates, tuple(notes))

    def cost(
        self, model: str | None, input_tokens: int | None, output_tokens: int | None
    ) -> float | None:
        """Input and output only, today's prices (the run accounting's ``PriceTable.cost``)."""
        if input_tokens is None or output_tokens is None:
            return None
        priced = self.price(model, input_tokens, output_tokens)
        return None if priced is None else priced.total

    def describe(self) -> str:
        """Where prices come from, for reports: ``user (3 entries); genai-prices 0.2.3;
        builtin``."""
        parts = []
        if self.entries:
            parts.append(f"user ({len(self.entries)} entries)")
        if self.use_genai_prices:
            version = genai_prices_version()
            if version:
                parts.append(f"genai-prices {version}")
        if self.builtin:
            parts.append("builtin")
        return "; ".join(parts) or "none"


def _day(at: datetime | date | None) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()
    return at


# -- genai-prices ----------------------------------------------------------------------------------

_GENAI: list[Any] = []


@functools.cache
def genai_prices_version() -> str | None:
    """The installed ``genai-prices`` version, or ``None`` when it is not installed.

    Read once a process: ``importlib.metadata`` parses the package's metadata file on every
    call (about 3 ms, most of a sample page's own work)."""
    try:
        from importlib.metadata import version

        return version("genai-prices")
    except Exception:
        return None


def _snapshot() -> Any:
    if not _GENAI:
        try:
            from genai_prices import data_snapshot

            _GENAI.append(data_snapshot.get_snapshot())
        except Exception:  # not installed or broken: the user's and built-in prices still apply
            _GENAI.append(None)
    return _GENAI[0]


def _decimal_rate(value: Any) -> tuple[float | None, tuple[tuple[int, float], ...]]:
    if value is None:
        return None, ()
    base = getattr(value, "base", None)
    if base is not None:  # TieredPrices
        tiers = tuple((int(t.start), float(t.price)) for t in value.tiers)
        return float(base), tiers
    return float(value), ()


def _genai_prices_rates(model: str, provider: str | None, day: date) -> Rates | None:
    snapshot = _snapshot()
    if snapshot is None:
        return None
    provider_id = None
    if provider:
        wanted = _PROVIDER_IDS.get(provider.lower(), provider.lower())
        if any(p.id == wanted for p in snapshot.providers):
            provider_id = wanted
    ref = model.split("/", 1)[1] if "/" in model and provider_id is None else model
    for attempt in (ref, model.rsplit("/", 1)[-1]):
        try:
            found_provider, info = snapshot.find_provider_model(attempt, None, provider_id, None)
            break
        except LookupError:
            continue
    else:
        return None
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    prices = info.get_prices(moment)
    since = None
    if not hasattr(info.prices, "__dict__") or isinstance(info.prices, list):
        for conditional in reversed(info.prices):
            constraint = conditional.constraint
            if constraint is None or constraint.active(moment):
                since = getattr(constraint, "start_date", None)
                break
    values = {
        "input": prices.input_mtok,
        "output": prices.output_mtok,
        "cached_input": prices.cache_read_mtok,
        "cache_write": prices.cache_write_mtok,
        "reasoning": prices.output_reasoning_mtok,
        "input_audio": prices.input_audio_mtok,
        "output_audio": prices.output_audio_mtok,
        "input_image": prices.input_image_mtok,
    }
    rates: dict[str, float | None] = {}
    tiers: dict[str, tuple[tuple[int, float], ...]] = {}
    for part, value in values.items():
        rates[part], part_tiers = _decimal_rate(value)
        if part_tiers:
            tiers[part] = part_tiers
    if rates["input"] is None or rates["output"] is None:
        return None
    return Rates(
        input=rates["input"],
        output=rates["output"],
        cached_input=rates["cached_input"],
        cache_write=rates["cache_write"],
        reasoning=rates["reasoning"],
        input_audio=rates["input_audio"],
        output_audio=rates["output_audio"],
        input_image=rates["input_image"],
        tiers=tiers,
        source=f"genai-prices {genai_prices_version()} ({found_provider.id})",
        model=info.id,
        since=since,
    )
