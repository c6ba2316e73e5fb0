"""What a run has cost so far: results, errors, retries, cache hits, tokens and money."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from assay.core import SampleResult

#: List prices in USD per million tokens (input, output), as published by the providers in
#: 2025. Prices change: override them in a spec's ``prices:`` table (same glob keys), which
#: takes precedence. A model matching no entry has no cost (shown as unknown, never as $0).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
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


class PriceTable:
    """Model-name globs to (input, output) USD per million tokens; first match wins, user
    entries before the defaults."""

    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.entries: list[tuple[str, tuple[float, float]]] = [
            *(overrides or {}).items(),
            *DEFAULT_PRICES.items(),
        ]
        self._memo: dict[str, tuple[float, float] | None] = {}

    def price(self, model: str | None) -> tuple[float, float] | None:
        """(input, output) USD per million tokens for ``model``, or ``None`` if unknown."""
        if not model:
            return None
        if model in self._memo:
            return self._memo[model]
        name = model.rsplit("/", 1)[-1]
        found = next(
            (price for pattern, price in self.entries if fnmatch.fnmatchcase(name, pattern)), None
        )
        self._memo[model] = found
        return found

    def cost(
        self, model: str | None, input_tokens: int | None, output_tokens: int | None
    ) -> float | None:
        price = self.price(model)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * price[0] + output_tokens * price[1]) / 1e6


@dataclass
class Accounting:
    """Running totals, updated as results are committed."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    errors: int = 0
    retries: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    elapsed: float = 0.0
    error_classes: dict[str, int] = field(default_factory=dict)
    prices: PriceTable = field(default_factory=PriceTable, repr=False)

    def add(self, result: SampleResult) -> None:
        """Count one committed result."""
        self.done += 1
        if result.error_class:
            self.errors += 1
            self.error_classes[result.error_class] = (
                self.error_classes.get(result.error_class, 0) + 1
            )
        self.retries += max(0, result.attempts - 1)
        output = result.output
        if output is None:
            return
        if result.cached:
            self.cache_hits += 1
            return
        usage = output.usage
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        if usage.input_tokens is None and usage.output_tokens is None:
            return
        cost = self.prices.cost(output.model, usage.input_tokens or 0, usage.output_tokens or 0)
        if cost is None:
            self.unpriced += 1
        else:
            self.cost_usd += cost

    @property
    def rate(self) -> float:
        """Results per second in this session."""
        return (self.done - self.skipped) / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line: counts, speed, tokens and cost."""
        parts = [f"{self.done}/{self.total} results in {self.elapsed:.1f} s ({self.rate:.0f}/s)"]
        if self.skipped:
            parts.append(f"{self.skipped} already stored")
        parts.append(f"{self.errors} errors")
        parts.append(f"{self.retries} retries")
        parts.append(f"{self.cache_hits} cache hits")
        if self.input_tokens or self.output_tokens:
            parts.append(f"{self.input_tokens + self.output_tokens:,} tokens")
            if self.cost_usd or not self.unpriced:
                parts.append(
                    f"${self.cost_usd:.4f}" + (" + unpriced models" if self.unpriced else "")
                )
            else:
                parts.append("cost unknown (no price for the model; set `prices:` in the spec)")
        return ", ".join(parts)
