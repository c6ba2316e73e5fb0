"""``assay review``: review queues (annotation queues) from the terminal.

``queue create|list|delete`` manage queues; ``add`` puts draft cases, traces or a run's samples
in one; ``assign`` reserves reviews for named reviewers; ``next`` shows a reviewer their next
item and takes the label interactively; ``label`` labels an item in one command; ``items`` and
``status`` show a queue's items, progress and inter-rater agreement.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assay.cli.app import DbOption, JsonOption, _store, app, console, err_console
from assay.core import AssayError

if TYPE_CHECKING:
    from assay.review import ReviewItem, ReviewQueue

review_app = typer.Typer(
    name="review",
    help="Review queues: humans label draft cases, traces and run samples against a rubric.",
    no_args_is_help=True,
)
queue_app = typer.Typer(
    name="queue", help="Create, list and delete review queues.", no_args_is_help=True
)
review_app.add_typer(queue_app, name="queue")
app.add_typer(review_app, name="review")

AsOption = Annotated[str, typer.Option("--as", help="The reviewer's name (e.g. alice).")]
RoleOption = Annotated[
    str, typer.Option("--role", help="The reviewer's role: labeler, expert, internal, end_user.")
]


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _agreement_line(agreement: dict[str, Any] | None) -> str:
    if agreement is None:
        return "agreement: — (needs items with two or more labels)"
    name = {
        "cohen_kappa": "Cohen's κ",
        "fleiss_kappa": "Fleiss' κ",
        "krippendorff_alpha": "Krippendorff's α",
    }[agreement["method"]]
    if agreement.get("weights"):
        name += f" ({agreement['weights']} weights)"
    interval = ""
    if agreement.get("low") is not None:
        interval = f" [{_num(agreement['low'])}, {_num(agreement['high'])}]"
    alpha = ""
    if agreement["method"] != "krippendorff_alpha":
        alpha = f"; Krippendorff's α {_num(agreement['alpha'])}"
    return (
        f"agreement: {name} {_num(agreement['value'])}{interval} over {agreement['n_items']} "
        f"items and {agreement['n_raters']} reviewers{alpha}"
    )


# -- queues --------------------------------------------------------------------------------


@queue_app.command("create")
def queue_create(
    name: Annotated[str, typer.Argument(help="The queue's name (letters, digits, . _ -).")],
    rubric: Annotated[Path, typer.Option("--rubric", help="The rubric (YAML).")],
    reviews_per_item: Annotated[
        int, typer.Option("--reviews-per-item", help="Independent reviews each item wants.")
    ] = 1,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a review queue with a rubric (scale pass_fail or score min-max, criteria, optional
    names of the scale's points)."""
    from assay.review import create_queue, load_rubric

    parsed = load_rubric(rubric)
    store = _store(db)
    try:
        queue = create_queue(store, name, parsed, reviews_per_item=reviews_per_item)
    finally:
        store.close()
    if json_out:
        console.print_json(data=queue.as_dict())
        return
    console.print(
        f"created review queue {queue.name}: {parsed.scale} "
        f"({', '.join(parsed.points[:11])}), {reviews_per_item} review(s) per item",
        highlight=False,
        markup=False,
    )


@queue_app.command("list")
def queue_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """The review queues with their progress and agreement."""
    from assay.review import list_queues, queue_status

    store = _store(db)
    try:
        statuses = [queue_status(store, q.name) for q in list_queues(store)]
    finally:
        store.close()
    if json_out:
        console.print_json(data=statuses)
        return
    if not statuses:
        console.print("no review queues yet: create one with `assay review queue create`")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("queue", "scale", "items", "complete", "labels", "agreement"):
        table.add_column(column, justify="left" if column in ("queue", "scale") else "right")
    for s in statuses:
        agreement = s["agreement"]
        table.add_row(
            Text(s["name"]),
            s["rubric"]["scale"],
            str(s["items"]),
            f"{s['complete']}/{s['items']}",
            f"{s['labels']}/{s['labels_wanted']}",
            "—" if agreement is None else _num(agreement["value"]),
        )
    console.print(table)


@queue_app.command("delete")
def queue_delete(
    name: Annotated[str, typer.Argument(help="The queue.")],
    yes: Annotated[bool, typer.Option("--yes", help="Delete its items and labels too.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a queue with its items and labels (cases and trace scores it produced stay)."""
    from assay.review import delete_queue

    if not yes:
        raise AssayError(
            f"deleting queue {name!r} deletes its labels",
            where="--yes",
            fix="add --yes to delete it",
        )
    store = _store(db)
    try:
        count = delete_queue(store, name)
    finally:
        store.close()
    console.print(f"deleted review queue {name} and its {count} items", markup=False)


# -- items ---------------------------------------------------------------------------------


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for v in values or () for part in v.split(",") if part.strip()]


@review_app.command("add")
def review_add(
    name: Annotated[str, typer.Argument(help="The queue.")],
    from_drafts: Annotated[
        bool, typer.Option("--from-drafts", help="Every untriaged draft case.")
    ] = False,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Only draft cases of this dataset.")
    ] = None,
    traces: Annotated[
        list[str] | None, typer.Option("--traces", help="Trace ids, comma-separated; repeat.")
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every trace labelled failed or failed_delayed.")
    ] = False,
    run: Annotated[str | None, typer.Option("--run", help="A run whose samples to add.")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="The run's subject whose outputs to review.")
    ] = None,
    sample: Annotated[
        list[str] | None, typer.Option("--sample", help="Sample ids of the run; repeat.")
    ] = None,
    sample_n: Annotated[
        int | None, typer.Option("--sample-n", min=1, help="Draw this many samples at random.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample-n.")] = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put items in a queue: draft cases (--from-drafts), traces (--traces ID,ID or --failed),
    or a run's samples (--run RUN [--sample ID ...] or --sample-n N --seed S)."""
    from assay.review import (
        add_items,
        draft_items,
        failed_trace_ids,
        get_queue,
        sample_items,
        trace_items,
    )

    trace_ids = _split(traces)
    if not (from_drafts or trace_ids or failed or run):
        raise AssayError(
            "say which items to add",
            where="review add",
            fix="use --from-drafts, --traces ID,ID, --failed or --run RUN",
        )
    if run is None and (sample or sample_n or subject):
        raise AssayError("--sample, --sample-n and --subject need --run", where="--run")
    if dataset is not None and not from_drafts:
        raise AssayError("--dataset filters draft cases", where="--dataset", fix="--from-drafts")
    store = _store(db)
    try:
        queue = get_queue(store, name)
        items = []
        if from_drafts:
            if queue.rubric.scale == "score" and queue.rubric.pass_at is None:
                raise AssayError(
                    f"queue {name!r} scores without pass_at, so a review cannot decide a draft",
                    where="--from-drafts",
                    fix="use a queue whose rubric is pass_fail or sets pass_at",
                )
            items += draft_items(store, dataset=dataset)
        if failed:
            trace_ids += failed_trace_ids(store)
        if trace_ids:
            items += trace_items(store, trace_ids)
        if run is not None:
            items += sample_items(
                store,
                run,
                subject=subject,
                sample_ids=_split(sample),
                sample_n=sample_n,
                seed=seed,
            )
        report = add_items(store, name, items)
    finally:
        store.close()
    if json_out:
        console.print_json(data={"added": report.added, "already": report.already})
        return
    console.print(
        f"added {len(report.added)} items to {name}"
        + (f" ({len(report.already)} already there)" if report.already else ""),
        markup=False,
    )


@review_app.command("assign")
def review_assign(
    name: Annotated[str, typer.Argument(help="The queue.")],
    to: Annotated[list[str], typer.Option("--to", help="Reviewers, comma-separated.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop assignments not yet labelled first.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Assign items to reviewers round-robin, each item to as many distinct reviewers as it
    wants reviews."""
    from assay.review import assign_reviewers

    store = _store(db)
    try:
        counts = assign_reviewers(store, name, _split(to), replace=replace)
    finally:
        store.close()
    if json_out:
        console.print_json(data=counts)
        return
    shown = ", ".join(f"{rater} {n}" for rater, n in counts.items())
    console.print(f"new assignments in {name}: {shown}", markup=False, highlight=False)


@review_app.command("items")
def review_items_cmd(
    name: Annotated[str, typer.Argument(help="The queue.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The queue's items: id, kind, what it is, labels so far and who it is assigned to."""
    from assay.review import get_queue, queue_items

    store = _store(db)
    try:
        queue = get_queue(store, name)
        items = queue_items(store, name)
    finally:
        store.close()
    if json_out:
        console.print_json(data=[item.as_dict() for item in items])
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("item", "kind", "ref", "labels", "assigned to", "verdicts"):
        table.add_column(column, justify="right" if column == "labels" else "left")
    for item in items:
        verdicts = ", ".join(
            f"{label.rater}: "
            + (
                label.verdict or "—"
                if queue.rubric.scale == "pass_fail"
                else f"{label.value:g}" + (f" ({label.verdict})" if label.verdict else "")
            )
            for label in item.labels
        )
        table.add_row(
            item.id[:10],
            item.kind,
            Text(item.ref),
            f"{len(item.labels)}/{queue.reviews_per_item}",
            Text(", ".join(item.assigned_to) or "—"),
            Text(verdicts or "—"),
        )
    console.print(table)


# -- labelling -----------------------------------------------------------------------------


def _show_item(item: ReviewItem, queue: ReviewQueue, position: str) -> None:
    from assay.review.content import item_facts, item_sections

    rubric = queue.rubric
    facts = " · ".join(f"{name} {value}" for name, value in item_facts(item))
    console.print(Text(f"{item.kind} {item.id[:10]}  {position}  {facts}", style="bold"))
    for title, body in item_sections(item):
        console.print(Panel(Text(body), title=Text(title), title_align="left", expand=True))
    console.print(Text(f"criteria: {rubric.criteria}", style="dim"))
    if rubric.labels:
        console.print(
            Text("scale: " + ", ".join(f"{p} = {n}" for p, n in rubric.labels.items())),
            style="dim",
        )


def _ask_label(queue: ReviewQueue) -> tuple[str | None, float | None] | str:
    """The reviewer's answer: (verdict, score), or ``skip``/``quit``."""
    rubric = queue.rubric
    if rubric.scale == "pass_fail":
        prompt = "verdict: p(ass), f(ail), s(kip) or q(uit)"
    else:
        prompt = f"score {rubric.min}-{rubric.max}, s(kip) or q(uit)"
    while True:
        answer = typer.prompt(prompt).strip().lower()
        if answer in ("q", "quit"):
            return "quit"
        if answer in ("s", "skip"):
            return "skip"
        if rubric.scale == "pass_fail" and answer in ("p", "pass", "f", "fail"):
            return ("pass" if answer.startswith("p") else "fail"), None
        if rubric.scale == "score":
            try:
                score = float(answer)
            except ValueError:
                score = None
            if score is not None and score.is_integer() and rubric.min <= score <= rubric.max:  # type: ignore[operator]
                return None, score
        err_console.print(f"not an answer: {answer!r}", markup=False, style="yellow")


@review_app.command("next")
def review_next(
    name: Annotated[str, typer.Argument(help="The queue.")],
    rater: AsOption,
    role: RoleOption = "labeler",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show a reviewer their next item (their assigned ones first, never one they labelled) and
    take the label: a verdict or a score, a note, a corrected answer; then the next, until
    none is left or q. With --json, print the next item and take nothing."""
    from assay.review import get_queue, label_item, next_item
    from assay.review.queue import check_reviewer, check_role

    rater, role = check_reviewer(rater), check_role(role)
    store = _store(db)
    try:
        queue = get_queue(store, name)
        if json_out:
            item = next_item(store, name, rater)
            data = {"queue": queue.as_dict(), "item": None if item is None else item.as_dict()}
            console.print_json(data=data)
            return
        skipped: list[str] = []
        labelled = 0
        while True:
            item = next_item(store, name, rater, skip=skipped)
            if item is None:
                console.print(
                    f"nothing left for {rater} in {name} ({labelled} labelled now)", markup=False
                )
                return
            _show_item(item, queue, f"{len(item.labels)}/{queue.reviews_per_item} reviews")
            answer = _ask_label(queue)
            if answer == "quit":
                console.print(f"{labelled} labelled now", markup=False)
                return
            if answer == "skip":
                skipped.append(item.id)
                continue
            assert not isinstance(answer, str)
            verdict, score = answer
            note = typer.prompt("note (Enter for none)", default="", show_default=False)
            correction = typer.prompt(
                "corrected answer (Enter for none)", default="", show_default=False
            )
            outcome = label_item(
                store,
                item.id,
                rater=rater,
                role=role,
                verdict=verdict,
                score=score,
                note=note or None,
                correction=correction or None,
            )
            labelled += 1
            _print_outcome(outcome, queue)
    finally:
        store.close()


def _print_outcome(outcome: Any, queue: ReviewQueue) -> None:
    label = outcome.label
    shown = label.verdict if queue.rubric.scale == "pass_fail" else f"{label.value:g}"
    text = (
        f"labelled {outcome.item.id[:10]} {shown} as {label.rater} ({label.role}); "
        f"{len(outcome.item.labels)}/{queue.reviews_per_item} reviews"
    )
    if outcome.case_status:
        text += f"; draft case {outcome.item.ref} {outcome.case_status}"
    console.print(text, markup=False, highlight=False)


@review_app.command("label")
def review_label(
    item: Annotated[str, typer.Argument(help="The item id (or its first characters).")],
    rater: AsOption,
    role: RoleOption = "labeler",
    verdict: Annotated[
        str | None, typer.Option("--verdict", help="pass or fail (pass_fail queues).")
    ] = None,
    score: Annotated[float | None, typer.Option("--score", help="A score (score queues).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    correction: Annotated[
        str | None, typer.Option("--correction", help="The corrected answer.")
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", help="Look for the item in this queue only.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Label an item without prompting (labelling it again replaces your earlier label)."""
    from assay.review import get_queue, label_item

    store = _store(db)
    try:
        outcome = label_item(
            store,
            item,
            rater=rater,
            role=role,
            verdict=verdict,
            score=score,
            note=note,
            correction=correction,
            queue=queue,
        )
        info = get_queue(store, outcome.item.queue)
    finally:
        store.close()
    if json_out:
        console.print_json(data=outcome.as_dict())
        return
    _print_outcome(outcome, info)


@review_app.command("status")
def review_status(
    name: Annotated[str, typer.Argument(help="The queue.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A queue's progress, verdicts, reviewers, drafts decided and inter-rater agreement."""
    from assay.review import queue_status

    store = _store(db)
    try:
        status = queue_status(store, name)
    finally:
        store.close()
    if json_out:
        console.print_json(data=status)
        return
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(status["by_kind"].items())) or "empty"
    share = "—" if status["progress"] is None else f"{status['progress']:.0%}"
    lines = [
        f"queue {status['name']}: {status['rubric']['scale']}, "
        f"{status['reviews_per_item']} review(s) per item; {status['items']} items ({kinds})",
        f"progress: {status['complete']}/{status['items']} items complete, "
        f"{status['labels']}/{status['labels_wanted']} labels ({share})",
        f"verdicts: {status['verdicts']['pass']} pass, {status['verdicts']['fail']} fail"
        + (f"; mean score {status['mean_score']:.2f}" if status["mean_score"] is not None else ""),
        _agreement_line(status["agreement"]),
    ]
    if status["drafts"]:
        lines.append(
            "drafts: " + ", ".join(f"{n} {k}" for k, n in sorted(status["drafts"].items()))
        )
    for line in lines:
        console.print(line, markup=False, highlight=False)
    if status["reviewers"]:
        table = Table(show_edge=False, header_style="bold")
        for column in ("reviewer", "role", "labelled", "assigned, open"):
            table.add_column(column, justify="left" if column in ("reviewer", "role") else "right")
        for r in status["reviewers"]:
            table.add_row(
                Text(r["rater"]), r["role"] or "—", str(r["labelled"]), str(r["assigned_open"])
            )
        console.print(table)
