"""What a run has cost so far: results, errors, retries, cache hits, tokens and money."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from assay.core import Output, SampleResult

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
    """Running totals, updated as results are committed.

    ``input_tokens``, ``output_tokens``, ``cost_usd`` and ``unpriced`` count the subjects'
    calls; the ``judge_*`` fields count the calls judge scorers (and judge subjects) make
    through the runner, as they finish. Cached responses cost nothing and count as cache hits.
    """

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
    judge_calls: int = 0
    judge_errors: int = 0
    judge_cache_hits: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    judge_cost_usd: float = 0.0
    judge_unpriced: int = 0
    #: The endpoints' state while the run is live, for the progress line: an open circuit
    #: breaker, calls retrying, the newest error ("" when calls flow).
    endpoints: str = ""

    def _cost(self, output: Output) -> float | None:
        """The output's cost, or ``None`` when its model has no price. Outputs that report no
        usage at all cost 0 (the simulated world, callables)."""
        usage = output.usage
        if usage.input_tokens is None and usage.output_tokens is None:
            return 0.0
        return self.prices.cost(output.model, usage.input_tokens or 0, usage.output_tokens or 0)

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
        tokens_in, tokens_out, cost = self._usage(output)
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        if cost is None:
            self.unpriced += 1
        else:
            self.cost_usd += cost

    def add_judge_call(self, output: Output, *, attempts: int = 1, cached: bool = False) -> None:
        """Count one judge model call (a verdict request made through the runner)."""
        self.judge_calls += 1
        self.retries += max(0, attempts - 1)
        if cached:
            self.judge_cache_hits += 1
            return
        tokens_in, tokens_out, cost = self._usage(output)
        self.judge_input_tokens += tokens_in
        self.judge_output_tokens += tokens_out
        if cost is None:
            self.judge_unpriced += 1
        else:
            self.judge_cost_usd += cost

    def _usage(self, output: Output) -> tuple[int, int, float | None]:
        """An output's input and output tokens and its priced cost (``None``: no price)."""
        usage = output.usage
        return usage.input_tokens or 0, usage.output_tokens or 0, self._cost(output)

    def add_judge_failure(self, attempts: int = 1) -> None:
        """Count one judge call that failed for good (after ``attempts`` attempts)."""
        self.judge_calls += 1
        self.judge_errors += 1
        self.retries += max(0, attempts - 1)

    @property
    def total_tokens(self) -> int:
        """Tokens of subjects and judges together."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.judge_input_tokens
            + self.judge_output_tokens
        )

    @property
    def total_cost_usd(self) -> float:
        """Priced cost of subjects and judges together (unpriced models excluded)."""
        return self.cost_usd + self.judge_cost_usd

    @property
    def rate(self) -> float:
        """Results per second in this session."""
        return (self.done - self.skipped) / self.elapsed if self.elapsed > 0 else 0.0

    @staticmethod
    def _spend(tokens: int, cost: float, unpriced: int) -> str:
        """``1,234 tokens, $0.0012`` (with what is unknown said so)."""
        text = f"{tokens:,} tokens"
        if cost or not unpriced:
            return text + f", ${cost:.4f}" + (" + unpriced models" if unpriced else "")
        return text + ", cost unknown (no price for the model; set `prices:` in the spec)"

    def summary(self) -> str:
        """One line: counts, speed, tokens and cost (subjects and judges apart when judges
        made calls)."""
        parts = [f"{self.done}/{self.total} results in {self.elapsed:.1f} s ({self.rate:.0f}/s)"]
        if self.skipped:
            parts.append(f"{self.skipped} already stored")
        parts.append(f"{self.errors} errors")
        parts.append(f"{self.retries} retries")
        parts.append(f"{self.cache_hits} cache hits")
        subject_tokens = self.input_tokens + self.output_tokens
        if not self.judge_calls:
            if subject_tokens:
                parts.append(self._spend(subject_tokens, self.cost_usd, self.unpriced))
            return ", ".join(parts)
        parts.append(f"subjects: {self._spend(subject_tokens, self.cost_usd, self.unpriced)}")
        judge_tokens = self.judge_input_tokens + self.judge_output_tokens
        failed = f", {self.judge_errors} failed" if self.judge_errors else ""
        judges = (
            f"judges: {self.judge_calls} calls ({self.judge_cache_hits} cached{failed}), "
            + self._spend(judge_tokens, self.judge_cost_usd, self.judge_unpriced)
        )
        parts.append(judges)
        return "; ".join([", ".join(parts[:-2]), *parts[-2:]])
