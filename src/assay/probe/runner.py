"""Build, run and analyse a probe: spec → expanded eval → one stored run → results.

A probe spec is an ordinary eval spec plus a ``probe:`` section holding the kind's options::

    name: kshot-demo
    dataset: {path: data/qa.jsonl}
    subjects: [{name: atlas, model: sim/atlas-large}]
    scorers: [exact]
    probe:
      ks: [0, 1, 2, 4, 8]
      assignment: [user_tier]      # optional: randomization attributes (the confound guard)

Every error names the spec file, line and key (``probe.yaml:7 (probe.ks): ...``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assay.core import SpecError
from assay.data import Dataset
from assay.probe.base import ITEM_KEY, Probe, ProbeResult, ProbeTable, probe_class
from assay.probe.guard import check_in_band_leakage
from assay.run import Eval, eval_from_spec
from assay.run.yamlfile import LocatedYaml, format_path, load_yaml

_SIM_KINDS = {"sim", "sim_probes"}


@dataclass(frozen=True)
class ProbeRun:
    """A probe's run and its analysis: one :class:`ProbeResult` per subject."""

    run_id: str
    status: str
    results: list[ProbeResult]

    @property
    def flagged(self) -> bool:
        return any(r.flagged for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "flagged": self.flagged,
            "results": [r.as_dict() for r in self.results],
        }


def build_probe(kind: str, section: dict[str, Any], doc: LocatedYaml | None = None) -> Probe:
    """The probe of ``kind`` configured by a ``probe:`` mapping (errors name file:line)."""
    where = doc.where(("probe",)) if doc else "probe"
    cls = probe_class(kind, where)
    if not isinstance(section, dict):
        raise SpecError("`probe:` must be a mapping of the probe's options", where=where)
    options = {k: v for k, v in section.items() if k != "kind"}
    declared = section.get("kind")
    if declared is not None and declared != kind:
        raise SpecError(
            f"the spec declares probe kind {declared!r}, not {kind!r}",
            where=doc.where(("probe", "kind")) if doc else "probe.kind",
            fix=f"run `assay probe {declared}` or change probe.kind",
        )
    try:
        config = cls.options.model_validate(options)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ("probe", *err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{err['loc'][-1]}' for probe {kind!r}"
            fix = f"known keys: {', '.join(cls.options.model_fields)}"
        else:
            fix = None
        at = doc.where(loc) if doc else format_path(loc)
        raise SpecError(msg, where=at, fix=fix) from None
    return cls(config)


def probe_eval(probe: Probe, ev: Eval, *, where: str = "probe") -> Eval:
    """``ev`` expanded into the probe's variants, with the variant added to its slices.

    Refuses (``in_band_leakage``) an eval whose prompt templates use any of the probe's
    declared assignment attributes (B6)."""
    check_in_band_leakage(ev, probe.config.assignment, where=where)
    metric = probe.config.metric
    names = [s.name for s in ev.scorers]
    if metric is not None and metric not in names:
        raise SpecError(
            f"probe metric {metric!r} is not a scorer of this eval",
            where=f"{where}.metric",
            fix=f"scorers: {', '.join(names)}",
        )
    samples = probe.expand(list(ev.dataset), where)
    dataset = Dataset(ev.dataset.name, samples, source=ev.dataset.source)
    slices = list(dict.fromkeys([*ev.slices, probe.variant_key]))
    spec = dict(ev.spec or {"name": ev.name})
    spec["probe"] = {"kind": probe.kind, **probe.config.model_dump(mode="json")}
    return dataclasses.replace(ev, dataset=dataset, slices=slices, spec=spec)


def load_probe(kind: str, path: str | Path) -> tuple[Probe, Eval]:
    """The probe and expanded eval of a probe spec file."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecError("a probe spec must be a YAML mapping", where=doc.where(()))
    data = dict(doc.data)
    section = data.pop("probe", None)
    if section is None:
        section = {}
    probe = build_probe(kind, section, doc)
    probe.base_dir = Path(path).resolve().parent
    seed = data.get("seed", 0)
    providers = data.get("providers")
    if isinstance(providers, dict):
        # sim worlds follow the spec's seed, as in `assay run` (a sim_probes world too).
        data["providers"] = {
            name: (
                {**cfg, "world_seed": cfg.get("world_seed", seed)}
                if isinstance(cfg, dict) and cfg.get("type", name) in _SIM_KINDS
                else cfg
            )
            for name, cfg in providers.items()
        }
    ev = eval_from_spec(data, base_dir=Path(path).resolve().parent, doc=doc)
    return probe, probe_eval(probe, ev, where=doc.where(("probe",)))


def read_table(store: Any, run_id: str, metric: str | None = None) -> ProbeTable:
    """A stored probe run as a :class:`ProbeTable` (``metric`` default: the first scorer)."""
    spec = store.get_spec(run_id) or {}
    section = spec.get("probe")
    if not isinstance(section, dict):
        raise SpecError(
            f"run {run_id} is not a probe run (its spec has no `probe:` section)",
            where=run_id,
            fix="analyse a run made by `assay probe KIND --spec SPEC`",
        )
    manifest = store.get_manifest(run_id)
    scorer_names = [s.name for s in manifest.scorers]
    metric = metric or section.get("metric") or (scorer_names[0] if scorer_names else None)
    if metric is None or metric not in scorer_names:
        raise SpecError(
            f"metric {metric!r} is not a scorer of run {run_id}",
            where="--metric",
            fix=f"scorers: {', '.join(scorer_names)}",
        )
    kind = section["kind"]
    variant_key = probe_class(kind).variant_key
    metadata: dict[str, dict[str, Any]] = {}
    variants: list[str] = []
    for sample in store.get_samples(run_id):
        metadata[sample.id] = dict(sample.metadata)
        v = str(sample.metadata.get(variant_key))
        if v not in variants:
            variants.append(v)
    values: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    texts: dict[str, dict[str, dict[str, list[str]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for result in store.iter_results(run_id):
        meta = metadata.get(result.sample_id, {})
        item = str(meta.get(ITEM_KEY, result.sample_id))
        variant = str(meta.get(variant_key))
        if result.output is not None:
            texts[result.subject][item][variant].append(result.output.text)
        for score in result.scores:
            if score.scorer == metric and score.value is not None:
                values[result.subject][item][variant].append(float(score.value))
    return ProbeTable(run_id, metric, variants, values, texts, metadata)


def analyse_probe_run(store: Any, run_id: str, metric: str | None = None) -> list[ProbeResult]:
    """Re-analyse a stored probe run: one result per subject."""
    spec = store.get_spec(run_id) or {}
    section = dict(spec.get("probe") or {})
    kind = section.get("kind")
    if not kind:
        raise SpecError(f"run {run_id} is not a probe run", where=run_id)
    probe = build_probe(kind, section)
    table = read_table(store, run_id, metric)
    return [probe.analyse(table, subject) for subject in table.subjects()]


def run_probe(
    kind: str,
    spec: str | Path | Eval,
    *,
    db: Any = None,
    options: dict[str, Any] | None = None,
    run_options: Any = None,
) -> ProbeRun:
    """Run a probe from a spec file (its ``probe:`` section) or on an :class:`Eval` with
    ``options``, store it as one run, and analyse it."""
    from assay.run import run as run_eval
    from assay.store import Store

    if isinstance(spec, Eval):
        probe = build_probe(kind, options or {})
        ev = probe_eval(probe, spec)
    else:
        probe, ev = load_probe(kind, spec)
    store = db if isinstance(db, Store) else Store(db)
    outcome = run_eval(ev, db=store, options=run_options)
    results = analyse_probe_run(store, outcome.run_id)
    return ProbeRun(outcome.run_id, outcome.status, results)
