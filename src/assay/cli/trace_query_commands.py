"""``assay traces list|search|show``: reading the trace store from the terminal.

Each command calls one function of :mod:`assay.trace.query` (the same ones the web pages and
the API call) and renders the dicts it returns; ``--json`` prints them unchanged. Everything a
trace holds is user text, so it reaches Rich as :class:`~rich.text.Text`, never as markup.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, console
from assay.cli.trace_commands import traces_app

SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Traces that started at or after this: an age (30m, 24h, 7d) or ISO time."
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Traces that started before this: an age or an ISO time."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="A span requested or resolved this model.")
]
StatusOption = Annotated[str | None, typer.Option("--status", help="Trace status: ok or error.")]
SessionOption = Annotated[str | None, typer.Option("--session", help="Session id.")]
UserOption = Annotated[str | None, typer.Option("--user", help="User id (pseudonymous).")]
ServiceOption = Annotated[str | None, typer.Option("--service", help="Service name.")]
RouteOption = Annotated[str | None, typer.Option("--route", help="Route (app.route).")]
AttrOption = Annotated[
    list[str] | None,
    typer.Option(
        "--attr",
        help="A span attribute KEY=VALUE (repeatable; all must hold, each by some span).",
    ),
]
LabelOption = Annotated[
    str | None,
    typer.Option(
        "--label",
        help="Traces labelled so by feedback, scores and outcomes: failed, failed_delayed, ok, "
        "unlabelled.",
    ),
]
LimitOption = Annotated[int, typer.Option("--limit", help="At most this many traces.")]
OffsetOption = Annotated[int, typer.Option("--offset", help="Skip this many (paging).")]

#: Characters of the text waterfall's track.
_TRACK = 32


def _filter(
    *,
    since: str | None,
    until: str | None,
    model: str | None,
    status: str | None,
    session: str | None,
    user: str | None,
    service: str | None,
    route: str | None,
    attr: list[str] | None,
    label: str | None,
    text: str | None = None,
) -> Any:
    from assay.trace.query import TraceFilter, parse_attribute, parse_time

    return TraceFilter(
        since=parse_time(since, where="--since") if since else None,
        until=parse_time(until, where="--until") if until else None,
        model=model,
        status=status,
        session=session,
        user=user,
        service=service,
        route=route,
        attributes=tuple(parse_attribute(a, where="--attr") for a in attr or ()),
        text=text,
        label=label,
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "—"


def _traces_table(page: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (
        ("trace", "left"),
        ("started (UTC)", "left"),
        ("duration", "right"),
        ("route", "left"),
        ("status", "left"),
        ("spans", "right"),
        ("models", "left"),
        ("tokens in/out", "right"),
        ("session", "left"),
        ("user", "left"),
    ):
        keep_whole = name in ("trace", "started (UTC)", "duration", "status")
        table.add_column(name, justify=justify, no_wrap=keep_whole)  # type: ignore[arg-type]
    for t in page["traces"]:
        status = Text(t["status"], style="red" if t["status"] == "error" else "green")
        if t["failed"]:
            status.append(f" {t['label']}", style="bold red")
        table.add_row(
            Text(t["id"][:16]),
            _when(t["start_time"]),
            _ms(t["duration_ms"]),
            Text(t["route"] or t["root_name"] or "—"),
            status,
            str(t["n_spans"]),
            Text(", ".join(t["models"]) or "—"),
            f"{t['input_tokens']}/{t['output_tokens']}",
            Text(t["session_id"] or "—"),
            Text(t["user_id"] or "—"),
        )
    return table


def _print_page(page: dict[str, Any], json_out: bool) -> None:
    if json_out:
        console.print_json(data=_finite(page))
        return
    if not page["traces"]:
        console.print("No trace matches.", style="yellow")
        return
    console.print(_traces_table(page))
    shown = f"{page['offset'] + 1}–{page['offset'] + len(page['traces'])}"
    more = f"; more with --offset {page['offset'] + page['limit']}" if page["has_more"] else ""
    console.print(
        Text(f"traces {shown}, newest first{more}. `assay traces show ID` (a prefix works).")
    )


@traces_app.command("list")
def list_command(
    since: SinceOption = None,
    until: UntilOption = None,
    model: ModelOption = None,
    status: StatusOption = None,
    session: SessionOption = None,
    user: UserOption = None,
    service: ServiceOption = None,
    route: RouteOption = None,
    attr: AttrOption = None,
    label: LabelOption = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List stored traces, newest first, filtered by time, model, status, label, session,
    user, service, route and span attributes."""
    from assay.trace.query import list_traces

    flt = _filter(
        since=since,
        until=until,
        model=model,
        status=status,
        session=session,
        user=user,
        service=service,
        route=route,
        attr=attr,
        label=label,
    )
    with _store(db) as store:
        page = list_traces(store, flt, limit=limit, offset=offset)
    _print_page(page, json_out)


@traces_app.command("search")
def search_command(
    text: Annotated[str, typer.Argument(help="Text to find in span names, inputs and outputs.")],
    since: SinceOption = None,
    until: UntilOption = None,
    model: ModelOption = None,
    status: StatusOption = None,
    session: SessionOption = None,
    user: UserOption = None,
    service: ServiceOption = None,
    route: RouteOption = None,
    attr: AttrOption = None,
    label: LabelOption = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find traces whose span names, messages or inputs/outputs contain TEXT (a substring,
    case-insensitive), with the same filters as `assay traces list`."""
    from assay.trace.query import list_traces

    flt = _filter(
        since=since,
        until=until,
        model=model,
        status=status,
        session=session,
        user=user,
        service=service,
        route=route,
        attr=attr,
        label=label,
        text=text,
    )
    with _store(db) as store:
        page = list_traces(store, flt, limit=limit, offset=offset)
    _print_page(page, json_out)


# -- show ----------------------------------------------------------------------------------------


def _bar(span: dict[str, Any]) -> Text:
    """The span's place in the trace as a text bar: offset in spaces, duration in blocks."""
    start = min(_TRACK - 1, round(span["left_pct"] / 100 * _TRACK))
    length = max(1, round(span["width_pct"] / 100 * _TRACK))
    length = min(length, _TRACK - start)
    style = "red" if span["status"] == "error" else "cyan"
    bar = Text("·" * start, style="dim")
    bar.append("█" * length, style=style)
    bar.append("·" * (_TRACK - start - length), style="dim")
    return bar


def _span_table(data: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("span")
    table.add_column("kind")
    table.add_column("model")
    table.add_column("start", justify="right")
    table.add_column("duration", justify="right")
    table.add_column(f"waterfall ({_ms(data['waterfall']['duration_ms'])})", no_wrap=True)
    for span in data["spans"]:
        name = Text("  " * min(span["depth"], 12) + ("└ " if span["depth"] else ""))
        name.append(span["name"], style="red" if span["status"] == "error" else "")
        if span["orphan"]:
            name.append(" (parent missing)", style="yellow")
        table.add_row(
            name,
            span["kind"],
            Text(span["model_resolved"] or span["model_requested"] or ""),
            f"+{_ms(span['offset_ms'])}",
            _ms(span["duration_ms"]),
            _bar(span),
        )
    return table


def _message_lines(title: str, messages: list[dict[str, Any]]) -> list[Text]:
    lines = [Text(title, style="bold")]
    for m in messages:
        line = Text(f"  {m['role']}: ", style="magenta")
        line.append(m["content"] or "")
        lines.append(line)
        for call in m["tool_calls"]:
            lines.append(Text(f"    → tool call {call['name']}({_compact(call['arguments'])})"))
    return lines


def _compact(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _span_details(span: dict[str, Any]) -> list[Any]:
    parts: list[Any] = []
    if span["input_messages"]:
        parts.extend(_message_lines("input", span["input_messages"]))
    elif span["input"] is not None:
        parts.append(Text("input: ", style="bold") + Text(_compact(span["input"])))
    if span["output_messages"]:
        parts.extend(_message_lines("output", span["output_messages"]))
    elif span["output"] is not None:
        parts.append(Text("output: ", style="bold") + Text(_compact(span["output"])))
    if span["messages_from"] == "events":
        parts.append(Text("(messages from GenAI events / log records)", style="dim"))
    for call in span["tool_calls"]:
        line = Text(f"tool {call['source']}: ", style="bold")
        line.append(f"{call['tool']}({_compact(call['arguments'])})")
        if call["result"] is not None:
            line.append(f" → {_compact(call['result'])}")
        if call["error"]:
            line.append(f" error: {call['error']}", style="red")
        parts.append(line)
    if span["retrievals"]:
        docs = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
        for name in ("rank", "document", "chunk", "score", "doc version", "index", "embedding"):
            docs.add_column(name)
        for d in span["retrievals"]:
            docs.add_row(
                str(d["rank"]),
                Text(d["document_id"] or "—"),
                Text(d["chunk_id"] or "—"),
                "—" if d["score"] is None else f"{d['score']:.3g}",
                Text(d["document_version"] or "—"),
                Text(d["index_version"] or "—"),
                Text(d["embedding_version"] or "—"),
            )
        parts.append(Text("retrieved documents", style="bold"))
        parts.append(docs)
    for s in span["scores"]:
        parts.append(_score_line(s))
    if span["status_message"]:
        parts.append(Text(f"status: {span['status_message']}", style="red"))
    return parts


def _score_line(s: dict[str, Any]) -> Text:
    line = Text(f"score {s['name']} ({s['source']}): ", style="bold")
    line.append("—" if s["value"] is None else f"{s['value']:.3g}")
    if s["label"]:
        line.append(f" {s['label']}")
    if s["explanation"]:
        line.append(f" — {s['explanation']}", style="dim")
    return line


def _show(data: dict[str, Any]) -> None:
    t = data["trace"]
    head = Text(f"trace {t['id']}", style="bold")
    head.append(f"  {t['status']}", style="red" if t["status"] == "error" else "green")
    if t["label"] and t["label"] != "unlabelled":
        head.append(f"  {t['label']}", style="bold red" if t["failed"] else "green")
    console.print(head)
    for reason in t.get("label_reasons") or ():
        console.print(Text(f"  {reason}", style="red" if t["failed"] else "dim"))
    facts = [
        ("started", _when(t["start_time"]) + " UTC"),
        ("duration", _ms(data["waterfall"]["duration_ms"])),
        ("route", t["route"]),
        ("service", t["service"]),
        ("session", t["session_id"]),
        ("user", t["user_id"]),
        ("models", ", ".join(t["models"])),
        ("tokens in/out", f"{t['input_tokens']}/{t['output_tokens']}"),
        ("cost", None if t["cost"] is None else f"${t['cost']:.4f}"),
    ]
    console.print(Text("  ".join(f"{k}: {v}" for k, v in facts if v), style="dim"))
    if data["truncated"]:
        console.print(f"only the first {len(data['spans'])} spans are shown", style="yellow")
    if data["n_orphans"]:
        console.print(
            f"{data['n_orphans']} span(s) whose parent never arrived are shown as roots",
            style="yellow",
        )
    console.print(_span_table(data))
    for span in data["spans"]:
        details = _span_details(span)
        if not details:
            continue
        title = Text(f"\n{span['name']} ", style="bold cyan")
        title.append(f"[{span['kind']} {span['span_id']}]", style="dim")
        console.print(title)
        console.print(Group(*details))
    span_ids = {s["span_id"] for s in data["spans"]}
    loose = [s for s in data["scores"] if s["span_id"] not in span_ids]
    if loose:
        console.print(Text("\nscores", style="bold"))
        for s in loose:
            console.print(_score_line(s))
    if data["feedback"]:
        console.print(Text("\nfeedback", style="bold"))
        for f in data["feedback"]:
            line = Text(f"  {f['kind']}")
            for key in ("value", "label", "correction", "comment"):
                if f[key] is not None:
                    line.append(f" {key}={f[key]}")
            line.append(f"  ({f['rater_role']}, {f['surface']}", style="dim")
            line.append(", session" if f["trace_id"] is None else "", style="dim")
            line.append(")", style="dim")
            console.print(line)
    if data["outcomes"]:
        console.print(Text("\noutcomes", style="bold"))
        for o in data["outcomes"]:
            line = Text(f"  {o['event']}", style="red" if o["bad"] else "")
            line.append(f"  {_when(o['occurred_at'])} UTC ({o['after_trace_hours']:+.1f} h)")
            if o["value"] is not None:
                line.append(f" value={o['value']}")
            console.print(line)
    if data["cases"]:
        console.print(Text("\ncases from this trace", style="bold"))
        for c in data["cases"]:
            console.print(Text(f"  {c['id']} in {c['dataset']} ({c['status']}, {c['origin']})"))


@traces_app.command("show")
def show_command(
    trace: Annotated[str, typer.Argument(help="A trace id, or a unique prefix of one.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one trace: its span tree as a waterfall, each span's messages, tool calls,
    retrieved documents (with versions) and scores, and the trace's feedback and outcomes."""
    from assay.trace.query import get_trace

    with _store(db) as store:
        data = get_trace(store, trace)
    if json_out:
        console.print_json(data=_finite(data))
        return
    _show(data)
