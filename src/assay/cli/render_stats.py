"""Renderings of comparisons, plans, gates and precision tables. Rendering only: every number
comes from ``assay.analyse``."""

from __future__ import annotations

import math
from typing import Any
from xml.etree import ElementTree as ET

from rich.console import Group
from rich.table import Table
from rich.text import Text

from assay.analyse import (
    FlakySample,
    GateResult,
    GroupComparison,
    MetricComparison,
    MetricPrecision,
    PairedPlan,
    ProportionPlan,
    RunComparison,
    VariancePlan,
)
from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.stats import IMPROVED, MIXED, NO_DIFFERENCE, REGRESSED, Interval, slice_regressed

VERDICT_STYLE = {
    IMPROVED: "bold green",
    REGRESSED: "bold red",
    MIXED: "bold red",
    NO_DIFFERENCE: "cyan",
    "underpowered": "yellow",
    JUDGE_CHANGED: "bold red",
}
CORRECTION_NAME = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}


def _correction(c: RunComparison) -> str:
    return CORRECTION_NAME.get(c.settings.correction, c.settings.correction)


def _is_rate(m: MetricComparison) -> bool:
    """Whether the metric lives on 0-1 (shown as % and points)."""
    g = m.aggregate
    return min(g.mean_a, g.mean_b) >= 0 and max(g.mean_a, g.mean_b) <= 1


def _mean(x: float, rate: bool) -> str:
    if math.isnan(x):
        return "—"
    return f"{100 * x:.1f}%" if rate else f"{x:.3g}"


def _delta(x: float, rate: bool, signed: bool = True) -> str:
    if math.isnan(x):
        return "—"
    if rate:
        return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def _unit(rate: bool) -> str:
    return " pts" if rate else ""


def _p(p: float) -> str:
    if math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _ci(i: Interval, rate: bool) -> str:
    if math.isnan(i.low):
        return "[—]"
    return f"[{_delta(i.low, rate)}, {_delta(i.high, rate)}]"


def _pairing(g: GroupComparison) -> str:
    if math.isnan(g.se_reduction):
        return "—"
    r = "" if math.isnan(g.correlation) else f", r={g.correlation:.2f}"
    return (
        f"SE −{100 * g.se_reduction:.0f}%{r}"
        if g.se_reduction >= 0
        else f"SE +{-100 * g.se_reduction:.0f}%{r}"
    )


def _verdict_text(label: str, g: GroupComparison, rate: bool) -> Text:
    text = Text(label, style=VERDICT_STYLE.get(label, ""))
    if label in (NO_DIFFERENCE, "underpowered") and not math.isnan(g.mde):
        text.append(f" (MDE {_delta(g.mde, rate, signed=False)}{_unit(rate)})", style="dim")
    if _drop_beyond_mde(g):
        text.append("; " + DROP_BEYOND_MDE, style=VERDICT_STYLE.get(REGRESSED, ""))
    return text


#: Said of a slice that is not significantly worse but fell by at least its MDE: B9 counts it
#: as a slice regression (:func:`assay.stats.slice_regressed`), and the row must say why.
DROP_BEYOND_MDE = "fell by at least its MDE: a slice regression"


def _drop_beyond_mde(g: GroupComparison) -> bool:
    return (
        g.slice_key is not None
        and g.verdict != REGRESSED
        and slice_regressed(g.verdict, g.difference, g.mde)
    )


def _header(c: RunComparison) -> list[Any]:
    parts: list[Any] = []
    title = Text(f"compare {c.run_a.id} → {c.run_b.id}", style="bold")
    title.append("   verdict: ")
    title.append(c.verdict, style=VERDICT_STYLE.get(c.verdict, ""))
    if c.judge_changes:
        # Said on the first line: a changed judge is a changed ruler (C5).
        judges = ", ".join(dict.fromkeys(ch.judge for ch in c.judge_changes))
        title.append(f"   JUDGE CHANGED ({judges})", style="bold red")
    parts.append(title)
    if c.from_data:
        parts.append(Text("Compared from data: no stored runs, no manifests to diff.", style="dim"))
    elif c.changes:
        first = c.changes[0]
        # `assay diff` diffs whole runs; subjects paired across names (--subject small:large)
        # are diffed here only, so the rest of that list is in --json.
        where = "`assay diff`" if all(a == b for a, b in c.subject_pairs) else "`--json`"
        more = f" (+{len(c.changes) - 1} more: {where})" if len(c.changes) > 1 else ""
        parts.append(
            Text(f"What changed first: {first.category} ({first.path}){more}", style="yellow")
        )
    else:
        parts.append(
            Text("The manifests match: any difference is noise or nondeterminism.", style="green")
        )
    for w in c.warnings:
        parts.append(Text(f"warning: {w}", style="yellow"))
    return parts


#: Below this many columns the comparison table keeps what a decision needs (group, n, the
#: difference with its interval, the test, the corrected p-value, the verdict with its MDE)
#: and drops the rest; nothing is ever cut short with an ellipsis.
WIDE = 120


def _metric_table(c: RunComparison, m: MetricComparison, rate: bool, width: int) -> Table:
    """One metric's groups as a table fitted to ``width`` columns."""
    wide = width >= WIDE
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    ci = f"[{100 * c.settings.confidence:.0f}% CI]"
    columns: list[tuple[str, str]] = [("group", "left"), ("n", "right")]
    if wide:
        columns += [("A", "right"), ("B", "right")]
    columns += [(f"Δ B−A{_unit(rate)} {ci}", "right"), ("test", "left")]
    if wide:
        columns += [("p", "right")]
    columns += [("p adj", "right")]
    if wide:
        columns += [(f"MDE{_unit(rate)}", "right"), ("pairing", "right")]
    columns += [("verdict", "left")]
    for name, justify in columns:
        no_wrap = name in ("n", "test", "p", "p adj") or name.startswith(("Δ", "MDE"))
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=no_wrap,
            overflow="fold",  # wrap, never "…": a cut name or verdict cannot be read
            min_width=12 if name == "verdict" else None,
        )
    slice_keys = {g.slice_key for g in m.slices}
    for g in m.groups:
        # With one slice key, its name is said once (a "slice" row), not on every row.
        label = (
            g.group if wide or len(slice_keys) > 1 or g.slice_key is None else f" {g.slice_value}"
        )
        if not wide and len(slice_keys) == 1 and g.slice_key is not None and g is m.slices[0]:
            table.add_row(Text(f"{g.slice_key}:", style="dim"), *[""] * (len(columns) - 1))
        cells: list[Any] = [Text(label, style="bold" if g.slice_key is None else ""), str(g.n)]
        if wide:
            cells += [_mean(g.mean_a, rate), _mean(g.mean_b, rate)]
        cells += [f"{_delta(g.difference, rate)} {_ci(g.interval, rate)}", g.test]
        if wide:
            cells += [_p(g.p_value)]
        cells += [_p(g.p_adjusted)]
        if wide:
            cells += [_delta(g.mde, rate, signed=False), _pairing(g)]
        cells += [_verdict_text(g.verdict, g, rate)]
        table.add_row(*cells)
    return table


class Responsive:
    """A renderable built for the width it is printed at (``build(width)``): the same
    figures at 80 columns and at 150, laid out for each."""

    def __init__(self, build: Any) -> None:
        self.build = build

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.build(options.max_width)


def comparison_view(c: RunComparison) -> Group:
    """The terminal view of ``assay compare``."""
    parts = _header(c)
    for m in c.metrics:
        rate = _is_rate(m)
        head = Text(f"\n{m.subject} / {m.scorer}: ", style="bold cyan")
        head.append(m.verdict, style=VERDICT_STYLE.get(m.verdict, ""))
        head.append(
            f"   (effect of interest ≥ {_delta(m.min_effect, rate, signed=False)}{_unit(rate)}"
            + (
                f"; epochs {m.epochs_a:g} vs {m.epochs_b:g}"
                if max(m.epochs_a, m.epochs_b) > 1
                else ""
            )
            + ")",
            style="dim",
        )
        parts.append(head)
        parts.append(Responsive(lambda width, m=m, rate=rate: _metric_table(c, m, rate, width)))
        notes = [f"{g.group}: {g.note}" for g in m.groups if g.note]
        if m.only_a or m.only_b:
            notes.append(
                f"{len(m.only_a)} samples only in A, {len(m.only_b)} only in B (not compared): "
                + ", ".join((m.only_a + m.only_b)[:5])
                + (" …" if len(m.only_a) + len(m.only_b) > 5 else "")
            )
        for note in notes:
            parts.append(Text(f"  note: {note}", style="dim"))
        agg = m.aggregate
        if not math.isnan(agg.se_reduction) and 0 < agg.se_reduction < 1:
            parts.append(
                Text(
                    "  Pairing by sample id shrank the standard error by "
                    f"{100 * agg.se_reduction:.0f}% (between-run correlation "
                    f"{agg.correlation:.2f}): an unpaired comparison would need about "
                    f"{1 / (1 - agg.se_reduction) ** 2:.1f}× as many samples.",
                    style="dim",
                )
            )
    parts.append(
        Text(
            f"\nΔ = B − A. p adj: {_correction(c)} across metrics (overall rows) and across "
            "slices. MDE: the true difference this n "
            f"detects with {100 * c.settings.power:.0f}% power at α = {c.settings.alpha:g}, "
            "in the design of the row's test (paired; clustered when the test is clustered).",
            style="dim",
        )
    )
    return Group(*parts)


def comparison_markdown(c: RunComparison) -> str:
    """``assay compare --markdown``: a pull-request comment."""
    lines = [f"### assay compare `{c.run_a.id}` → `{c.run_b.id}`: **{c.verdict}**", ""]
    if c.changes:
        first = c.changes[0]
        lines.append(f"What changed first: **{first.category}** (`{first.path}`)")
        lines.append("")
    for w in c.warnings:
        lines.append(f"> warning: {w}")
    if c.warnings:
        lines.append("")
    for m in c.metrics:
        rate = _is_rate(m)
        unit = _unit(rate)
        lines.append(f"#### {m.subject} / {m.scorer}: **{m.verdict}**")
        lines.append("")
        lines.append(
            f"| group | n | A | B | Δ B−A{unit} [{100 * c.settings.confidence:.0f}% CI] | test "
            f"| p adj | MDE{unit} | pairing | verdict |"
        )
        lines.append("|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
        for g in m.groups:
            name = f"**{g.group}**" if g.slice_key is None else g.group
            lines.append(
                f"| {name} | {g.n} | {_mean(g.mean_a, rate)} | {_mean(g.mean_b, rate)} "
                f"| {_delta(g.difference, rate)} {_ci(g.interval, rate)} | {g.test} "
                f"| {_p(g.p_adjusted)} | {_delta(g.mde, rate, signed=False)} | {_pairing(g)} "
                f"| {g.verdict}{'; ' + DROP_BEYOND_MDE if _drop_beyond_mde(g) else ''} |"
            )
        lines.append("")
    lines.append(
        f"<sub>Δ = B − A; p adj: {_correction(c)}; "
        f"MDE at {100 * c.settings.power:.0f}% power, α = {c.settings.alpha:g}. "
        "Generated by assay.</sub>"
    )
    return "\n".join(lines) + "\n"


def proportion_plan_view(plan: ProportionPlan) -> Text:
    """``assay plan --baseline --target``."""
    text = Text()
    two = f"two-proportion z-test, α = {plan.alpha:g} two-sided, power {plan.power:.0%}"
    if plan.n_per_arm is not None and plan.target is not None:
        text.append(
            f"To detect {plan.baseline:.1%} → {plan.target:.1%} "
            f"({100 * (plan.target - plan.baseline):+.1f} pts): ",
        )
        text.append(f"n ≈ {plan.n_per_arm:,} per arm", style="bold")
        text.append(f"  ({two}; independent samples)\n", style="dim")
    if plan.n is not None and plan.mde_at_n is not None:
        text.append(f"At n = {plan.n:,} per arm from {plan.baseline:.1%}: ")
        if math.isnan(plan.mde_at_n):
            text.append("no change up to 100% is detectable", style="bold red")
        else:
            text.append(f"MDE ≈ {100 * plan.mde_at_n:.1f} pts", style="bold")
        text.append(f"  ({two})\n", style="dim")
    return text


def variance_plan_view(plan: VariancePlan) -> Text:
    """``assay plan --omega2`` (or ``--sd-diff``): a paired design from a given ω²."""
    text = Text()
    design = (
        f"paired design, ω² = {plan.omega2:.4g}"
        + (
            f", within-sample variance {plan.within_variance:.4g} over {plan.epochs} epoch(s)"
            if plan.within_variance
            else ""
        )
        + f"; α = {plan.alpha:g} two-sided, power {plan.power:.0%}; Miller 2024 §4"
    )
    if plan.delta is not None and plan.n_required is not None:
        rate = abs(plan.delta) <= 1
        text.append(f"To detect Δ = {_delta(plan.delta, rate)}{_unit(rate)}: ")
        text.append(f"n ≈ {plan.n_required:,} paired samples", style="bold")
        text.append(f"  ({design})\n", style="dim")
    if plan.n is not None and plan.mde_at_n is not None:
        rate = plan.mde_at_n <= 1
        text.append(f"At n = {plan.n:,} paired samples: ")
        text.append(f"MDE ≈ {_delta(plan.mde_at_n, rate, signed=False)}{_unit(rate)}", style="bold")
        if plan.power_at_n is not None:
            text.append(f", power {plan.power_at_n:.0%} for that Δ")
        text.append(f"  ({design})\n", style="dim")
    return text


def paired_plan_view(plan: PairedPlan) -> Group:
    """``assay plan --pairs-from RUN_A RUN_B``."""
    v = plan.variance
    rate = abs(plan.delta) <= 1
    parts: list[Any] = [
        Text(
            f"paired design estimated from {plan.run_a} → {plan.run_b} "
            f"({plan.subject_a}{'' if plan.subject_a == plan.subject_b else ' → ' + plan.subject_b}"
            f" / {plan.scorer}, {v.n} shared samples)",
            style="bold",
        )
    ]
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("ω² (variance of per-sample differences)", f"{v.omega2:.4g}")
    table.add_row(
        "within-sample variance σ²_A + σ²_B",
        f"{v.within_variance:.4g}" if v.separable else "unknown (one epoch)",
    )
    table.add_row("epochs per sample (A, B)", f"{v.epochs_a:g}, {v.epochs_b:g}")
    parts.append(table)
    parts.append(
        Text.assemble(
            f"To detect Δ = {_delta(plan.delta, rate)}{_unit(rate)} with {plan.epochs} epoch(s): ",
            (f"n ≈ {plan.n_required:,} paired samples", "bold"),
            (
                f"  (α = {plan.alpha:g} two-sided, power {plan.power:.0%}; Miller 2024 §4). "
                f"Independent samples would need ≈ {plan.unpaired_n_per_arm:,} per arm.",
                "dim",
            ),
        )
    )
    parts.append(
        Text(
            f"At the runs' own n = {plan.n_current:,}: MDE ≈ "
            f"{_delta(plan.mde_at_current_n, rate, signed=False)}{_unit(rate)} "
            "(paired, unclustered), "
            f"power {plan.power_at_current_n:.0%} for that Δ."
        )
    )
    if plan.clustered_mde is not None:
        parts.append(
            Text(
                f"`assay compare` will use clustered errors ({plan.n_clusters} clusters of "
                f"`{plan.cluster_key}`): its MDE at this n is ≈ "
                f"{_delta(plan.clustered_mde, rate, signed=False)}{_unit(rate)} "
                "(paired, clustered). Size the next run on that figure.",
                style="yellow",
            )
        )
    if not v.separable:
        parts.append(
            Text(
                "note: a run has one answer per sample, so answer noise is inside ω²: right for "
                "one-epoch designs, but the value of extra epochs cannot be estimated.",
                style="dim",
            )
        )
    if plan.epoch_plan is not None:
        t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col in ("epochs", "n", "SE", "MDE"):
            t.add_column(col, justify="right")
        for o in plan.epoch_plan.options:
            style = "bold green" if o == plan.epoch_plan.best else ""
            t.add_row(
                str(o.epochs),
                f"{o.n:,}",
                f"{o.standard_error:.4g}",
                f"{_delta(o.mde, rate, signed=False)}{_unit(rate)}",
                style=style,
            )
        parts.append(
            Text(f"\nFor the budget, best: {plan.epoch_plan.best.epochs} epoch(s)", style="bold")
        )
        parts.append(t)
    return Group(*parts)


def gate_view(result: GateResult) -> Group:
    """``assay gate``: the comparison, then every check."""
    parts: list[Any] = [comparison_view(result.comparison), Text("")]
    for check in result.checks:
        mark = Text(
            "PASS " if check.passed else "FAIL ", style="bold green" if check.passed else "bold red"
        )
        mark.append(f"{check.name}: ", style="bold")
        mark.append(check.message)
        parts.append(mark)
    parts.append(
        Text(
            "gate passed" if result.passed else f"gate failed: {len(result.failures)} check(s)",
            style="bold green" if result.passed else "bold red",
        )
    )
    return Group(*parts)


def gate_junit(result: GateResult) -> str:
    """JUnit XML for CI systems: one test case per check, a failure element per failed one."""
    c = result.comparison
    suite = ET.Element(
        "testsuite",
        name=f"assay gate {c.run_a.id} -> {c.run_b.id}",
        tests=str(len(result.checks)),
        failures=str(len(result.failures)),
        errors="0",
        skipped="0",
    )
    for check in result.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"assay.gate.{check.kind}", name=check.name
        )
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.message, type=check.kind)
            failure.text = check.message
        else:
            out = ET.SubElement(case, "system-out")
            out.text = check.message
    suites = ET.Element(
        "testsuites",
        name="assay",
        tests=suite.get("tests", "0"),
        failures=suite.get("failures", "0"),
    )
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _interval_cell(i: Interval | None, rate: bool) -> str:
    if i is None:
        return "—"
    if math.isnan(i.low):
        return "[—]"

    def fmt(x: float) -> str:
        return f"{100 * x:.1f}%" if rate else f"{x:.3g}"

    return f"[{fmt(i.low)}, {fmt(i.high)}]"


def precision_json(rows: list[MetricPrecision]) -> list[dict[str, Any]]:
    """``assay show --intervals --json``: one dict per subject × scorer × group (NaN → null)."""

    def num(x: float) -> float | None:
        return None if math.isnan(x) else x

    def interval(i: Interval | None) -> dict[str, Any] | None:
        if i is None:
            return None
        return {
            "estimate": num(i.estimate),
            "low": num(i.low),
            "high": num(i.high),
            "n": i.n,
            "method": i.method,
            "standard_error": num(i.standard_error),
        }

    out = []
    for r in rows:
        e = r.epochs
        out.append(
            {
                "subject": r.subject,
                "scorer": r.scorer,
                "group": r.group,
                "default": interval(r.default),
                "clustered": interval(r.clustered),
                "n_clusters": r.n_clusters,
                "bootstrap_percentile": interval(r.bootstrap_percentile),
                "bootstrap_bca": interval(r.bootstrap_bca),
                "epochs": None
                if e is None
                else {
                    "mean_epochs": e.mean_epochs,
                    "between_sample_variance": num(e.between_sample_variance),
                    "within_sample_variance": num(e.within_sample_variance),
                    "conditional_mean_variance": num(e.conditional_mean_variance),
                    "n_flaky": e.n_flaky,
                },
                "flaky": [
                    {"sample_id": f.sample_id, "mean": f.mean, "n_answers": f.n_answers}
                    for f in r.flaky
                ],
            }
        )
    return out


def _flaky_share(f: FlakySample) -> str:
    """How a flaky sample's answers split, in words: ``3 of 5 epochs passed`` for a pass/fail
    scorer, else the mean over its answers."""
    if f.passed is not None:
        return f"{f.passed} of {f.n_answers} epochs passed"
    return f"mean {f.mean:.3g} over {f.n_answers} epochs"


def precision_tables(rows: list[MetricPrecision], confidence: float = 0.95) -> Group:
    """``assay show --intervals``: every interval estimator, epochs and flaky samples."""
    parts: list[Any] = []
    subjects = list(dict.fromkeys(r.subject for r in rows))
    for subject in subjects:
        mine = [r for r in rows if r.subject == subject]
        parts.append(Text(f"\n{subject}: intervals ({100 * confidence:.0f}%)", style="bold cyan"))
        table = Table(
            show_edge=False, pad_edge=False, box=None, header_style="bold", collapse_padding=True
        )
        for col in (
            "scorer",
            "group",
            "n",
            "mean",
            "default",
            "clustered",
            "bootstrap pct",
            "bootstrap BCa",
        ):
            table.add_column(
                col,
                justify="right" if col in ("n", "mean") else "left",
                # The group names a slice the user may filter by: at 80 columns the intervals
                # wrap instead, and no header is cut ("clustered" is the longest one word).
                no_wrap=col == "group",
                min_width=max((len(r.group) for r in mine), default=5)
                if col == "group"
                else (None if col in ("scorer", "n", "mean") else 9),
            )
        has_epochs = any(r.epochs is not None for r in mine)
        # The epoch columns get a table of their own: twelve columns cannot share 80.
        epochs_table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col in ("scorer", "group", "epochs", "between var", "within var", "flaky"):
            epochs_table.add_column(
                col, justify="left" if col in ("scorer", "group") else "right", no_wrap=True
            )
        for r in mine:
            rate = r.default.method == "wilson" or (
                0 <= r.default.estimate <= 1 and r.default.method == "t"
            )
            clustered = _interval_cell(r.clustered, rate)
            if r.clustered is not None and r.n_clusters is not None:
                clustered += f" C={r.n_clusters}"
            cells = [
                r.scorer if r.slice_key is None else "",
                r.group,
                str(r.default.n),
                (f"{100 * r.default.estimate:.1f}%" if rate else f"{r.default.estimate:.3g}"),
                _interval_cell(r.default, rate) + f" {r.default.method}",
                clustered,
                _interval_cell(r.bootstrap_percentile, rate),
                _interval_cell(r.bootstrap_bca, rate),
            ]
            table.add_row(*cells)
            if has_epochs:
                e = r.epochs
                epochs_table.add_row(
                    cells[0],
                    r.group,
                    *(
                        [
                            f"{e.mean_epochs:g}",
                            f"{e.between_sample_variance:.3g}",
                            "—"
                            if math.isnan(e.within_sample_variance)
                            else f"{e.within_sample_variance:.3g}",
                            str(e.n_flaky),
                        ]
                        if e is not None
                        else ["1", "—", "—", "0"]
                    ),
                )
        parts.append(table)
        if has_epochs:
            parts.append(Text(""))
            parts.append(epochs_table)
        for r in mine:
            if r.slice_key is None and r.flaky:
                listed = ", ".join(f"{f.sample_id} ({_flaky_share(f)})" for f in r.flaky[:10])
                more = f" … (+{len(r.flaky) - 10})" if len(r.flaky) > 10 else ""
                parts.append(Text(f"  flaky under {r.scorer}: {listed}{more}", style="yellow"))
        if any(r.clustered is not None for r in mine):
            parts.append(
                Text(
                    "  clustered: CR1 standard errors with C/(C−1) and t on C−1 df "
                    "(Miller 2024 App. A); bootstrap columns resample whole clusters.",
                    style="dim",
                )
            )
    return Group(*parts)
