"""``assay audit judge``: run a judge through the audit battery and store its certificate.

The battery judges *probes* built from real outputs of stored runs (the sides, ``RUN`` or
``RUN:SUBJECT``; the first is the baseline):

``canary:<name>``
    the baseline's output (a) against a canary responder's output (b) — constant, empty, echo,
    a padded copy of the reference, three injections aimed at the judge (C1);
``real:<k>``
    the baseline (a) against side ``k`` (b): the real comparison, for position consistency,
    raw vs length-controlled win rate, and the real systems' win rates the canaries must not
    beat;
``identical``
    the baseline's output shown in both slots: any preference is position bias;
``verbosity``
    the baseline's output (a) against the same output padded with content-free text (b);
``matched``
    with a second side, the real comparison again with the shorter answer padded (content-free
    text) to the longer one's length: these length-matched rows identify the length coefficient
    on the compared pair itself, quality differences included (see :func:`length_check`).

Every probe is judged in both presentation orders through the runner (so calls are cached,
paced and retried), as a stored pairwise judge run that ``assay show`` can open. A second,
pointwise run grades the sides' outputs on a 1..N rubric with the audited judge and any
reference judges: its scores give the anchor vector (drift, C5-C6) and the self-preference
effect (C4). Human labels, when given, give the judge-human agreement (C8). A panel gets the
error correlation of its members on the probes with a known answer (C9, B5).

The checks' figures, intervals and verdicts make a :class:`~assay.core.JudgeCertificate`,
stored per judge config; ``assay gate`` refuses comparisons graded by a judge whose newest
certificate is ``gameable`` or ``drifted``.

The module is the orchestrator; its parts are :mod:`assay.audit.battery_config` (the config
and the result), :mod:`assay.audit.battery_probes` (the sides' outputs and the pairwise
probes) and :mod:`assay.audit.battery_pointwise` (the pointwise run), whose names are
re-exported here.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assay.audit.battery_config import AuditConfig, AuditResult
from assay.audit.battery_pointwise import _pointwise_checks, _run, _skipped
from assay.audit.battery_probes import (
    CANARY,
    IDENTICAL,
    MATCHED,
    REAL,
    VERBOSITY,
    _choose,
    _first_outputs,
    _read_probes,
    _resolve,
    _Verdicts,
    build_probes,
)
from assay.core import CheckResult, JudgeCertificate, SpecError, judge_key
from assay.data import Dataset
from assay.providers.lineage import default_registry
from assay.stats import GamedBaseline
from assay.store import Store

__all__ = [
    "CANARY",
    "IDENTICAL",
    "MATCHED",
    "REAL",
    "VERBOSITY",
    "AuditConfig",
    "AuditResult",
    "audit_judge",
    "build_probes",
]

# -- the battery ---------------------------------------------------------------------------------


def _nanmean(values: Sequence[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def audit_judge(
    store: Store,
    config: AuditConfig,
    *,
    progress: Callable[[Any], None] | None = None,
) -> AuditResult:
    """Run the audit battery (see the module docstring) and store the certificate."""
    from assay.audit.canaries import canary_check, defence_check
    from assay.audit.drift import anchor_drift_check, anchor_fingerprint
    from assay.audit.length import length_check, verbosity_check
    from assay.audit.position import identical_pair_check, position_checks
    from assay.run import Eval
    from assay.score.judges import PairwiseJudge, PairwiseJudgeSubject
    from assay.score.judges.pairwise import PairwisePreference, PositionConsistency

    if not config.runs:
        raise SpecError(
            "the audit needs real outputs to judge canaries against",
            where="--runs",
            fix="name at least one stored run (RUN or RUN:SUBJECT); two or more also measure "
            "position and length bias on a real comparison",
        )
    registry = config.lineage or (config.context.lineage if config.context else None)
    registry = registry or default_registry()
    sides = [_resolve(store, ref) for ref in config.runs]
    base = sides[0]
    samples = {s.id: s for s in store.get_samples(base.run_id)}
    outputs = [_first_outputs(store, side) for side in sides]
    for side in sides[1:]:
        other = {s.id: s.content_hash() for s in store.get_samples(side.run_id)}
        for sid in list(samples):
            if other.get(sid) != samples[sid].content_hash():
                samples.pop(sid)
    common = [sid for sid in samples if all(sid in out for out in outputs)]
    if not common:
        raise SpecError(
            "no sample was answered by every side",
            where=", ".join(config.runs),
            fix="audit with runs of the same dataset that answered at least a few samples",
        )
    ids = _choose(common, config.max_samples, config.seed)
    warnings: list[str] = []
    if len(ids) < 30:
        warnings.append(
            f"only {len(ids)} samples: the audit's intervals will be wide (30+ recommended)"
        )

    # 1. Pairwise probes, both orders.
    probes = build_probes(samples, outputs, ids, config.canaries)
    pairwise = PairwiseJudge(
        judge=config.judge,
        both_orders=True,
        style=config.style,
        params=config.params,
        context=config.context,
    )
    subject = PairwiseJudgeSubject("audit", pairwise, sides={"a": base.ref, "b": "probes"})
    manifest = store.get_manifest(base.run_id)
    ev = Eval(
        name=f"audit {config.label}",
        dataset=Dataset(f"audit:{manifest.dataset.name}", probes, source=f"audit of {base.ref}"),
        subjects=[subject],
        scorers=[PairwisePreference(), PositionConsistency()],
        seed=config.seed,
        concurrency=config.concurrency,
        slices=["probe_name"],
        spec={"audit": {"judge": config.judge, "runs": list(config.runs)}},
        lineage=registry,
        scorer_context=config.context,
    )
    pairwise_run = _run(store, ev, config.cache, progress)
    judge_manifests = store.get_manifest(pairwise_run).judges
    verdicts = _read_probes(store, pairwise_run, "audit", probes)

    def of(kind: str, name: str | None = None) -> list[_Verdicts]:
        return [v for v in verdicts if v.kind == kind and (name is None or v.name == name)]

    checks: list[CheckResult] = []

    # Real comparisons: each side against the baseline.
    real_rates: dict[str, float] = {}
    for k, side in enumerate(sides[1:], start=1):
        prefs = [v.preference for v in of(REAL, f"real:{k}")]
        real_rates[side.ref] = _nanmean(prefs)

    # 2. Canaries (C1) and the structural defences.
    canary_names = sorted({v.name for v in of(CANARY)})
    for name in canary_names:
        rows = of(CANARY, name)
        short = name.split(":", 1)[1]
        prefs = np.array([v.preference for v in rows], dtype=float)
        if short == "padded":
            # The padded canary carries the reference answer: a fair judge may call it a tie
            # with a correct baseline, so only outright wins count against the judge.
            prefs = np.where(prefs == 0.5, 0.0, prefs)
        checks.append(
            canary_check(
                short,
                prefs,
                baseline_win_rates=real_rates or None,
                bound=config.bound,
                confidence=config.confidence,
                canary_lengths=np.array([v.len_b for v in rows], dtype=float),
                baseline_lengths=np.array([v.len_a for v in rows], dtype=float),
                item_ids=[v.source for v in rows],
            )
        )
    canary_texts: dict[str, dict[str, str]] = {}
    for p in probes:
        if p.metadata["probe"] == CANARY:
            by_name = canary_texts.setdefault(p.metadata["probe_name"], {})
            by_name[p.metadata["source_sample_id"]] = str(p.metadata["pair"]["b"]["text"])
    real_texts = {
        side.ref: {sid: outputs[k][sid].text for sid in ids} for k, side in enumerate(sides)
    }
    inputs = {sid: samples[sid].input_text for sid in ids}
    checks.append(defence_check(canary_texts, real_texts, inputs, confidence=config.confidence))

    # 3. Position bias: the real comparisons in both orders, and the identical pair.
    real = of(REAL)
    if real:
        first = [f for v in real for f in v.first]
        second = [s for v in real for s in v.second]
        checks.extend(position_checks(first, second, confidence=config.confidence))
    else:
        checks.append(
            _skipped(
                "position_consistency",
                "needs two sides (--runs A B): position consistency is measured on a real "
                "comparison",
            )
        )
    identical = [label for v in of(IDENTICAL) for label in v.first_label]
    checks.append(identical_pair_check(identical, confidence=config.confidence))

    # 4. Length bias: raw vs length-controlled on the real comparison; the verbosity attack.
    # The verbosity probes (the baseline against its padded self) are AlpacaEval's "gamed
    # baseline" rows: they pin the length coefficient, which a comparison where one side is
    # always the longer cannot identify on its own.
    first_real = of(REAL, "real:1")
    verbose = of(VERBOSITY)
    matched = of(MATCHED)
    gamed = [
        GamedBaseline(
            preference=np.array([v.preference for v in verbose], dtype=float),
            baseline_length=np.array([v.len_a for v in verbose], dtype=float),
            gamed_length=np.array([v.len_b for v in verbose], dtype=float),
            item_ids=np.array([v.source for v in verbose]),
            name="verbosity probes",
        )
    ]
    if first_real:
        prefs = np.array([v.preference for v in first_real], dtype=float)
        checks.append(
            length_check(
                prefs,
                np.array([v.len_a for v in first_real], dtype=float),
                np.array([v.len_b for v in first_real], dtype=float),
                item_ids=np.array([v.source for v in first_real]),
                gamed=gamed if verbose else (),
                matched=(
                    np.array([v.preference for v in matched], dtype=float),
                    np.array([v.len_a for v in matched], dtype=float),
                    np.array([v.len_b for v in matched], dtype=float),
                )
                if matched
                else None,
                confidence=config.confidence,
                seed=config.seed,
            )
        )
    else:
        checks.append(_skipped("length_bias", "needs two sides (--runs A B) to compare raw and LC"))
    checks.append(
        verbosity_check(
            np.array([v.preference for v in verbose], dtype=float), confidence=config.confidence
        )
    )

    # 5. Panels (C9, B5): members' errors on the probes with a known answer.
    n_members = max((len(v.first) for v in verdicts), default=1)
    if n_members > 1:
        from assay.audit.panels import panel_check

        rows = []
        for v in of(CANARY) + of(VERBOSITY) + of(IDENTICAL):
            # A canary should lose; padding adds nothing and the identical pair is one answer
            # twice, so for those preferring either side is an error and a tie is right.
            expected = "a" if v.kind == CANARY else "tie"
            row = [
                math.nan if got is None else float(got != expected)
                for got in (v.first + [None] * n_members)[:n_members]
            ]
            rows.append(row)
        checks.append(panel_check(np.array(rows, dtype=float), confidence=config.confidence))

    # 6. Pointwise: anchors (C5-C6), self-preference (C4), humans (C8).
    pointwise_run, anchor_scores, point_checks = _pointwise_checks(
        store, config, sides, samples, outputs, ids, registry, judge_manifests, progress
    )
    checks.extend(point_checks)

    # Drift against the previous certificate of the same judge.
    # A panel's certificate describes the panel, not its first member (the gate matches
    # certificates to a run's judges by model, and a member may also grade alone).
    panel = not isinstance(config.judge, str) and len(config.judge) > 1
    model = judge_manifests[0].model if judge_manifests and not panel else config.label
    key = judge_key(
        model,
        judge_manifests[0].prompt_hash if judge_manifests else "",
        judge_manifests[0].params if judge_manifests else {},
    )
    previous = next(
        (c for c in store.list_certificates() if c.judge_key == key or c.model == model), None
    )
    resolved = [m for j in judge_manifests for m in j.resolved_models]
    fingerprint = anchor_fingerprint(resolved, anchor_scores) if anchor_scores else None
    if previous is None or not previous.anchor_scores:
        checks.append(
            _skipped(
                "anchor_drift",
                "first certificate of this judge: its anchor scores are the baseline the next "
                "audit compares with",
            )
        )
    elif anchor_scores:
        drift = anchor_drift_check(
            previous.anchor_scores, anchor_scores, confidence=config.confidence
        )
        details = dict(drift.details)
        details["previous_certificate"] = previous.id
        details["previous_resolved_models"] = previous.resolved_models
        checks.append(drift.model_copy(update={"details": details}))

    from assay import __version__

    certificate = JudgeCertificate(
        id=datetime.now(UTC).strftime("cert-%Y%m%d-%H%M%S-") + secrets.token_hex(3),
        judge=config.label,
        judge_key=key,
        model=model,
        resolved_models=resolved,
        system_fingerprints=[f for j in judge_manifests for f in j.system_fingerprints],
        prompt_hash=judge_manifests[0].prompt_hash if judge_manifests else "",
        params=judge_manifests[0].params if judge_manifests else {},
        kind="pairwise",
        family=sorted({f for j in judge_manifests for f in j.family}),
        created_at=datetime.now(UTC),
        assay_version=__version__,
        checks=checks,
        anchor_scores=anchor_scores,
        fingerprint=fingerprint,
        source={
            "runs": [s.ref for s in sides],
            "run_ids": [s.run_id for s in sides],
            "pairwise_run": pairwise_run,
            "pointwise_run": pointwise_run,
            "n_samples": len(ids),
            "bound": config.bound,
            "reference_judges": list(config.reference_judges),
        },
    )
    store.put_certificate(certificate)
    return AuditResult(certificate, pairwise_run, pointwise_run, len(ids), warnings)
