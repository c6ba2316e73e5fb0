"""The sample-size planner's form (``/plan``): reading its fields, and ``assay plan --json``
for them with errors in the form's words.

The numbers come from :func:`assay.analyse.plan_proportions` and
:func:`assay.analyse.plan_from_runs`, the functions ``assay plan`` calls. Each field is read on
its own, so letters in a number are an error naming that field ("Baseline pass rate: '0.8a' is
not a number") rather than a blank; errors the analysis raises with CLI option names
(``--pairs-from``) or formula symbols (``p0``) are reworded in the form's labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from assay.analyse import plan_from_runs, plan_proportions
from assay.core import AssayError
from assay.store import Store
from assay.web.views import NotFound, jsonable, resolve_run


@dataclass(frozen=True)
class PlanForm:
    """The planner's inputs, as ``assay plan`` takes them."""

    baseline: float | None = None
    target: float | None = None
    delta: float | None = None
    n: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    run_a: str | None = None
    run_b: str | None = None
    scorer: str | None = None
    epochs: int | None = None
    budget: float | None = None

    @property
    def empty(self) -> bool:
        """Nothing asked yet (the page's first visit): every field but α and power blank."""
        return all(
            getattr(self, name) is None
            for name in ("baseline", "target", "delta", "n", "run_a", "run_b", "epochs", "budget")
        )


#: The planner form's fields in the words the page shows (errors name these, never options).
PLAN_FIELDS = {
    "baseline": "Baseline pass rate",
    "target": "Expected pass rate",
    "delta": "Difference to detect",
    "n": "Sample size",
    "alpha": "Significance level (α)",
    "power": "Power",
    "run_a": "Run A",
    "run_b": "Run B",
    "scorer": "Scorer",
    "epochs": "Epochs",
    "budget": "Budget (answers)",
}
_PLAN_NUMBERS: dict[str, tuple[type, float, float, bool]] = {
    # field: (type, low, high, bounds included)
    "baseline": (float, 0.0, 1.0, False),
    "target": (float, 0.0, 1.0, False),
    "delta": (float, -1e6, 1e6, True),
    "n": (int, 2, 10**9, True),
    "alpha": (float, 1e-4, 0.5, True),
    "power": (float, 0.5, 0.999, True),
    "epochs": (int, 1, 1000, True),
    "budget": (float, 1e-9, 1e12, True),
}
#: Where the analysis functions point (CLI options) → the form's words.
_PLAN_WHERE = {
    "--pairs-from": "Run A and run B",
    "--target/--delta": "Expected pass rate / difference to detect",
    "--target": PLAN_FIELDS["target"],
    "--delta": PLAN_FIELDS["delta"],
    "--n": PLAN_FIELDS["n"],
    "--scorer": PLAN_FIELDS["scorer"],
    "--epochs": PLAN_FIELDS["epochs"],
    "--budget": PLAN_FIELDS["budget"],
    "assay plan": "Plan",
}


class PlanFieldError(AssayError):
    """Raised when a planner field holds something that is not a valid number for it."""

    code = "invalid_field"

    def __init__(self, field: str, message: str, fix: str | None = None) -> None:
        super().__init__(message, where=PLAN_FIELDS[field], fix=fix)
        self.field = field


def plan_number(field: str, text: str | None) -> float | int | None:
    """One planner field from its text: ``None`` when blank, else a number in the field's
    range; letters, ``nan``, ``inf`` or a fraction where a count belongs are a
    :class:`PlanFieldError` naming the field as the page labels it."""
    text = (text or "").strip()
    if not text:
        return None
    cast, low, high, closed = _PLAN_NUMBERS[field]
    try:
        value = float(text.replace(",", "")) if cast is float else int(text)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise PlanFieldError(field, f"{text!r} is not {kind}") from None
    if not math.isfinite(value):
        raise PlanFieldError(field, f"{text!r} is not a finite number")
    inside = low <= value <= high if closed else low < value < high
    if not inside:
        if field in ("baseline", "target"):
            raise PlanFieldError(
                field, f"must be a rate strictly between 0 and 1, got {text}", fix="e.g. 0.82"
            )
        raise PlanFieldError(field, f"must be between {low:g} and {high:g}, got {text}")
    return value


def plan_form(query: Any) -> PlanForm:
    """The planner's inputs from a query (``request.query_params`` or a dict of text)."""
    numbers = {name: plan_number(name, query.get(name)) for name in _PLAN_NUMBERS}
    text = {name: (query.get(name) or "").strip() or None for name in ("run_a", "run_b", "scorer")}
    return PlanForm(
        baseline=numbers["baseline"],
        target=numbers["target"],
        delta=numbers["delta"],
        n=numbers["n"],
        alpha=0.05 if numbers["alpha"] is None else numbers["alpha"],
        power=0.8 if numbers["power"] is None else numbers["power"],
        run_a=text["run_a"],
        run_b=text["run_b"],
        scorer=text["scorer"],
        epochs=numbers["epochs"],
        budget=numbers["budget"],
    )


def _plan_words(error: AssayError) -> AssayError:
    """An analysis error in the planner form's words (its fields, not CLI options or the
    formula's symbols)."""
    message = error.message.replace("p0 and p1 are equal", "the two rates are equal")
    message = message.replace("p0", "the baseline rate").replace("p1", "the expected rate")
    where = _PLAN_WHERE.get(error.where or "", error.where)
    fix = error.fix
    if fix:
        for option, words in _PLAN_WHERE.items():
            fix = fix.replace(f"add {option} ", f"fill in {words.lower()}, e.g. ")
            fix = fix.replace(option, words.lower())
    return AssayError(message, where=where, fix=fix)


def plan_result(store: Store, form: PlanForm) -> dict[str, Any]:
    """What ``assay plan --json`` prints for the same inputs: ``proportions`` (two independent
    rates) and/or ``paired`` (a paired design estimated from two runs). Errors name the
    planner's fields as its form labels them."""
    try:
        return _plan_result(store, form)
    except (NotFound, PlanFieldError):
        raise
    except AssayError as error:
        raise _plan_words(error) from error


def _plan_result(store: Store, form: PlanForm) -> dict[str, Any]:
    if form.target is not None and form.baseline is None:
        raise PlanFieldError(
            "target", "an expected pass rate needs a baseline pass rate", fix="e.g. 0.82"
        )
    if form.target is not None and form.delta is not None:
        raise PlanFieldError(
            "delta", "give an expected pass rate or a difference to detect, not both"
        )
    if (form.run_a is None) != (form.run_b is None):
        missing = "run_b" if form.run_b is None else "run_a"
        raise PlanFieldError(
            missing, "a paired plan needs two earlier runs", fix="pick both run A and run B"
        )
    out: dict[str, Any] = {}
    if form.baseline is not None and (form.target is not None or form.n is not None):
        out["proportions"] = jsonable(
            plan_proportions(
                form.baseline, form.target, n=form.n, alpha=form.alpha, power=form.power
            )
        )
    if form.run_a is not None and form.run_b is not None:
        difference = form.delta
        if difference is None and form.target is not None and form.baseline is not None:
            difference = form.target - form.baseline
        if difference is None:
            raise PlanFieldError(
                "delta",
                "a paired plan needs the difference to detect",
                fix="give the baseline and expected pass rates, or a difference such as 0.03",
            )
        out["paired"] = jsonable(
            plan_from_runs(
                store,
                resolve_run(store, form.run_a),
                resolve_run(store, form.run_b),
                delta=difference,
                scorer=form.scorer,
                epochs=form.epochs,
                budget=form.budget,
                alpha=form.alpha,
                power=form.power,
            )
        )
    if not out:
        raise AssayError(
            "nothing to plan",
            where="Plan",
            fix="give a baseline pass rate (0.82) and an expected pass rate (0.85) or a sample "
            "size (400), or two runs and a difference to detect",
        )
    return out
