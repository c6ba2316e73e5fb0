"""The terminal at 80 columns (a non-interactive shell's width) and at 150 (issue 20, 4).

Nothing a user reads or copies is cut short: run ids, slice names, test names and verdicts
appear whole; `--help` shows no Python type placeholders (``<bool>``, ``<str>``), no requirement
ids and no lines wider than the terminal.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from assay.analyse import compare_runs
from assay.cli.render import runs_table
from assay.cli.render_stats import comparison_view
from assay.store import Store

from ..analyse.conftest import write_run

SLICES = ["arithmetic", "sequences", "unit-conversions"]


def _render(renderable: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str, str]:
    store = Store(str(tmp_path_factory.mktemp("narrow") / "assay.db"))
    ids = [f"s{i:03d}" for i in range(300)]
    metadata = {i: {"slice": SLICES[k % 3], "template": f"t{k % 30}"} for k, i in enumerate(ids)}
    a = {i: float(k % 4 != 0) for k, i in enumerate(ids)}
    # B: better on arithmetic, worse on sequences, like the demo's prompt v2.
    b = {
        i: float(k % 3 == 0 or (k % 3 == 1 and k % 2 == 0) or k % 4 != 0) for k, i in enumerate(ids)
    }
    run_a = write_run(
        store,
        "20260105-120000-aaaaaa",
        {("assistant", "exact"): a},
        metadata=metadata,
        slices=("slice",),
        cluster_key="template",
    )
    run_b = write_run(
        store,
        "20260105-121000-bbbbbb",
        {("assistant", "exact"): b},
        metadata=metadata,
        slices=("slice",),
        cluster_key="template",
        minutes=10,
    )
    return store, run_a, run_b


@pytest.mark.parametrize("width", [80, 150])
def test_compare_never_cuts_a_group_test_or_verdict(runs, width: int) -> None:  # type: ignore[no-untyped-def]
    store, run_a, run_b = runs
    comparison = compare_runs(store, run_a, run_b, settings=None)
    text = _render(comparison_view(comparison), width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    words = set(re.findall(r"[\w-]+", text))
    for group in comparison.metrics[0].groups:
        assert group.test in words
        assert set(re.findall(r"[\w-]+", group.verdict)) <= words
        assert str(group.slice_value or "all") in words


@pytest.mark.parametrize("width", [80, 150])
def test_runs_never_cuts_a_run_id(runs, width: int) -> None:  # type: ignore[no-untyped-def]
    store, run_a, run_b = runs
    text = _render(runs_table(store.list_runs()), width)
    assert run_a in text and run_b in text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    # Tags (`assay run --tag`) follow the name, and still nothing is cut.
    tagged = _render(runs_table(store.list_runs(), {run_b: ["v2", "candidate"]}), width)
    assert "#v2 #candidate" in " ".join(tagged.split()) and "…" not in tagged
    assert max(len(line) for line in tagged.splitlines()) <= width


def _commands() -> list[list[str]]:
    """Every command path, from the app ``main()`` runs."""
    from typer.main import get_command

    from assay.cli.app import _app_for, _listing

    paths: list[list[str]] = [[]]

    def walk(command, path):  # type: ignore[no-untyped-def]
        for name, child in getattr(command, "commands", {}).items():
            paths.append([*path, name])
            walk(child, [*path, name])

    for name in get_command(_listing()).commands:
        walk(get_command(_app_for([name])), [])
    return paths


HELP_NOISE = re.compile(r"<(?:bool|str|int|float|list\[[^>]*\]|Path)>|\((?:[A-K]\d{1,2}[,)\s:])")


def test_every_help_page_reads_well_at_80_columns(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from typer.main import get_command

    from assay.cli.app import _app_for, _plain_metavars

    monkeypatch.setenv("COLUMNS", "80")
    pages = 0
    for path in _commands():
        command = get_command(_app_for(path))
        _plain_metavars(command)
        with _HelpExit():
            command.main(args=[*path, "--help"], prog_name="assay", standalone_mode=False)
        out = capsys.readouterr().out
        pages += 1
        assert out.startswith("Usage: assay"), path
        assert not HELP_NOISE.search(out), (path, HELP_NOISE.search(out))
        wide = [line for line in out.splitlines() if len(line) > 80]
        assert not wide, (path, wide)
    assert pages > 50


class _HelpExit:
    """``--help`` ends with a clean exit (an exception in standalone_mode=False): let it."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:  # type: ignore[no-untyped-def]
        return (
            kind is not None
            and issubclass(kind, (SystemExit, Exception))
            and (getattr(value, "exit_code", getattr(value, "code", 0)) in (0, None))
        )


@pytest.mark.parametrize("width", [80, 150])
def test_monitor_status_never_cuts_a_signal_or_a_change_time(width: int) -> None:
    """`assay monitor status` at 80 columns: long signal names and change times wrap instead
    of ending in "…", and no line is wider than the terminal."""
    from assay.cli.monitor_commands import route_status_table

    def series(signal: str, segment: str = "", change: bool = False) -> dict[str, object]:
        changes = [{"direction": "up", "start_time": "2026-03-05T10:35:00+00:00", "worse": True}]
        return {
            "signal": signal,
            "segment": segment,
            "binary": True,
            "latest": {"value": 0.5, "low": 0.207, "high": 1.0, "n": 189, "level": 0.25},
            "changes": changes if change else [],
        }

    names = ["budget:format_validity", "judge_score:valid-json", "format_validity"]
    route = {
        "route": "json-extract",
        "updated_at": "2026-03-09T00:55:06.023094+00:00",
        "series": [series(names[0]), series(names[1], "enterprise"), series(names[2], change=True)],
    }
    text = _render(route_status_table(route), width)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    columns: dict[int, str] = {}  # each column's text, its folded lines joined
    for line in text.splitlines():
        if line.startswith("│"):
            for k, cell in enumerate(line.split("│")[1:-1]):
                columns[k] = columns.get(k, "") + re.sub(r"\s", "", cell)
    assert all(name in columns[0] for name in names), columns[0]
    assert "(enterprise)" in columns[0] and "up2026-03-0510:35worse" in columns[5]
    assert "json-extract (updated 2026-03-09 00:55 UTC)" in text


@pytest.mark.parametrize("width", [80, 150])
def test_show_intervals_never_cuts_a_group_or_a_header(runs, width: int) -> None:  # type: ignore[no-untyped-def]
    """`assay show --intervals`: slice names whole (they were `slice=ari…` at 80), and with
    epochs the four epoch columns in a table of their own rather than twelve columns in 80."""
    from assay.analyse.precision import run_precision
    from assay.cli.render_stats import precision_tables

    store, run_a, _ = runs
    text = _render(precision_tables(run_precision(store, run_a, n_resamples=200)), width)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    for name in ("slice=arithmetic", "slice=sequences", "slice=unit-conversions", "clustered"):
        assert name in text
    ids = [f"e{i:02d}" for i in range(40)]
    epochs = {i: [1.0, 1.0, float(k % 5 != 0)] for k, i in enumerate(ids)}  # near 100%
    run = write_run(store, f"20260105-130000-c{width:05d}", {("assistant", "exact"): epochs})
    text = _render(precision_tables(run_precision(store, run, n_resamples=200)), width)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    assert "bootstrap BCa" in " ".join(text.split()) and "between var" in text


@pytest.mark.parametrize("width", [80, 150])
def test_audit_list_never_cuts_a_certificate_id(width: int) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from assay.cli.audit_commands import certificates_table

    created = datetime(2026, 12, 5, 2, 42, tzinfo=UTC)
    certificates = [
        SimpleNamespace(
            id="cert-20261205-024224-ee1969",
            judge="sim/demo-judge",
            model="demo-judge",
            created_at=created,
            status="position_bias, length_bias, gameable",
        ),
        SimpleNamespace(
            id="cert-20261205-024722-10337a",
            judge="openai/gpt-4o-mini",
            model="gpt-4o-mini-2024-07-18",
            created_at=created,
            status="self_preference",
        ),
    ]
    text = _render(certificates_table(certificates), width)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    lines = text.splitlines()
    assert any(line.startswith("cert-20261205-024224-ee1969  sim/demo-judge ") for line in lines)
    assert "openai/gpt-4o-mini" in text.split()
    if width >= 100:  # at 80 columns the model, the date and the status wrap
        assert "openai/gpt-4o-mini (gpt-4o-mini-2024-07-18)" in text  # the model, when it differs
        assert "self_preference" in text.split()


@pytest.mark.parametrize("width", [80, 150])
def test_lint_never_cuts_a_row_location(width: int, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`assay data lint --spec` reads the dataset by its absolute path: its file:line was cut
    to `(/tmp/…/assay-d…` at 80 columns. Inside the working folder it is shown relative, and a
    location outside it wraps rather than being cut."""
    from assay.cli import data_lint_commands
    from assay.data.lint.report import CheckStatus, LintReport, Smell, SmellRow

    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "project" / "data" / "qa.jsonl")
    outside = "/srv/evals/shared/customer-support/2026-11/qa-with-gold-documents.jsonl"
    rows = (SmellRow("q0034", f"{inside}:34"), SmellRow("q0079", f"{outside}:79"))
    smell = Smell(
        "never_passed", "warning", "2 sample(s) were failed by every subject", "check", rows
    )
    report = LintReport("qa", inside, 400, "h", (smell,), (CheckStatus("kb", False, "no --kb"),))
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    monkeypatch.setattr(data_lint_commands, "console", console)
    data_lint_commands.render_lint(report)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    # Columns: smell (severity above the code), rows, what and fix.
    rows_column = "".join(
        "".join(line.split("│")[2].split()) for line in text.splitlines() if line.count("│") > 3
    )
    assert "q0034(project/data/qa.jsonl:34)" in rows_column  # relative, as the user types it
    assert f"q0079({outside}:79)" in rows_column  # whole, wrapped
