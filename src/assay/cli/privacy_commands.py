"""``assay privacy …``: the privacy-mode conformance test (I4) and retention conformance (I5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console
from assay.cli.assurance_render import finish

privacy_app = typer.Typer(
    name="privacy",
    help="Privacy conformance: privacy mode against every registered sink, retention jobs.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, name="privacy")

_STATUS_STYLE = {"clean": "green", "leaked": "bold red", "unreadable": "bold red"}


@privacy_app.command("check")
def check(
    declaration: Annotated[Path, typer.Argument(help="The sink registry and request (YAML).")],
    canary: Annotated[
        str | None,
        typer.Option("--canary", help="The canary token (default: a fresh ZX-CANARY-…)."),
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send/--no-send", help="Send the request, or only scan for --canary."),
    ] = True,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a privacy_mode=true request carrying a canary, scan every registered sink, and
    fail naming each sink where the canary appears (exit 1)."""
    from assay.core import AssayError
    from assay.privacy import check_privacy, load_privacy_spec

    if not send and not canary:
        raise AssayError("--no-send needs --canary: the token to look for", where="--canary")
    spec, doc = load_privacy_spec(declaration)
    if any(s.kind == "trace_store" and not s.db for s in spec.sinks.values()):
        with _store(db) as store:
            report = check_privacy(spec, doc=doc, canary=canary, send=send, store=store)
    else:
        report = check_privacy(spec, doc=doc, canary=canary, send=send)

    def render(d: dict[str, Any]) -> None:
        console.print(Text(f"canary {d['canary']}: " + ("PASS" if d["passed"] else "FAIL")))
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in ("sink", "kind", "status", "scanned", "where"):
            table.add_column(name, overflow="fold")
        for s in d["sinks"]:
            where = "; ".join(h["location"] for h in s["leaked"][:3]) or (s["error"] or "")
            table.add_row(
                Text(s["sink"]),
                s["kind"],
                Text(s["status"], style=_STATUS_STYLE.get(s["status"], "yellow")),
                Text(s["scanned"]),
                Text(where),
            )
        console.print(table)

    finish(report.as_dict(), as_json, render)


@privacy_app.command("retention")
def retention(
    declaration: Annotated[Path, typer.Argument(help="The retention declaration (YAML).")],
    now: Annotated[
        str | None, typer.Option("--now", help="The moment to judge activity at (ISO time).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retention conformance (I5): a retention job must not delete context of still-active
    sessions without a tombstone, nor keep expired turns."""
    from assay.privacy import check_retention
    from assay.trace.query import parse_time

    moment = parse_time(now, where="--now") if now else None
    with _store(db) as store:
        report = check_retention(declaration, now=moment, store=store)

    def render(d: dict[str, Any]) -> None:
        console.print(
            Text(
                f"{d['turns_vanished']} turns vanished; policy max age "
                f"{d['max_age_days']:g} days, active within {d['active_within_days']:g} days"
            )
        )
        for s in d["sessions"]:
            console.print(
                Text(
                    f"  session {s['session']}: {'active' if s['active'] else 'inactive'}, "
                    f"{s['vanished']} vanished, {s['vanished_unmarked_while_active']} without a "
                    "tombstone while active"
                )
            )

    finish(report.as_dict(), as_json, render)
