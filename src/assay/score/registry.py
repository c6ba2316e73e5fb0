"""Scorers by name: the built-ins plus any registered under the ``assay.scorers`` entry point.

A factory is called with the scorer's options as keyword arguments; one that takes a
``context`` argument also gets the :class:`~assay.score.base.ScorerContext` (the spec's folder,
its providers and lineage table), which file-, code- and model-backed scorers need. A factory
with a ``shorthand`` attribute accepts a bare value in a spec (``{python: "checks:grade"}``
means ``{python: {function: "checks:grade"}}``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from assay.core import AssayError, SpecError
from assay.score.base import Scorer, ScorerContext
from assay.score.choice import choice
from assay.score.conversation import conversation_goal
from assay.score.embedding import embedding
from assay.score.json_check import json_schema, json_valid
from assay.score.judges import pairwise_consistency, pairwise_preference, rubric
from assay.score.match import exact, includes
from assay.score.numeric import numeric
from assay.score.python_fn import python
from assay.score.regex import regex
from assay.score.text_checks import format_check, length
from assay.score.trajectory import trajectory, trajectory_judge

_BUILTIN: dict[str, Callable[..., Scorer]] = {
    "exact": exact,
    "includes": includes,
    "regex": regex,
    "numeric": numeric,
    "choice": choice,
    "json": json_valid,
    "json_schema": json_schema,
    "length": length,
    "format": format_check,
    "python": python,
    "embedding": embedding,
    "rubric": rubric,
    "pairwise_preference": pairwise_preference,
    "position_consistency": pairwise_consistency,
    "trajectory": trajectory,
    "trajectory_judge": trajectory_judge,
    "conversation_goal": conversation_goal,
}


def scorer_factories() -> dict[str, Callable[..., Scorer]]:
    """Every scorer factory by name (entry points can add names, not replace built-ins)."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="assay.scorers"):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def _takes_context(factory: Callable[..., Any]) -> bool:
    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def create_scorer(
    name: str,
    config: dict[str, Any] | str | None = None,
    *,
    where: str | None = None,
    context: ScorerContext | None = None,
) -> Scorer:
    """Build the scorer called ``name`` with ``config``; unknown names get a did-you-mean.

    ``config`` may be a bare string for factories with a ``shorthand`` option.
    """
    factories = scorer_factories()
    if name not in factories:
        close = difflib.get_close_matches(name, list(factories), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(sorted(factories))
        raise SpecError(f"unknown scorer '{name}'", where=where, fix=hint)
    factory = factories[name]
    if isinstance(config, str):
        shorthand = getattr(factory, "shorthand", None)
        if shorthand is None:
            raise SpecError(
                f"scorer '{name}' takes a mapping of options, not {config!r}",
                where=where,
                fix=f"write {{{name}: {{option: value}}}}",
            )
        config = {shorthand: config}
    options = dict(config or {})
    if _takes_context(factory):
        options["context"] = context
    try:
        return factory(**options)
    except AssayError as exc:
        if where and not exc.where:
            exc.where = where
            exc.args = (exc.render(),)
        raise
    except (TypeError, ValueError) as exc:
        raise SpecError(f"bad options for scorer '{name}': {exc}", where=where) from None
