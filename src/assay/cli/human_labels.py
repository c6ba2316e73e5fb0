"""``--human`` and ``--human-queue`` for ``assay show``, ``compare`` and ``gate``: reading the
labels and rendering the three intervals (judge-only, human-only, PPI). Every figure comes from
:mod:`assay.analyse.human_corrected`."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from assay.core import AssayError


def _side(value: str) -> tuple[str | None, str]:
    key, sep, rest = value.partition("=")
    if sep and key and "/" not in key and "\\" not in key:
        return key, rest
    return None, value


def labels_for_run(
    store: Any, run_id: str, files: list[str] | None, queues: list[str] | None, side: str | None
) -> dict[str, float] | None:
    """The labels that apply to one run: ``FILE`` (rows of every run, or of this run when
    the file has a ``run`` column), ``A=FILE``/``B=FILE`` or ``RUN=FILE`` for one side, and
    the same forms for ``--human-queue``. ``None`` when nothing was given for this run."""
    from assay.analyse.human_corrected import labels_from_file, labels_from_queue

    found: dict[str, float] = {}
    given = False
    for kind, values in (("file", files or []), ("queue", queues or [])):
        for value in values:
            key, target = _side(value)
            if key is not None:
                if key in ("A", "B"):
                    if key != side:
                        continue
                elif not run_id.startswith(key):
                    continue
            given = True
            if kind == "file":
                found.update(labels_from_file(target, run=run_id))
            else:
                found.update(labels_from_queue(store, target))
    return found if given else None


def human_view(items: list[Any], title: str) -> Table:
    """Three intervals per subject × scorer, each with its effective n."""
    table = Table(title=title, show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("metric", "judge-only (biased)", "human-only", "PPI", "n eff: judge/human/PPI"):
        table.add_column(col)

    def fmt(i: Any, rate: bool) -> str:
        if math.isnan(i.low):
            return "—"
        if rate:
            sign = "+" if items and items[0].difference else ""
            return (
                f"{100 * i.estimate:{sign}.1f} [{100 * i.low:{sign}.1f}, {100 * i.high:{sign}.1f}]"
            )
        return f"{i.estimate:.3g} [{i.low:.3g}, {i.high:.3g}]"

    for h in items:
        r = h.result
        values = (r.judge_only.estimate, r.human_only.estimate)
        rate = all(-1 <= v <= 1 for v in values)
        n = r.effective_n
        table.add_row(
            f"{h.subject}/{h.scorer}",
            fmt(r.judge_only, rate),
            fmt(r.human_only, rate),
            fmt(r.ppi, rate),
            f"{n['judge_only']:.0f} / {n['human_only']:.0f} / {n['ppi']:.0f}",
        )
    return table


def human_note(items: list[Any]) -> str:
    """The footnote: λ, the judge's bias, and what PPI needs."""
    parts = [
        f"{h.subject}/{h.scorer}: λ = {h.result.lam:.2f}, judge − human = "
        f"{h.result.judge_bias:+.3g}, r = {h.result.correlation:.2f}, "
        f"{h.result.n_labelled} labelled of {h.result.n_labelled + h.result.n_unlabelled}"
        for h in items
    ]
    return (
        "PPI++ (Angelopoulos, Duchi & Zrnic 2023): the judge on every sample, corrected by the "
        "human labels; valid when the labelled samples are a random subset. " + "; ".join(parts)
    )


def require_labels(value: dict[str, float] | None, where: str) -> dict[str, float]:
    if not value:
        raise AssayError(
            "no human labels for this run", where=where, fix="label some of its samples by id"
        )
    return value


def corrected_comparison(
    store: Any, comparison: Any, files: list[str] | None, queues: list[str] | None
) -> dict[tuple[str, str], Any]:
    """PPI differences for a comparison's metrics, from labels of both runs' outputs.
    Raises :class:`AssayError` when either run has no labels."""
    from assay.analyse import load_scores
    from assay.analyse.human_corrected import human_corrected_comparison

    a, b = comparison.run_a.id, comparison.run_b.id
    labels_a = require_labels(labels_for_run(store, a, files, queues, "A"), f"--human (run {a})")
    labels_b = require_labels(labels_for_run(store, b, files, queues, "B"), f"--human (run {b})")
    found = human_corrected_comparison(
        comparison, load_scores(store, a), load_scores(store, b), labels_a, labels_b
    )
    if not found:
        raise AssayError(
            "fewer than two samples carry human labels in both runs, so the difference cannot "
            "be corrected",
            where="--human",
            fix="label the same samples' outputs in both runs (A=FILE B=FILE, or a run column)",
        )
    return found
