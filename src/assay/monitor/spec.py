"""``monitors.yaml``: routes, the signals watched on each, objectives, alert sinks, online judges.

```yaml
window: 1h                  # one point of every series per window
lookback: 7d                # the history one pass analyses (change points, budgets)
baseline: 200               # observations that define "normal" before a series is watched
false_alarms_per_1000: 0.05 # stated change-point false alarms per 1,000 observations, per series
environment: production     # default route filter
routes:
  - name: json-extract
    match: {route: json-extract}          # route, environment, service, attributes: {k: v}
    segment_by: app.segment                # optional: a series per segment as well
    signals:
      - format_validity: {schema: schemas/invoice.json}   # JSON parse (+ schema) rate
      - refusal_rate
      - output_length
      - error_rate
    slos:
      - {signal: format_validity, objective: 0.99, period: 28d}
sinks:
  - {webhook: {url: "https://hooks.example/assay"}}
  - {slack: {url: "https://hooks.slack.com/services/…"}}
  - {file: {path: alerts.jsonl}}           # "-" prints to stdout
judges:
  - name: helpfulness
    routes: [support-qa]
    scope: trace                           # span | trace | session
    quiet: 10m                             # judged once no new span arrived for this long
    sample: {rate: 0.1, by: [app.segment], always: [failed, flagged], max: 200, seed: 7}
    scorers: [{rubric: sim/judge-fair}]
    anchors: anchors.jsonl                 # frozen input/output pairs the judge re-grades
    anchors_every: 6h                      # … on this schedule (assay serve --monitor)
canaries:                                  # G4: a pinned eval against the live endpoint
  - {name: nightly-qa, every: 1h, eval: canary.yaml}   # watched as route canary:nightly-qa
every: 5m                                  # how often `assay serve --monitor` runs a pass
```

Check signals flag instead of charting (:mod:`assay.monitor.checks`):
``segment_satisfaction`` (E4), ``acceptance`` (E5), ``coverage_gap`` (E6) and
``tokenizer_drift`` (G7).

Every mistake is a :class:`~assay.core.SpecError` naming ``file:line (key)`` and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assay.core import SpecError
from assay.run.yamlfile import LocatedYaml, load_yaml, parse_yaml

#: Signal name → (kind, the direction that is worse, the alert kind a worse change raises).
#: ``binary`` signals are per-observation 0/1 where 1 is bad; ``numeric`` are numbers.
SIGNALS: dict[str, tuple[str, str, str]] = {
    "error_rate": ("binary", "up", "error_regression"),
    "format_validity": ("binary", "up", "format_regression"),
    "refusal_rate": ("binary", "up", "refusal_drift"),
    "output_length": ("numeric", "both", "length_drift"),
    "judge_score": ("numeric", "down", "judge_score_drop"),
    "outcome_failure": ("binary", "up", "outcome_regression"),
    "feedback": ("binary", "up", "satisfaction_drop"),
    "latency": ("numeric", "up", "latency_regression"),
    "cost": ("numeric", "up", "cost_regression"),
    "canary_failure": ("binary", "up", "canary_regression"),
    # Checks over the lookback, not series (assay.monitor.checks): E4, E5, E6, G7.
    "segment_satisfaction": ("check", "down", "segment_fails"),
    "acceptance": ("check", "both", "automation_bias"),
    "coverage_gap": ("check", "up", "coverage_gap"),
    "tokenizer_drift": ("check", "both", "tokenizer_drift"),
}
SIGNAL_HELP = {
    "error_rate": "share of traces with an error status",
    "format_validity": "share of final LLM outputs that do not parse as JSON (or fail a schema)",
    "refusal_rate": "share of final LLM outputs that refuse (pattern or content_filter)",
    "output_length": "output tokens of the final LLM call (words when tokens are missing)",
    "judge_score": "a trace score's value (online judge, gen_ai.evaluation.result, review)",
    "outcome_failure": "share of traces whose session got a bad delayed outcome",
    "feedback": "share of thumbs-down among traces with end-user thumbs",
    "latency": "trace duration in ms",
    "cost": "trace cost in USD",
    "canary_failure": "share of scheduled canary probes that fail (mean score below 0.5)",
    "segment_satisfaction": "E4: a segment whose satisfaction fails while the aggregate passes",
    "acceptance": "E5: acceptance vs correctness by cohort (automation_bias, algorithm_aversion)",
    "coverage_gap": "E6: a surface's traffic share against its eval cases",
    "tokenizer_drift": "G7: provider-reported vs local token counts per language",
}
#: The environment of canary traces: synthetic, never mixed into a production route.
CANARY_ENVIRONMENT = "canary"
DEFAULT_REFUSAL = (
    r"(?i)\b(i can(?:'|no)t help|i(?: am|'m) (?:sorry|unable)|i cannot (?:assist|help|provide)"
    r"|i won'?t be able to|as an ai\b)"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatchSpec(_Strict):
    """Which traces belong to a route: every given field must hold."""

    route: str | None = None
    environment: str | None = None
    service: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class SloSpec(_Strict):
    """An objective on a binary signal: the share of good observations over ``period``.

    ``alerting`` lists the burn-rate rules: a rule fires when the burn rate over both its
    ``long`` and ``short`` windows reaches ``burn`` (the SRE workbook's multiwindow,
    multi-burn-rate alerts; defaults: Table 5-8 of *The Site Reliability Workbook*, ch. 5)."""

    signal: str
    objective: float = Field(gt=0, lt=1)
    period: str = "28d"
    alerting: list[BurnRule] | None = None


class BurnRule(_Strict):
    long: str
    short: str
    burn: float = Field(gt=0)
    severity: Literal["page", "ticket"] = "page"


SloSpec.model_rebuild()

#: The SRE workbook's recommended rules for a 30-day objective: 2% of the budget in 1 h and 5% in
#: 6 h page, 10% in 3 days opens a ticket; each short window is 1/12 of its long one.
DEFAULT_BURN_RULES = (
    BurnRule(long="1h", short="5m", burn=14.4, severity="page"),
    BurnRule(long="6h", short="30m", burn=6.0, severity="page"),
    BurnRule(long="3d", short="6h", burn=1.0, severity="ticket"),
)


class RouteSpec(_Strict):
    name: str = Field(min_length=1)
    match: MatchSpec | None = None
    segment_by: str | None = None
    signals: list[str | dict[str, dict[str, Any] | None]] = Field(min_length=1)
    slos: list[SloSpec] = Field(default_factory=list)


class SampleSpec(_Strict):
    rate: float = Field(0.1, ge=0, le=1)
    by: list[str] = Field(default_factory=list)
    always: list[Literal["failed", "flagged"]] = Field(
        default_factory=lambda: ["failed", "flagged"]
    )
    max: int | None = Field(None, ge=1)
    seed: int = 0


class JudgeSpec(_Strict):
    name: str = Field(min_length=1)
    routes: list[str] = Field(min_length=1)
    scope: Literal["span", "trace", "session"] = "trace"
    quiet: str = "10m"
    sample: SampleSpec = Field(default_factory=SampleSpec)
    scorers: list[Any] = Field(min_length=1)
    providers: dict[str, Any] | None = None
    anchors: str | None = None
    #: Re-grade the anchor set on this schedule (``assay serve --monitor``), beside the stream.
    anchors_every: str | None = None
    concurrency: int = Field(8, ge=1)


class CanarySpec(_Strict):
    """A scheduled canary (G4): a small pinned eval run against the live endpoint."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    every: str = "1h"
    eval: str | dict[str, Any]


class SinkSpec(_Strict):
    name: str | None = None
    webhook: dict[str, Any] | None = None
    slack: dict[str, Any] | None = None
    file: dict[str, Any] | None = None


class MonitorsSpec(_Strict):
    window: str = "1h"
    lookback: str = "7d"
    baseline: int = Field(200, ge=20)
    false_alarms_per_1000: float = Field(0.05, gt=0, le=10)
    environment: str | None = "production"
    routes: list[RouteSpec] = Field(min_length=1)
    sinks: list[SinkSpec] = Field(default_factory=list)
    judges: list[JudgeSpec] = Field(default_factory=list)
    canaries: list[CanarySpec] = Field(default_factory=list)
    #: How often ``assay serve --monitor`` runs a pass (default: the window).
    every: str | None = None

    @field_validator("routes")
    @classmethod
    def _unique(cls, routes: list[RouteSpec]) -> list[RouteSpec]:
        names = [r.name for r in routes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate route name(s): {', '.join(dupes)}")
        return routes


# -- the checked, resolved form the monitors use ---------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """One signal on a route, with its options (``schema`` for format_validity, ``name`` and
    ``source`` for judge_score, ``pattern`` for refusal_rate, ``window`` for outcome_failure)."""

    name: str
    kind: str
    worse: str
    alert: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Objective:
    signal: str
    objective: float
    period: timedelta
    rules: tuple[tuple[timedelta, timedelta, float, str], ...]

    @property
    def budget(self) -> float:
        """The error budget: the share of bad observations the objective allows."""
        return 1 - self.objective


@dataclass(frozen=True)
class Route:
    name: str
    route: str | None
    environment: str | None
    service: str | None
    attributes: tuple[tuple[str, str], ...]
    segment_by: str | None
    signals: tuple[Signal, ...]
    objectives: tuple[Objective, ...]


@dataclass(frozen=True)
class Sink:
    kind: str
    name: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Canary:
    """A checked canary: its eval (a file path or an inline mapping), its schedule, and the route
    its synthetic traces form (``canary:<name>``, environment ``canary``)."""

    name: str
    every: timedelta
    eval: str | dict[str, Any]
    route: Route


@dataclass(frozen=True)
class Monitors:
    """A checked ``monitors.yaml``."""

    window: timedelta
    lookback: timedelta
    baseline: int
    false_alarms_per_1000: float
    routes: tuple[Route, ...]
    sinks: tuple[Sink, ...]
    judges: tuple[JudgeSpec, ...]
    base_dir: Path
    source: str
    raw: dict[str, Any]
    canaries: tuple[Canary, ...] = ()
    every: timedelta | None = None

    @property
    def interval(self) -> timedelta:
        """How often the server's scheduler runs a pass (``every:``, else the window)."""
        return self.every or self.window

    def route(self, name: str) -> Route:
        for route in self.routes:
            if route.name == name:
                return route
        raise SpecError(
            f"no route {name!r} in {self.source}",
            where="ROUTE",
            fix=f"routes: {', '.join(r.name for r in self.routes)}",
        )


def _duration(text: Any, where: str) -> timedelta:
    from assay.trace.labels import parse_duration

    try:
        value = parse_duration(str(text), where)
    except SpecError:
        raise
    except Exception as exc:  # AssayError from parse_duration: re-raise as a spec error
        raise SpecError(
            str(getattr(exc, "message", exc)), where=where, fix="write e.g. 1h, 30m, 7d"
        ) from None
    if value.total_seconds() <= 0:
        raise SpecError("a duration must be positive", where=where, fix="write e.g. 1h, 30m, 7d")
    return value


def _signal(item: Any, where: str, base: Path) -> Signal:
    if isinstance(item, str):
        name, options = item, {}
    else:
        if len(item) != 1:
            raise SpecError(
                "a signal is a name or a one-key mapping {name: {options}}", where=where
            )
        name, raw = next(iter(item.items()))
        options = dict(raw or {})
    if name not in SIGNALS:
        raise SpecError(
            f"unknown signal {name!r}",
            where=where,
            fix=f"use one of {', '.join(SIGNALS)}",
        )
    if SIGNALS[name][0] == "check":
        from assay.monitor.checks import check_options

        kind, worse, alert = SIGNALS[name]
        options = check_options(name, options, where, base)
        return Signal(name=name, kind=kind, worse=worse, alert=alert, options=options)
    allowed = {
        "format_validity": {"schema"},
        "refusal_rate": {"pattern"},
        "judge_score": {"name", "source"},
        "outcome_failure": {"window"},
        "feedback": {"rater_role", "surface"},
    }.get(name, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SpecError(
            f"unknown option(s) {', '.join(unknown)} for signal {name}",
            where=where,
            fix=f"options of {name}: {', '.join(sorted(allowed)) or 'none'}",
        )
    if name == "format_validity" and options.get("schema") is not None:
        options["schema"] = _load_schema(options["schema"], where, base)
    if name == "refusal_rate":
        import re

        pattern = str(options.get("pattern") or DEFAULT_REFUSAL)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SpecError(f"invalid pattern: {exc}", where=where) from None
        options["pattern"] = pattern
    if name == "judge_score" and not options.get("name"):
        raise SpecError(
            "judge_score needs the score's name",
            where=where,
            fix="judge_score: {name: helpfulness}",
        )
    if name == "outcome_failure":
        options["window"] = _duration(options.get("window", "14d"), where)
    kind, worse, alert = SIGNALS[name]
    return Signal(name=name, kind=kind, worse=worse, alert=alert, options=options)


def _load_schema(value: Any, where: str, base: Path) -> dict[str, Any]:
    import json

    if isinstance(value, dict):
        schema = value
    else:
        path = Path(str(value))
        path = path if path.is_absolute() else base / path
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(
                f"schema file not found: {value}", where=where, fix="check the path"
            ) from None
        except (OSError, ValueError) as exc:
            raise SpecError(f"cannot read the schema {value}: {exc}", where=where) from None
    try:
        from jsonschema.validators import validator_for

        validator_for(schema).check_schema(schema)
    except Exception as exc:
        raise SpecError(f"not a valid JSON schema: {exc}", where=where) from None
    return schema


def _sink(item: SinkSpec, where: str, index: int) -> Sink:
    given = [k for k in ("webhook", "slack", "file") if getattr(item, k) is not None]
    if len(given) != 1:
        raise SpecError(
            "a sink is exactly one of webhook, slack or file",
            where=where,
            fix="{webhook: {url: …}}",
        )
    kind = given[0]
    options = dict(getattr(item, kind))
    if kind in ("webhook", "slack"):
        url = options.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SpecError(
                f"a {kind} sink needs an http(s) url",
                where=where,
                fix=f"{{{kind}: {{url: https://…}}}}",
            )
        unknown = sorted(set(options) - {"url", "headers", "timeout", "name"})
    else:
        if not isinstance(options.get("path"), str) or not options["path"]:
            raise SpecError(
                "a file sink needs a path", where=where, fix='{file: {path: alerts.jsonl}} or "-"'
            )
        unknown = sorted(set(options) - {"path", "name"})
    if unknown:
        raise SpecError(f"unknown sink option(s) {', '.join(unknown)}", where=where)
    name = str(item.name or options.pop("name", None) or f"{kind}-{index}")
    return Sink(kind=kind, name=name, options=options)


def _error(exc: ValidationError, doc: LocatedYaml | None) -> SpecError:
    from assay.run.spec import _validation_error

    return _validation_error(exc, doc)


def monitors_from_data(
    data: Any, *, base_dir: Path, doc: LocatedYaml | None = None, source: str = "monitors.yaml"
) -> Monitors:
    """Check a parsed ``monitors.yaml`` and resolve it (durations, schemas, signals)."""

    def where(*path: str | int) -> str:
        return doc.where(tuple(path)) if doc else ".".join(map(str, path)) or source

    if not isinstance(data, dict):
        raise SpecError("monitors.yaml must be a mapping with `routes:`", where=where())
    try:
        spec = MonitorsSpec.model_validate(data)
    except ValidationError as exc:
        raise _error(exc, doc) from None
    window = _duration(spec.window, where("window"))
    lookback = _duration(spec.lookback, where("lookback"))
    if lookback < 2 * window:
        raise SpecError("lookback must cover at least two windows", where=where("lookback"))
    routes = []
    for i, r in enumerate(spec.routes):
        signals = tuple(
            _signal(item, where("routes", i, "signals", j), base_dir)
            for j, item in enumerate(r.signals)
        )
        names = [s.name for s in signals]
        judge_names = [s.options.get("name") for s in signals if s.name == "judge_score"]
        if len(set(names)) - ("judge_score" in names) + len(judge_names) != len(names) or len(
            set(judge_names)
        ) != len(judge_names):
            raise SpecError("a signal is listed twice", where=where("routes", i, "signals"))
        objectives = []
        for j, slo in enumerate(r.slos):
            at = where("routes", i, "slos", j)
            match = [s for s in signals if s.name == slo.signal]
            if not match:
                raise SpecError(
                    f"the objective's signal {slo.signal!r} is not watched on this route",
                    where=at,
                    fix=f"signals here: {', '.join(names)}",
                )
            if match[0].kind != "binary":
                raise SpecError(
                    f"an objective needs a good/bad signal; {slo.signal} is numeric",
                    where=at,
                    fix="use error_rate, format_validity, refusal_rate, outcome_failure or "
                    "feedback",
                )
            period = _duration(slo.period, at)
            rules = []
            for k, rule in enumerate(slo.alerting or DEFAULT_BURN_RULES):
                rat = where("routes", i, "slos", j, "alerting", k)
                long, short = _duration(rule.long, rat), _duration(rule.short, rat)
                if short >= long:
                    raise SpecError("the short window must be shorter than the long one", where=rat)
                rules.append((long, short, rule.burn, rule.severity))
            objectives.append(Objective(slo.signal, slo.objective, period, tuple(rules)))
        match_spec = r.match or MatchSpec(route=r.name)
        routes.append(
            Route(
                name=r.name,
                route=match_spec.route,
                environment=match_spec.environment
                if r.match and "environment" in r.match.model_fields_set
                else spec.environment,
                service=match_spec.service,
                attributes=tuple(sorted(match_spec.attributes.items())),
                segment_by=r.segment_by,
                signals=signals,
                objectives=tuple(objectives),
            )
        )
    canaries = []
    for i, c in enumerate(spec.canaries):
        name = f"canary:{c.name}"
        if name in {r.name for r in routes} or name in {k.route.name for k in canaries}:
            raise SpecError(f"duplicate canary {c.name!r}", where=where("canaries", i, "name"))
        route = Route(
            name=name,
            route=name,
            environment=CANARY_ENVIRONMENT,
            service=None,
            attributes=(),
            segment_by=None,
            signals=tuple(
                _signal(n, where("canaries", i), base_dir) for n in ("canary_failure", "error_rate")
            ),
            objectives=(),
        )
        every = _duration(c.every, where("canaries", i, "every"))
        canaries.append(Canary(c.name, every, c.eval, route))
        routes.append(route)
    for i, judge in enumerate(spec.judges):
        if judge.anchors_every is not None:
            if not judge.anchors:
                raise SpecError(
                    "anchors_every needs an anchor set",
                    where=where("judges", i, "anchors_every"),
                    fix="add `anchors: anchors.jsonl` (id, input, output per line)",
                )
            _duration(judge.anchors_every, where("judges", i, "anchors_every"))
    every = _duration(spec.every, where("every")) if spec.every is not None else None
    sinks = tuple(_sink(s, where("sinks", i), i) for i, s in enumerate(spec.sinks))
    sink_names = [s.name for s in sinks]
    if len(set(sink_names)) != len(sink_names):
        raise SpecError(
            "two sinks have the same name", where=where("sinks"), fix="give each a distinct `name:`"
        )
    route_names = {r.name for r in routes}
    for i, judge in enumerate(spec.judges):
        unknown = sorted(set(judge.routes) - route_names)
        if unknown:
            raise SpecError(
                f"judge {judge.name!r} names unknown route(s) {', '.join(unknown)}",
                where=where("judges", i, "routes"),
                fix=f"routes: {', '.join(sorted(route_names))}",
            )
        _duration(judge.quiet, where("judges", i, "quiet"))
    if not math.isfinite(spec.false_alarms_per_1000):
        raise SpecError(
            "false_alarms_per_1000 must be finite", where=where("false_alarms_per_1000")
        )
    return Monitors(
        window=window,
        lookback=lookback,
        baseline=spec.baseline,
        false_alarms_per_1000=spec.false_alarms_per_1000,
        routes=tuple(routes),
        sinks=sinks,
        judges=tuple(spec.judges),
        base_dir=base_dir,
        source=source,
        raw=data,
        canaries=tuple(canaries),
        every=every,
    )


def load_monitors(path: str | Path) -> Monitors:
    """Read and check a ``monitors.yaml`` (errors name ``file:line (key)``)."""
    p = Path(path)
    doc = load_yaml(p)
    return monitors_from_data(doc.data, base_dir=p.resolve().parent, doc=doc, source=str(path))


def monitors_from_text(
    text: str, *, base_dir: str | Path = ".", filename: str = "monitors.yaml"
) -> Monitors:
    """Check ``monitors.yaml`` text (for tests and the web)."""
    doc = parse_yaml(text, filename)
    return monitors_from_data(doc.data, base_dir=Path(base_dir), doc=doc, source=filename)
