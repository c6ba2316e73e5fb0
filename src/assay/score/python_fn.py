"""A user's own Python function as a scorer: ``{python: "module:function"}`` in a spec.

The module is imported with the spec's folder on ``sys.path`` (like callable subjects). The
function takes ``(sample, output)`` — sync or async — and returns one of:

- a number or a bool (``True`` is 1.0): the score's value;
- ``None``: ungradable (an error, not a zero);
- a ``(value, explanation)`` tuple;
- a mapping with ``value`` and optionally ``answer``, ``explanation``, ``metadata``;
- an :class:`~assay.core.Score` (its scorer name is replaced by this scorer's).

An exception inside the function is an error of that score, with the exception's type and
message; it never loses the output. The scorer's version is a hash of the function's source,
so editing the function shows in the manifest.
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from collections.abc import Mapping
from typing import Any

from assay.core import Output, Sample, Score, content_hash
from assay.score.base import ScorerContext


def import_function(ref: str, context: ScorerContext | None = None) -> Any:
    """The callable ``module:attr`` names, importing with the spec folder on ``sys.path``."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{ref!r} is not module:function (write e.g. checks.grading:score)")
    base = context.base_dir if context is not None else None
    if base is not None and str(base) not in sys.path:
        sys.path.insert(0, str(base))
    try:
        fn: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            fn = getattr(fn, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {ref!r}: {exc}") from None
    if not callable(fn):
        raise ValueError(f"{ref!r} is not callable")
    return fn


class PythonScorer:
    """Grades with a user's function (see the module docstring)."""

    name = "python"
    kind = "python"
    #: ``{python: "module:function"}`` in a spec is ``{python: {function: "module:function"}}``.
    shorthand = "function"

    def __init__(
        self, *, function: str, name: str | None = None, context: ScorerContext | None = None
    ) -> None:
        python = function
        self.fn = import_function(python, context)
        self.ref = python
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = python
        self.version = "py-" + content_hash(source, length=12)
        self.name = name or python.rpartition(":")[2].rpartition(".")[2]
        self.config: dict[str, Any] = {"function": python}

    def _score(self, result: Any) -> Score:
        if isinstance(result, Score):
            return result.model_copy(update={"scorer": self.name})
        explanation = answer = None
        metadata: dict[str, Any] = {}
        if isinstance(result, tuple) and len(result) == 2:
            result, explanation = result
        elif isinstance(result, Mapping):
            if "value" not in result:
                return Score(
                    scorer=self.name,
                    value=None,
                    error=f"{self.ref} returned a mapping without 'value'",
                )
            explanation, answer = result.get("explanation"), result.get("answer")
            metadata = dict(result.get("metadata") or {})
            result = result["value"]
        if result is None:
            return Score(
                scorer=self.name,
                value=None,
                error=f"{self.ref} could not grade this output"
                + (f": {explanation}" if explanation else ""),
            )
        if isinstance(result, (bool, int, float)):
            value = float(result)
            if not math.isfinite(value):
                return Score(scorer=self.name, value=None, error=f"{self.ref} returned {value}")
            return Score(
                scorer=self.name,
                value=value,
                answer=None if answer is None else str(answer),
                explanation=None if explanation is None else str(explanation),
                metadata=metadata,
            )
        return Score(
            scorer=self.name,
            value=None,
            error=f"{self.ref} returned {type(result).__name__}; expected a number, bool, "
            "None, (value, explanation), a mapping with 'value', or a Score",
        )

    async def score(self, sample: Sample, output: Output) -> Score:
        try:
            result = self.fn(sample, output)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # the user's code may raise anything
            return Score(scorer=self.name, value=None, error=f"{type(exc).__name__}: {exc}")
        return self._score(result)


def python(context: ScorerContext | None = None, **options: Any) -> PythonScorer:
    """A user's function ``(sample, output) -> value``; option: function (``module:function``)."""
    return PythonScorer(context=context, **options)


python.shorthand = "function"  # type: ignore[attr-defined]
