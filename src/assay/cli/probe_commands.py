"""``assay probe KIND --spec SPEC`` and ``assay confound``: probes as experiments (issue 16)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.core import AssayError


def _pct(x: float) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}"


def _render(results: list[Any], run_id: str) -> None:
    from rich.table import Table

    for r in results:
        table = Table(
            title=f"probe {r.kind} · run {run_id} · {r.subject} · {r.metric} by {r.variant_key}",
            title_justify="left",
        )
        for col in (r.variant_key, "%", "95% CI", "n", ""):
            table.add_column(col, justify="right" if col in ("%", "n") else "left")
        top = max((p.interval.estimate for p in r.curve), default=1.0) or 1.0
        for p in r.curve:
            i = p.interval
            bar = "█" * max(0, round(20 * i.estimate / top)) if math.isfinite(i.estimate) else ""
            table.add_row(
                p.variant, _pct(i.estimate), f"{_pct(i.low)}–{_pct(i.high)}", str(i.n), bar
            )
        console.print(table)
        style = "bold red" if r.flagged else "bold green"
        console.print(f"verdict: {r.verdict}", style=style, highlight=False, markup=False)
        console.print(r.figure, highlight=False, markup=False)
        console.print(f"rule: {r.rule}", style="dim", highlight=False, markup=False)


@app.command()
def probe(
    kind: Annotated[str, typer.Argument(help="Probe kind (`list` shows them all).")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Eval spec with a `probe:` section.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", metavar="RUN", help="Re-analyse this stored run.")
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Scorer to draw the curve from.")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the curve and verdict as one HTML file."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a probe (a family of variants as one stored run) and print its curve and verdict.

    Exit 0 when no subject is flagged, 1 when one is, 2 on a spec or usage error.
    """
    from assay.probe import analyse_probe_run, load_probe, probe_class, probe_kinds

    if kind == "list":
        for name in probe_kinds():
            console.print(f"{name:12} {probe_class(name).description}", highlight=False)
        return
    if (spec is None) == (run_id is None):
        raise AssayError("give exactly one of --spec SPEC or --run RUN", where="assay probe")
    if run_id is not None:
        store = _store(db, create=False)
        rid = store.resolve_run_id(run_id)
        results = analyse_probe_run(store, rid, metric)
        if results and results[0].kind != kind:
            raise AssayError(
                f"run {rid} is a {results[0].kind!r} probe, not {kind!r}",
                where="--run",
                fix=f"assay probe {results[0].kind} --run {rid}",
            )
        status = store.get_run(rid).status
    else:
        from assay.run import run as run_eval

        assert spec is not None
        if not spec.is_file():
            raise AssayError(f"spec file not found: {spec}", where="--spec")
        _probe, ev = load_probe(kind, spec)
        store = _store(db)
        outcome = run_eval(ev, db=store)
        rid, status = outcome.run_id, outcome.status
        results = analyse_probe_run(store, rid, metric)
    if html is not None:
        from assay.web.probe import probe_page_html

        html.write_text(probe_page_html(store, rid, standalone=True), encoding="utf-8")
    if json_out:
        payload = {
            "run_id": rid,
            "status": status,
            "flagged": any(r.flagged for r in results),
            "results": [r.as_dict() for r in results],
        }
        print(json.dumps(payload, indent=2, default=str))
    else:
        _render(results, rid)
    if any(r.flagged for r in results):
        raise typer.Exit(1)


@app.command()
def confound(
    spec: Annotated[Path, typer.Argument(help="The eval spec.")],
    assignment: Annotated[
        list[str] | None,
        typer.Option("--assignment", help="A randomization attribute (repeatable)."),
    ] = None,
    arm: Annotated[
        str | None, typer.Option("--arm", help="Metadata key holding each sample's arm.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """The confound guard (B6): refuse a prompt that renders an assignment attribute
    (`in_band_leakage`, exit 2) and report covariate balance across arms (exit 1 if
    imbalanced)."""
    from assay.probe import check_in_band_leakage, covariate_balance
    from assay.run import eval_from_spec
    from assay.run.yamlfile import load_yaml

    doc = load_yaml(spec)
    data = dict(doc.data) if isinstance(doc.data, dict) else doc.data
    section = data.pop("probe", None) if isinstance(data, dict) else None
    if not assignment and isinstance(section, dict):
        assignment = list(section.get("assignment") or [])
    if not assignment:
        raise AssayError(
            "no assignment attributes declared",
            where="--assignment",
            fix="pass --assignment ATTR (or declare probe.assignment in the spec)",
        )
    ev = eval_from_spec(data, base_dir=spec.resolve().parent, doc=doc)
    check_in_band_leakage(ev, assignment, where=str(spec))
    balance = covariate_balance(list(ev.dataset), arm) if arm else []
    if json_out:
        print(
            json.dumps(
                {"in_band_leakage": False, "balance": [b.as_dict() for b in balance]}, indent=2
            )
        )
    else:
        console.print(f"no prompt template uses {', '.join(assignment)}", highlight=False)
        for b in balance:
            stat = (
                f"SMD {b.statistic:.3f}"
                if b.kind == "numeric"
                else (f"chi2 {b.statistic:.2f}, p = {b.p_value:.3g}")
            )
            flag = "IMBALANCED" if b.imbalanced else "balanced"
            console.print(f"{b.covariate:20} {stat:28} {flag}", highlight=False, markup=False)
    if any(b.imbalanced for b in balance):
        raise typer.Exit(1)
