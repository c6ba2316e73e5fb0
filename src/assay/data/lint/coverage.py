"""What the dataset is made of: production origin (the "museum") and a control set (A5).

* ``museum``: no sample's provenance ``origin`` is ``sampled`` (drawn from production traffic)
  or ``incident`` (born from a production failure). An eval written only by hand or by a model
  tests what its authors imagined, not what users send; it drifts away from production and
  nobody notices ("Your Eval Harness Is a Museum").
* ``no_control_set``: no sample is marked as a control. Convention: a sample is a control when
  its metadata ``control`` is true (``true``, ``1``, ``yes``; case-insensitive text or a
  boolean) or any of its slice labels (metadata ``slice``, or a slice key in use) is
  ``control``. Controls are items whose outcome is known in advance (trivially right, or
  deliberately broken answers); when their scores move, the harness, the scorer or the judge
  moved, not the model, which is how a pipeline fault is told from a model regression.
"""

from __future__ import annotations

from collections import Counter

from assay.core.sample import Sample
from assay.data.lint.context import LintContext
from assay.data.lint.report import Smell

PRODUCTION_ORIGINS = frozenset({"sampled", "incident"})
CONTROL_KEY = "control"
CONTROL_LABEL = "control"
_TRUE = frozenset({"true", "1", "yes"})


def is_control(sample: Sample, slice_keys: tuple[str, ...] = ("slice",)) -> bool:
    """Whether ``sample`` is marked as a control (convention in the module docstring)."""
    flag = sample.metadata.get(CONTROL_KEY)
    if flag is True or (isinstance(flag, (str, int)) and str(flag).strip().lower() in _TRUE):
        return True
    return any(sample.slice_value(k) == CONTROL_LABEL for k in slice_keys)


def check_museum(ctx: LintContext) -> list[Smell]:
    """``museum``: no production-origin sample (module docstring)."""
    origins: Counter[str] = Counter(s.provenance.origin for s in ctx.dataset)
    if any(origins[o] for o in PRODUCTION_ORIGINS):
        return []
    return [
        Smell(
            code="museum",
            severity="warning",
            message="no sample comes from production (provenance origin sampled or incident); "
            f"origins: {', '.join(f'{k} {v}' for k, v in sorted(origins.items()))}",
            fix="add samples drawn from production traffic (`assay data sample`) and turn "
            "production failures into cases (provenance origin: incident)",
            details={"origins": dict(sorted(origins.items()))},
        )
    ]


def check_control_set(ctx: LintContext, slice_keys: tuple[str, ...]) -> list[Smell]:
    """``no_control_set``: no sample marked as a control (module docstring)."""
    keys = tuple(dict.fromkeys(("slice", *slice_keys)))
    if any(is_control(s, keys) for s in ctx.dataset):
        return []
    return [
        Smell(
            code="no_control_set",
            severity="warning",
            message="no sample is marked as a control, so a broken harness, scorer or judge "
            "looks the same as a model regression",
            fix='add a few samples with known outcomes and metadata "control": true (or slice '
            '"control")',
            details={"convention": "metadata control: true, or a slice label 'control'"},
        )
    ]
