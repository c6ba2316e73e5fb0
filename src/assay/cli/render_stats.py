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
    GateResult,
    GroupComparison,
    MetricComparison,
    MetricPrecision,
    PairedPlan,
    ProportionPlan,
    RunComparison,
)
from assay.stats import IMPROVED, MIXED, NO_DIFFERENCE, REGRESSED, Interval

VERDICT_STYLE = {
    IMPROVED: "bold green",
    REGRESSED: "bold red",
    MIXED: "bold red",
    NO_DIFFERENCE: "cyan",
    "underpowered": "yellow",
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
    return text


def _header(c: RunComparison) -> list[Any]:
    parts: list[Any] = []
    title = Text(f"compare {c.run_a.id} → {c.run_b.id}", style="bold")
    title.append("   verdict: ")
    title.append(c.verdict, style=VERDICT_STYLE.get(c.verdict, ""))
    parts.append(title)
    if c.changes:
        first = c.changes[0]
        more = f" (+{len(c.changes) - 1} more: `assay diff`)" if len(c.changes) > 1 else ""
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
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col, justify in (
            ("group", "left"),
            ("n", "right"),
            ("A", "right"),
            ("B", "right"),
            (f"Δ B−A{_unit(rate)} [{100 * c.settings.confidence:.0f}% CI]", "right"),
            ("test", "left"),
            ("p", "right"),
            ("p adj", "right"),
            (f"MDE{_unit(rate)}", "right"),
            ("pairing", "right"),
            ("verdict", "left"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for g in m.groups:
            table.add_row(
                Text(g.group, style="bold" if g.slice_key is None else ""),
                str(g.n),
                _mean(g.mean_a, rate),
                _mean(g.mean_b, rate),
                f"{_delta(g.difference, rate)} {_ci(g.interval, rate)}",
                g.test,
                _p(g.p_value),
                _p(g.p_adjusted),
                _delta(g.mde, rate, signed=False),
                _pairing(g),
                _verdict_text(g.verdict, g, rate),
            )
        parts.append(table)
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
            f"detects with {100 * c.settings.power:.0f}% power at α = {c.settings.alpha:g}.",
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
                f"| {g.verdict} |"
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
            f"{_delta(plan.mde_at_current_n, rate, signed=False)}{_unit(rate)}, "
            f"power {plan.power_at_current_n:.0%} for that Δ."
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


def precision_tables(rows: list[MetricPrecision], confidence: float = 0.95) -> Group:
    """``assay show --intervals``: every interval estimator, epochs and flaky samples."""
    parts: list[Any] = []
    subjects = list(dict.fromkeys(r.subject for r in rows))
    for subject in subjects:
        mine = [r for r in rows if r.subject == subject]
        parts.append(Text(f"\n{subject}: intervals ({100 * confidence:.0f}%)", style="bold cyan"))
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
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
            table.add_column(col, justify="right" if col in ("n", "mean") else "left")
        has_epochs = any(r.epochs is not None for r in mine)
        if has_epochs:
            for col in ("epochs", "between var", "within var", "flaky"):
                table.add_column(col, justify="right")
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
            if has_epochs:
                e = r.epochs
                cells += (
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
                )
            table.add_row(*cells)
        parts.append(table)
        for r in mine:
            if r.slice_key is None and r.flaky:
                listed = ", ".join(
                    f"{f.sample_id} ({f.mean:.2f} of {f.n_answers})" for f in r.flaky[:10]
                )
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
