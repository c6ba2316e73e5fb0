"""Migration eval (K4): run a suite on the replacement model with everything else — data,
prompts, scorers and judges — pinned, and decide go / no-go against declared thresholds.

The baseline is the spec as written (a complete stored run of the same eval is reused); the
candidate is the same spec with every subject whose model is ``from_model`` switched to
``to_model``. The report holds, per subject: the paired quality deltas for the aggregate and
every slice (:func:`assay.analyse.compare.compare_runs`), the paired per-sample cost delta
(:func:`assay.analyse.run_costs.cost_delta`), the median latency of each run, and the
format/contract differences of the candidate's outputs against the baseline's, sample by sample
(:func:`assay.run.contract.compare_shapes`: structure per sample; length as the ratio of the
median output lengths, which must stay inside the contract checker's bounds). The judges must
be the same models and snapshots in both runs ("pinned"); when they are not, it is no-go.

No-go when a metric regressed (aggregate or any slice), when the aggregate's interval reaches
below ``-max_drop``, when the cost ratio exceeds ``1 + max_cost_increase``, the median latency
ratio exceeds ``1 + max_latency_increase``, or more than ``max_format_breaks`` (a share) of
samples change format.
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.core import AssayError

if TYPE_CHECKING:
    from assay.run import Eval
    from assay.store import Store


@dataclass(frozen=True)
class Thresholds:
    """What the candidate may cost in quality, money, time and format."""

    max_drop: float = 0.02
    max_cost_increase: float | None = 0.25
    max_latency_increase: float | None = 0.5
    max_format_breaks: float = 0.02


@dataclass
class MigrationReport:
    from_model: str
    to_model: str
    baseline_run: str
    candidate_run: str
    subjects: list[str]
    quality: list[dict[str, Any]]
    cost: list[dict[str, Any]]
    latency: dict[str, dict[str, float | None]]
    format: dict[str, dict[str, Any]]
    judges_pinned: bool
    judge_notes: list[str]
    thresholds: Thresholds
    decision: str = "no-go"
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["thresholds"] = dict(self.thresholds.__dict__)
        return out


def _run(store: Store, ev: Eval) -> str:
    from assay.run import run, spec_hash

    for info in store.find_runs(spec_hash=spec_hash(ev)):
        if info.status == "completed" and info.n_errors == 0:
            return info.id
    outcome = run(ev, db=store)
    if outcome.status != "completed":
        raise AssayError(f"run {outcome.run_id} of {ev.name} ended {outcome.status}")
    return outcome.run_id


def _outputs(store: Store, run_id: str, subject: str) -> dict[tuple[str, int], Any]:
    return {
        (r.sample_id, r.epoch): r.output
        for r in store.iter_results(run_id, subject)
        if r.output is not None
    }


def migration_eval(
    store: Store,
    spec: str | Path,
    *,
    from_model: str,
    to_model: str,
    thresholds: Thresholds | None = None,
) -> MigrationReport:
    """Run ``spec`` as written and with ``from_model`` replaced by ``to_model``; compare."""
    from assay.analyse.compare import compare_runs
    from assay.analyse.run_costs import cost_delta
    from assay.run import eval_from_spec
    from assay.run.contract import DEFAULT_LENGTH_BOUNDS, compare_shapes
    from assay.run.yamlfile import load_yaml

    thresholds = thresholds or Thresholds()
    path = Path(spec)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise AssayError("a spec must be a YAML mapping", where=doc.where(()))
    subjects = [
        str(s.get("name"))
        for s in doc.data.get("subjects") or []
        if isinstance(s, dict) and s.get("model") == from_model
    ]
    if not subjects:
        used = sorted(
            {str(s.get("model")) for s in doc.data.get("subjects") or [] if isinstance(s, dict)}
        )
        raise AssayError(
            f"no subject of {path.name} uses {from_model}",
            where="--from",
            fix="models in the spec: " + (", ".join(used) or "none"),
        )
    if "/" not in to_model:
        raise AssayError(
            f"{to_model!r} does not name a provider", where="--to", fix="provider/model"
        )
    candidate = copy.deepcopy(doc.data)
    for s in candidate["subjects"]:
        if isinstance(s, dict) and s.get("model") == from_model:
            s["model"] = to_model
    base_dir = path.resolve().parent
    baseline_ev = eval_from_spec(doc.data, base_dir=base_dir, doc=doc)
    candidate_ev = eval_from_spec(candidate, base_dir=base_dir, doc=doc)
    baseline_run = _run(store, baseline_ev)
    candidate_run = _run(store, candidate_ev)

    comparison = compare_runs(
        store, baseline_run, candidate_run, subjects=[(s, s) for s in subjects]
    )
    quality = []
    reasons: list[str] = []
    for m in comparison.metrics:
        groups = []
        for g in m.groups:
            groups.append(
                {
                    "group": g.group,
                    "n": g.n,
                    "mean_a": g.mean_a,
                    "mean_b": g.mean_b,
                    "difference": g.difference,
                    "low": g.interval.low,
                    "high": g.interval.high,
                    "verdict": g.verdict,
                }
            )
        quality.append(
            {"subject": m.subject_b, "scorer": m.scorer, "verdict": m.verdict, "groups": groups}
        )
        if m.verdict in ("regressed", "mixed: slice regression"):
            reasons.append(f"{m.subject_b}/{m.scorer}: {m.verdict}")
        elif m.aggregate.interval.low < -thresholds.max_drop:
            reasons.append(
                f"{m.subject_b}/{m.scorer}: the drop could be as large as "
                f"{-m.aggregate.interval.low:.3f} (> max drop {thresholds.max_drop})"
            )
    cost = [
        row for row in cost_delta(store, baseline_run, candidate_run) if row["subject"] in subjects
    ]
    for row in cost:
        ratio = row.get("ratio")
        if (
            thresholds.max_cost_increase is not None
            and ratio is not None
            and ratio > 1 + thresholds.max_cost_increase
        ):
            reasons.append(
                f"{row['subject']}: cost ×{ratio:.2f} (> ×{1 + thresholds.max_cost_increase:.2f})"
            )
    latency: dict[str, dict[str, float | None]] = {}
    fmt: dict[str, dict[str, Any]] = {}
    for s in subjects:
        a, b = _outputs(store, baseline_run, s), _outputs(store, candidate_run, s)
        lat_a = [o.latency_ms for o in a.values() if o.latency_ms is not None]
        lat_b = [o.latency_ms for o in b.values() if o.latency_ms is not None]
        med_a = statistics.median(lat_a) if lat_a else None
        med_b = statistics.median(lat_b) if lat_b else None
        ratio = med_b / med_a if med_a and med_b is not None else None
        latency[s] = {"median_ms_a": med_a, "median_ms_b": med_b, "ratio": ratio}
        if (
            thresholds.max_latency_increase is not None
            and ratio is not None
            and ratio > 1 + thresholds.max_latency_increase
        ):
            reasons.append(
                f"{s}: median latency ×{ratio:.2f} (> ×{1 + thresholds.max_latency_increase:.2f})"
            )
        shared = sorted(set(a) & set(b))
        kinds: dict[str, int] = {}
        broken = 0
        for key in shared:
            diffs = compare_shapes(a[key].text, b[key].text, length_bounds=None)
            if diffs:
                broken += 1
            for d in diffs:
                kinds[d.kind] = kinds.get(d.kind, 0) + 1
        share = broken / len(shared) if shared else 0.0
        len_a = statistics.median(len(a[k].text) for k in shared) if shared else 0
        len_b = statistics.median(len(b[k].text) for k in shared) if shared else 0
        length_ratio = len_b / len_a if len_a else None
        fmt[s] = {
            "n": len(shared),
            "changed_format": broken,
            "share": share,
            "kinds": kinds,
            "median_length_ratio": length_ratio,
        }
        low, high = DEFAULT_LENGTH_BOUNDS
        if length_ratio is not None and not low <= length_ratio <= high:
            reasons.append(
                f"{s}: median output length ×{length_ratio:.2f} (outside ×{low}–×{high})"
            )
        if share > thresholds.max_format_breaks:
            reasons.append(
                f"{s}: {broken} of {len(shared)} outputs change format ({share:.1%} > "
                f"{thresholds.max_format_breaks:.1%})"
            )
    judges_a = {
        j.name: (j.model, tuple(j.resolved_models)) for j in store.get_manifest(baseline_run).judges
    }
    judges_b = {
        j.name: (j.model, tuple(j.resolved_models))
        for j in store.get_manifest(candidate_run).judges
    }
    notes = [
        f"judge {name}: {judges_a.get(name)} → {judges_b.get(name)}"
        for name in sorted(set(judges_a) | set(judges_b))
        if judges_a.get(name) != judges_b.get(name)
    ]
    if notes:
        reasons.append("judges not pinned: " + "; ".join(notes))
    return MigrationReport(
        from_model=from_model,
        to_model=to_model,
        baseline_run=baseline_run,
        candidate_run=candidate_run,
        subjects=[str(s) for s in subjects],
        quality=quality,
        cost=cost,
        latency=latency,
        format=fmt,
        judges_pinned=not notes,
        judge_notes=notes,
        thresholds=thresholds,
        decision="no-go" if reasons else "go",
        reasons=reasons,
    )
