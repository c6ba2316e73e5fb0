"""A progress bar that appears only for runs that last over a second."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import TaskID

    from assay.run import Accounting


def _bar(console: Console) -> Any:
    """The bar, built when a run first outlasts the delay: a short run (``assay run`` of a
    one-sample spec) never imports Rich's progress machinery."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class _Progress(Progress):
        """A Rich progress bar with a status line under it (empty while calls flow)."""

        status: str = ""

        def get_renderables(self) -> Iterable[RenderableType]:
            yield from super().get_renderables()
            if self.status:
                yield Text(self.status, style="yellow")

    return _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[details]}"),
        console=console,
        transient=False,
    )


class LazyProgress:
    """Runner callback: a Rich bar (rate, ETA, errors, retries, cache hits, tokens, cost) shown
    once a run has taken more than ``delay`` seconds, with the endpoints' state (an open
    circuit breaker, calls retrying, the newest error) on a line of its own while it matters."""

    def __init__(self, console: Console, description: str, delay: float = 1.0) -> None:
        self.console = console
        self.description = description
        self.delay = delay
        self._bar: Any = None
        self._task: TaskID | None = None

    def __call__(self, acc: Accounting) -> None:
        if self._bar is None:
            if acc.elapsed < self.delay or acc.done >= acc.total:
                return
            self._bar = _bar(self.console)
            self._bar.start()
            self._task = self._bar.add_task(
                self.description, total=acc.total, completed=acc.skipped, rate=0.0, details=""
            )
        assert self._task is not None
        details = [
            f"[red]{acc.errors} err[/red]" if acc.errors else "0 err",
            f"{acc.retries} retries",
            f"{acc.cache_hits} cached",
        ]
        tokens = acc.total_tokens  # subjects' and judges' together
        if tokens:
            details.append(f"{tokens:,} tok")
            if acc.total_cost_usd:
                details.append(f"${acc.total_cost_usd:.3f}")
        # An open circuit breaker, calls in backoff: why the bar is not moving (own line).
        self._bar.status = acc.endpoints
        self._bar.update(self._task, completed=acc.done, rate=acc.rate, details="  ".join(details))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
