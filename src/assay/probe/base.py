"""The probe framework: a probe expands an eval into variants and analyses the stored run.

A probe is an experiment type (issue 16). It takes an eval (dataset, subject, scorers) and
expands every sample into one sample per *variant* (k examples, a gold-passage position, a
session, a locale …), with the variant in the sample's metadata under the probe's
``variant_key`` and the base item's id under ``probe_item``. The expanded eval runs as one
ordinary stored run whose slices include the variant, so ``assay show``, ``compare``,
``export`` and the web UI work on it unchanged. The probe's :meth:`Probe.analyse` then reads
the run back and returns a :class:`ProbeResult`: a curve with an interval per variant, a
verdict, and the figure the verdict rests on.

Probes are plugins: the built-ins plus anything registered under the ``assay.probes`` entry
point group (a :class:`Probe` subclass), or in-process with :func:`register_probe`.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from assay.core import Sample, SpecError
from assay.stats import Interval, mean_interval

ENTRY_POINT_GROUP = "assay.probes"
ITEM_KEY = "probe_item"


class ProbeOptions(BaseModel):
    """A probe's ``probe:`` section. Every kind extends it; ``metric`` names the scorer the
    curve is drawn from (default: the eval's first scorer)."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = None
    assignment: list[str] = Field(default_factory=list)  # randomization attributes (B6)


@dataclass(frozen=True)
class CurvePoint:
    """One variant's value with its interval (over base items; epochs averaged first)."""

    variant: str
    interval: Interval

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, **_interval_dict(self.interval)}


@dataclass(frozen=True)
class ProbeResult:
    """What a probe found: per subject, a curve over variants, a verdict and its figure.

    ``verdict`` is the probe's named finding (``peak_regression``, ``middle_blindness`` …) or
    a named clean outcome; ``flagged`` says whether it is a problem. ``figure`` is the sentence
    the verdict rests on and ``figures`` the numbers behind it; ``details`` holds extra tables
    (e.g. a reliability diagram)."""

    kind: str
    run_id: str | None
    subject: str
    metric: str
    variant_key: str
    curve: list[CurvePoint]
    verdict: str
    flagged: bool
    figure: str
    rule: str
    figures: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["curve"] = [p.as_dict() for p in self.curve]
        out["figures"] = _jsonable(self.figures)
        out["details"] = _jsonable(self.details)
        return out


def _interval_dict(i: Interval) -> dict[str, Any]:
    return {
        "estimate": _finite(i.estimate),
        "low": _finite(i.low),
        "high": _finite(i.high),
        "n": i.n,
        "method": i.method,
    }


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _jsonable(value: Any) -> Any:
    if isinstance(value, Interval):
        return _interval_dict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _finite(value)


@dataclass
class ProbeTable:
    """A stored probe run, read back: per subject, item and variant, the metric's values over
    epochs and the output texts. ``variants`` keeps the probe's variant order."""

    run_id: str | None
    metric: str
    variants: list[str]
    values: dict[str, dict[str, dict[str, list[float]]]]  # subject -> item -> variant -> values
    texts: dict[str, dict[str, dict[str, list[str]]]]  # subject -> item -> variant -> outputs
    metadata: dict[str, dict[str, Any]]  # expanded sample id -> metadata

    def subjects(self) -> list[str]:
        return sorted(set(self.values) | set(self.texts))

    def item_means(self, subject: str, variant: str) -> dict[str, float]:
        """Each base item's mean over epochs at ``variant`` (items without a value left out)."""
        out: dict[str, float] = {}
        for item, by_variant in self.values.get(subject, {}).items():
            vals = by_variant.get(variant)
            if vals:
                out[item] = float(sum(vals) / len(vals))
        return out

    def curve(self, subject: str, variants: Sequence[str] | None = None) -> list[CurvePoint]:
        """The metric per variant with its interval (Wilson for pass/fail, t otherwise)."""
        points = []
        for v in variants or self.variants:
            means = list(self.item_means(subject, v).values())
            if means:
                points.append(CurvePoint(v, mean_interval(means)))
        return points

    def paired(self, subject: str, a: str, b: str) -> tuple[list[float], list[float]]:
        """Per-item means at variants ``a`` and ``b`` over the items that have both."""
        ma, mb = self.item_means(subject, a), self.item_means(subject, b)
        items = sorted(set(ma) & set(mb))
        return [ma[i] for i in items], [mb[i] for i in items]


class Probe:
    """Base class of a probe kind. Subclasses set ``kind``, ``variant_key``, ``options`` (a
    :class:`ProbeOptions` subclass) and implement :meth:`variants`, :meth:`expand_sample`
    and :meth:`analyse`."""

    kind: ClassVar[str] = ""
    variant_key: ClassVar[str] = "variant"
    options: ClassVar[type[ProbeOptions]] = ProbeOptions
    description: ClassVar[str] = ""
    #: Where files the options name are read from (the spec's folder).
    base_dir: Path = Path(".")

    def __init__(self, config: ProbeOptions) -> None:
        self.config = config

    def variants(self) -> list[str]:
        """The variant labels, in curve order."""
        raise NotImplementedError

    def prepare(self, samples: Sequence[Sample], where: str) -> None:
        """Called once with the base samples before expansion (e.g. to build an example pool)."""
        return None

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        """The sample shown at ``variant`` (``None``: this item has no such variant)."""
        raise NotImplementedError

    def expand(self, samples: Iterable[Sample], where: str = "probe") -> list[Sample]:
        """Every base sample at every variant, ids ``<id>@<key>=<variant>``."""
        base = list(samples)
        self.prepare(base, where)
        out: list[Sample] = []
        for variant in self.variants():
            for sample in base:
                new = self.expand_sample(sample, variant)
                if new is None:
                    continue
                metadata = {**new.metadata, self.variant_key: variant, ITEM_KEY: sample.id}
                out.append(
                    new.model_copy(
                        update={
                            "id": f"{sample.id}@{self.variant_key}={variant}",
                            "metadata": metadata,
                            "cluster": sample.cluster or sample.id,
                        }
                    )
                )
        if not out:
            raise SpecError("the probe produced no samples", where=where, fix="check the dataset")
        return out

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        """The curve, verdict and figure for one subject."""
        raise NotImplementedError

    def result(
        self,
        table: ProbeTable,
        subject: str,
        curve: list[CurvePoint],
        verdict: str,
        flagged: bool,
        figure: str,
        rule: str,
        figures: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> ProbeResult:
        return ProbeResult(
            kind=self.kind,
            run_id=table.run_id,
            subject=subject,
            metric=table.metric,
            variant_key=self.variant_key,
            curve=curve,
            verdict=verdict,
            flagged=flagged,
            figure=figure,
            rule=rule,
            figures=figures or {},
            details=details or {},
        )


_registered: dict[str, type[Probe]] = {}


def register_probe(cls: type[Probe]) -> type[Probe]:
    """Register a probe kind in this process (usable as a class decorator)."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no `kind`")
    _registered[cls.kind] = cls
    return cls


def probe_kinds() -> list[str]:
    """Every probe kind: built-in, registered, and from ``assay.probes`` entry points."""
    return sorted(set(_registered) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def probe_class(kind: str, where: str = "probe") -> type[Probe]:
    """The probe class for ``kind`` (SpecError naming the known kinds otherwise)."""
    if kind in _registered:
        return _registered[kind]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Probe)):
                raise SpecError(
                    f"entry point {ep.value!r} for probe {kind!r} is not a Probe subclass",
                    where=where,
                )
            return cls
    known = probe_kinds()
    close = difflib.get_close_matches(kind, known, n=1)
    raise SpecError(
        f"unknown probe kind {kind!r}",
        where=where,
        fix=(f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}",
    )


def group_by(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def pts(x: float) -> str:
    """A proportion difference in percentage points, e.g. ``66``."""
    return f"{100 * x:.0f}"
