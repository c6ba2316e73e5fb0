"""A review queue's rubric: the scale reviewers label on, what they judge, and names of the points.

A rubric file is YAML::

    scale: score          # pass_fail, or score (then min and max are required)
    min: 1
    max: 5
    pass_at: 4            # optional: a score >= 4 counts as a pass (needed to decide drafts)
    criteria: |
      Is the answer correct, grounded in the retrieved documents, and polite?
    labels:               # optional: names of the scale's points, shown beside them
      1: unusable
      5: perfect

For ``pass_fail`` the label keys are ``pass`` and ``fail``. Mistakes are reported at the
file's line, as a spec's are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assay.core import SpecError
from assay.run.yamlfile import LocatedYaml, load_yaml

Scale = Literal["pass_fail", "score"]
_KEYS = ("scale", "min", "max", "pass_at", "criteria", "labels")
#: The most points a score scale may have (a reviewer picks one; more is a slider, not a rubric).
MAX_POINTS = 101


@dataclass(frozen=True)
class Rubric:
    """How a queue's items are labelled: ``pass_fail``, or an integer ``score`` in
    [``min``, ``max``] (a score at or above ``pass_at`` counts as a pass); ``criteria`` is
    what the reviewer judges; ``labels`` names points of the scale (``"pass"``/``"fail"``,
    or scores as text)."""

    scale: Scale
    criteria: str
    min: int | None = None
    max: int | None = None
    pass_at: int | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scale": self.scale, "criteria": self.criteria}
        if self.scale == "score":
            out.update(min=self.min, max=self.max, pass_at=self.pass_at)
        out["labels"] = dict(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rubric:
        """The rubric stored with a queue (written by :meth:`as_dict`)."""
        return cls(
            scale=data["scale"],
            criteria=data["criteria"],
            min=data.get("min"),
            max=data.get("max"),
            pass_at=data.get("pass_at"),
            labels=dict(data.get("labels") or {}),
        )

    @property
    def points(self) -> list[str]:
        """The scale's points as text: ``pass``, ``fail`` or each score."""
        if self.scale == "pass_fail":
            return ["pass", "fail"]
        assert self.min is not None and self.max is not None
        return [str(v) for v in range(self.min, self.max + 1)]

    def passes(self, verdict: str | None, value: float | None) -> bool | None:
        """Whether a label counts as a pass; None when the rubric cannot say (a score scale
        without ``pass_at``)."""
        if self.scale == "pass_fail":
            return None if verdict is None else verdict == "pass"
        if self.pass_at is None or value is None:
            return None
        return value >= self.pass_at


def _integer(doc: LocatedYaml, key: str) -> int:
    value = doc.data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(
            f"{key} must be a whole number, not {value!r}",
            where=doc.where((key,)),
            fix=f"write e.g. {key}: {1 if key == 'min' else 5}",
        )
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise SpecError(
            f"{key} must be a whole number, not {value!r}",
            where=doc.where((key,)),
            fix="score scales are whole points (1-5, 0-10)",
        )
    return int(value)


def rubric_from_yaml(doc: LocatedYaml) -> Rubric:
    """Validate a parsed rubric file; every mistake names its line."""
    data = doc.data
    if not isinstance(data, dict):
        raise SpecError(
            "a rubric is a mapping with scale and criteria",
            where=doc.where(()),
            fix="write e.g. 'scale: pass_fail' and 'criteria: Is the answer correct?'",
        )
    for key in data:
        if key not in _KEYS:
            raise SpecError(
                f"unknown rubric key {key!r}",
                where=doc.where((key,)),
                fix=f"use only {', '.join(_KEYS)}",
            )
    scale = data.get("scale")
    if scale not in ("pass_fail", "score"):
        raise SpecError(
            f"scale must be pass_fail or score, not {scale!r}",
            where=doc.where(("scale",)),
            fix="write 'scale: pass_fail', or 'scale: score' with min and max",
        )
    criteria = data.get("criteria")
    if not isinstance(criteria, str) or not criteria.strip():
        raise SpecError(
            "criteria must say what the reviewer judges",
            where=doc.where(("criteria",)),
            fix="write e.g. 'criteria: Is the answer correct and grounded in the documents?'",
        )
    low = high = pass_at = None
    if scale == "score":
        for key in ("min", "max"):
            if key not in data:
                raise SpecError(
                    f"a score scale needs {key}",
                    where=doc.where(()),
                    fix="write e.g. 'min: 1' and 'max: 5'",
                )
        low, high = _integer(doc, "min"), _integer(doc, "max")
        if not low < high or high - low + 1 > MAX_POINTS:
            raise SpecError(
                f"min {low} and max {high} do not make a scale",
                where=doc.where(("max",)),
                fix=f"max must exceed min, by at most {MAX_POINTS - 1} points",
            )
        if "pass_at" in data:
            pass_at = _integer(doc, "pass_at")
            if not low <= pass_at <= high:
                raise SpecError(
                    f"pass_at {pass_at} lies outside the scale {low}-{high}",
                    where=doc.where(("pass_at",)),
                    fix="give the lowest score that counts as a pass",
                )
    else:
        for key in ("min", "max", "pass_at"):
            if key in data:
                raise SpecError(
                    f"{key} belongs to a score scale, not pass_fail",
                    where=doc.where((key,)),
                    fix=f"remove {key}, or write 'scale: score'",
                )
    rubric = Rubric(scale=scale, criteria=criteria.strip(), min=low, max=high, pass_at=pass_at)
    labels = data.get("labels")
    if labels is None:
        return rubric
    if not isinstance(labels, dict):
        raise SpecError(
            "labels must map points of the scale to names",
            where=doc.where(("labels",)),
            fix="write e.g. 'labels: {1: unusable, 5: perfect}' or '{pass: fine, fail: wrong}'",
        )
    points = rubric.points
    names: dict[str, str] = {}
    for key, name in labels.items():
        point = str(key).strip()
        if point not in points:
            raise SpecError(
                f"label key {key!r} is not a point of the scale",
                where=doc.where(("labels", str(key))),
                fix=f"use points of the scale: {', '.join(points[:12])}",
            )
        if not isinstance(name, str) or not name.strip():
            raise SpecError(
                f"the name of point {point} must be text",
                where=doc.where(("labels", str(key))),
                fix="write e.g. '5: perfect'",
            )
        names[point] = name.strip()
    return Rubric(rubric.scale, rubric.criteria, low, high, pass_at, names)


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file (see the module's docstring for its form)."""
    return rubric_from_yaml(load_yaml(path))
