"""``assay serve`` (the web UI and JSON API) and ``assay report`` (one self-contained HTML file).

Both render what :mod:`assay.web.views` gathers from the same analysis functions the other
commands call, so the browser, the report and the terminal show the same numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.app import DbOption, _store, app, err_console
from assay.core import AssayError

TOKEN_ENV = "ASSAY_TOKEN"

NoRedactOption = Annotated[
    bool,
    typer.Option(
        "--no-redact",
        help="Store trace text as received (PII included). Recorded in every batch's report.",
    ),
]
ReasonOption = Annotated[
    str | None,
    typer.Option("--reason", help="Why redaction is off (required with --no-redact)."),
]


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token (a store holds prompts, outputs and
    possibly personal data)."""
    from assay.web import is_loopback

    if token:
        from assay.web.auth import check_token

        check_token(token)
    if not is_loopback(host) and not token:
        raise AssayError(
            f"refusing to serve on {host} without an access token: anyone who can reach this "
            "address could read the store",
            where="--host",
            fix=f"pass --token TOKEN (or set {TOKEN_ENV}), or bind to 127.0.0.1",
        )


HostOption = Annotated[
    str, typer.Option("--host", help="Address to listen on (loopback by default).")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        help="Access token every request must carry (required off loopback).",
    ),
]


def _run_server(
    what: str,
    build: Any,
    *,
    host: str,
    port: int,
    db: str | None,
    token: str | None,
    no_redact: bool,
    reason: str | None,
    where: str,
    monitors: Any = None,
) -> None:
    """Check the binding and the redaction choice, open the store, print one line saying what
    listens where, and serve ``build(store, token, redact, note)`` with uvicorn. With
    ``monitors`` (a checked monitors.yaml) the monitoring scheduler runs beside the server in a
    background thread and stops with it."""
    import uvicorn

    token = token or os.environ.get(TOKEN_ENV) or None
    check_binding(host, token)
    note = redaction_note(no_redact, reason)
    store = _store(db)
    scheduler = None
    try:
        err_console.print(
            f"assay {what}: store {store.url}, {where.format(host=host, port=port)}"
            f"{'; token required' if token else ''}{'; REDACTION OFF' if no_redact else ''}",
            highlight=False,
        )
        if monitors is not None:
            from assay.monitor.scheduler import Scheduler

            scheduler = Scheduler(store, monitors).start()
            err_console.print(
                f"assay {what}: monitoring {monitors.source} every {monitors.interval} "
                f"({len(monitors.routes)} routes, {len(monitors.canaries)} canaries)",
                highlight=False,
            )
        web_app = build(store, token, not no_redact, note)
        if scheduler is not None:  # /api/monitor/scheduler and the /monitor page read it
            web_app.state.scheduler = scheduler
        uvicorn.run(web_app, host=host, port=port, log_level="warning")
    finally:
        if scheduler is not None and not scheduler.stop():
            err_console.print("assay: the monitoring pass in progress did not stop in time")
        store.close()


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8765,
    db: DbOption = None,
    token: TokenOption = None,
    no_redact: NoRedactOption = False,
    reason: ReasonOption = None,
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor",
            help="Also run the monitors of --spec on their schedule (passes, canaries, judge "
            "anchors), writing alerts as `assay monitor run` does.",
        ),
    ] = False,
    spec: Annotated[Path, typer.Option("--spec", help="The monitors file for --monitor.")] = Path(
        "monitors.yaml"
    ),
    allowed_host: Annotated[
        list[str],
        typer.Option(
            "--allowed-host",
            help="Also answer requests addressed to this host name (repeatable; *.example.com "
            "allowed). Without a token only loopback names are answered.",
        ),
    ] = [],  # noqa: B006 (Typer reads the default; it is never mutated)
) -> None:
    """Serve the web UI (runs, samples, comparisons, planner, traces), its JSON API under /api/,
    and the OTLP/HTTP receiver at /v1/traces and /v1/logs (PII redacted before the first write).

    Without a token it answers only requests addressed to a loopback name (localhost,
    127.0.0.1, ::1) or an --allowed-host, so a web page cannot read the store through a DNS
    name rebound to this machine."""
    from assay.web import create_app
    from assay.web.auth import allowed_hosts

    monitors = None
    if monitor:
        from assay.monitor.spec import load_monitors

        monitors = load_monitors(spec)  # a config error stops here: exit 2, file:line
    _run_server(
        "serve",
        lambda store, tok, redact, note: create_app(
            store,
            token=tok,
            redact=redact,
            redact_note=note,
            allowed_hosts=allowed_hosts(allowed_host),
        ),
        host=host,
        port=port,
        db=db,
        token=token,
        no_redact=no_redact,
        reason=reason,
        where="http://{host}:{port}/ (API reference at /docs; OTLP at /v1/traces)",
        monitors=monitors,
    )


@app.command()
def collect(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 4318,
    db: DbOption = None,
    token: TokenOption = None,
    no_redact: NoRedactOption = False,
    reason: ReasonOption = None,
) -> None:
    """Run only the OTLP/HTTP receiver (POST /v1/traces, /v1/logs; GET /healthz).

    Stateless apart from the store: run several behind a load balancer against one PostgreSQL
    (give them the same ASSAY_REDACTION_KEY so placeholders agree)."""
    from assay.trace.receiver import collector_app

    _run_server(
        "collect",
        lambda store, tok, redact, note: collector_app(store, token=tok, redact=redact, note=note),
        host=host,
        port=port,
        db=db,
        token=token,
        no_redact=no_redact,
        reason=reason,
        where="OTLP/HTTP at http://{host}:{port}/v1/traces and /v1/logs",
    )


def redaction_note(no_redact: bool, reason: str | None) -> str | None:
    """The note every batch's redaction report carries when redaction is off."""
    if not no_redact:
        return None
    if not reason or not reason.strip():
        raise AssayError(
            "--no-redact stores personal data as received and needs a reason",
            where="--no-redact",
            fix='add --reason "why" (it is recorded with every batch)',
        )
    return f"--no-redact: {reason.strip()}"


@app.command()
def report(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="The run to report on.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    compare_with: Annotated[
        str | None,
        typer.Option(
            "--compare",
            metavar="RUN2",
            help="Also compare RUN (baseline) with RUN2 (candidate), as `assay compare RUN RUN2`.",
        ),
    ] = None,
    migration_note: Annotated[
        str | None,
        typer.Option(
            "--migration-note",
            metavar="NOTE",
            help="With --compare, across a changed judge: how its scores compare, as for "
            "`assay compare --migration-note` (restores the verdicts of the metrics it graded).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write one self-contained HTML report (inline CSS and SVG; no network requests)."""
    from assay.analyse import CompareSettings
    from assay.web import render_report

    note = (migration_note or "").strip() or None
    if note is not None and compare_with is None:
        raise AssayError(
            "a migration note applies to a comparison, and there is none without --compare",
            where="--migration-note",
            fix="add --compare RUN2, or drop --migration-note",
        )
    settings = CompareSettings(migration_note=note)
    store = _store(db, create=False)
    try:
        run_id = store.resolve_run_id(run_ref)
        other = store.resolve_run_id(compare_with) if compare_with is not None else None
        try:
            html = render_report(store, run_id, other, settings=settings)
        except AssayError as error:
            if error.where != "--subject" and "--subject" not in (error.fix or ""):
                raise
            # `report` has no --subject: name what it can do instead.
            error.where = "--compare"
            error.fix = (
                "`assay report` pairs subjects by name (or the only subject of each run); to "
                "compare differently named subjects use `assay compare RUN RUN2 --subject A:B`"
            )
            error.args = (error.render(),)
            raise
    finally:
        store.close()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
    except OSError as error:
        raise AssayError(f"cannot write {output}: {error.strerror}", where="--output") from error
    err_console.print(f"wrote {output} ({len(html) // 1024} KB)", highlight=False)
