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
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assay.core import (
    CheckResult,
    JudgeCertificate,
    JudgeManifest,
    Output,
    Sample,
    SpecError,
    SubjectManifest,
    judge_key,
    text_hash,
)
from assay.data import Dataset
from assay.providers.lineage import LineageRegistry, default_registry
from assay.score import ScorerContext
from assay.stats import GamedBaseline
from assay.store import Store

#: Probe kinds (see the module docstring).
CANARY, REAL, IDENTICAL, VERBOSITY = "canary", "real", "identical", "verbosity"
MATCHED = "matched"


@dataclass
class AuditConfig:
    """What to audit and how.

    ``judge`` is a judge reference (``<provider>/<model>``) or a panel (a list); ``runs`` the
    sides whose outputs the probes are built from (the first is the baseline). ``bound`` is
    the canary win rate above which the judge is ``gameable`` (C1: 10%); ``reference_judges``
    are judges of other families whose pointwise scores the self-preference check compares
    with; ``n_anchors`` baseline outputs form the anchor set; ``humans`` is a CSV/JSONL file of
    human labels (sample, rater, label, time) on the baseline's samples.

    ``confidence`` is the level of every check's interval. A certificate makes about six
    decisions that can raise a flag, so at 99% each (Bonferroni: 0.05 / 6 ≈ 0.0083) a clean
    judge gets a clean certificate at least 95% of the time.
    """

    judge: str | list[str]
    runs: Sequence[str]
    context: ScorerContext | None = None
    lineage: LineageRegistry | None = None
    name: str | None = None
    max_samples: int = 200
    canaries: Sequence[str] | None = None
    bound: float = 0.10
    reference_judges: Sequence[str] = ()
    scale: int = 10
    n_anchors: int = 50
    humans: Path | None = None
    style: str = "json"
    params: dict[str, Any] | None = None
    seed: int = 0
    concurrency: int = 16
    cache: bool = True
    confidence: float = 0.99

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.judge if isinstance(self.judge, str) else "+".join(self.judge)


@dataclass
class AuditResult:
    """The certificate and the runs that produced it."""

    certificate: JudgeCertificate
    pairwise_run_id: str
    pointwise_run_id: str | None
    n_samples: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Side:
    ref: str
    run_id: str
    subject: str
    manifest: SubjectManifest


# -- loading the sides ---------------------------------------------------------------------------


def _resolve(store: Store, ref: str) -> _Side:
    from assay.run.pairwise import resolve_side

    side = resolve_side(store, ref)
    return _Side(ref, side.run_id, side.subject, side.manifest)


def _first_outputs(store: Store, side: _Side) -> dict[str, Output]:
    """The side's output per sample id (the lowest epoch that answered)."""
    outputs: dict[str, tuple[int, Output]] = {}
    for result in store.iter_results(side.run_id, side.subject):
        if result.output is None:
            continue
        held = outputs.get(result.sample_id)
        if held is None or result.epoch < held[0]:
            outputs[result.sample_id] = (result.epoch, result.output)
    return {sid: out for sid, (_, out) in outputs.items()}


def _choose(ids: Sequence[str], n: int, seed: int) -> list[str]:
    """Up to ``n`` ids, a seeded pseudo-random subset (hash order), returned sorted."""
    if len(ids) <= n:
        return sorted(ids)
    ranked = sorted(ids, key=lambda i: hashlib.blake2b(f"{seed}|{i}".encode()).digest())
    return sorted(ranked[:n])


def _unit(key: str) -> float:
    """A uniform draw on [0, 1) hashed from ``key`` (deterministic)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def _item(output: Output | None, text: str | None = None) -> dict[str, Any]:
    sim = output.metadata.get("sim") if output is not None else None
    return {
        "text": text if text is not None else (output.text if output is not None else ""),
        "model": output.model if output is not None else None,
        "sim": sim,
    }


# -- the pairwise probes ---------------------------------------------------------------------------


def build_probes(
    samples: dict[str, Sample],
    outputs: list[dict[str, Output]],
    ids: Sequence[str],
    canaries: Sequence[str] | None,
) -> list[Sample]:
    """The pairwise probe samples (see the module docstring) for the chosen sample ids."""
    from assay.audit.canaries import canary_outputs, pad_text

    probes: list[Sample] = []

    def probe(sample: Sample, kind: str, name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        metadata = {
            **sample.metadata,
            "probe": kind,
            "probe_name": name,
            "source_sample_id": sample.id,
            "pair": {"a": a, "b": b},
        }
        probes.append(sample.model_copy(update={"id": f"{name}/{sample.id}", "metadata": metadata}))

    base = outputs[0]
    # How much to pad each verbosity probe. With a real comparison, the sizes of its length
    # gaps (shuffled across samples): the padded copies then differ from the baseline as the
    # compared system does, so the length model fitted on them (AlpacaEval's gamed-baseline
    # rows) is on the same standardised scale as the real comparison. Without one, 40 to 600
    # characters.
    if len(outputs) > 1:
        gaps = [max(40, abs(len(outputs[1][sid].text) - len(base[sid].text))) for sid in ids]
        shuffled = sorted(range(len(ids)), key=lambda i: _unit(f"pad|{ids[i]}"))
        pad_by = {sid: gaps[shuffled[i]] for i, sid in enumerate(ids)}
    else:
        pad_by = {sid: 40 + int(560 * _unit(f"pad|{sid}")) for sid in ids}
    for sid in ids:
        sample = samples[sid]
        out = base[sid]
        reference = sample.targets[0] if sample.targets else out.text
        made = canary_outputs(sample.input_text, reference)
        for name, text in made.items():
            if canaries is not None and name not in canaries:
                continue
            probe(sample, CANARY, f"canary:{name}", _item(out), _item(None, text))
        for k, other in enumerate(outputs[1:], start=1):
            probe(sample, REAL, f"real:{k}", _item(out), _item(other[sid]))
        probe(sample, IDENTICAL, "identical", _item(out), _item(out))
        padded = pad_text(out.text, 1.0, minimum=len(out.text) + pad_by[sid])
        probe(sample, VERBOSITY, "verbosity", _item(out), _item(out, padded))
        if len(outputs) > 1:
            other_out = outputs[1][sid]
            a_text, b_text = out.text, other_out.text
            if len(b_text) > len(a_text):
                pair = (_item(out, pad_text(a_text, 1.0, minimum=len(b_text))), _item(other_out))
            else:
                pair = (_item(out), _item(other_out, pad_text(b_text, 1.0, minimum=len(a_text))))
            probe(sample, MATCHED, "matched", *pair)
    return probes


@dataclass
class _Verdicts:
    """What the judge said about one probe."""

    kind: str
    name: str
    source: str
    preference: float  # b over a, both orders combined; NaN when the judge failed
    first: list[str | None]  # per judge member: verdict with a shown first ("a"/"b"/"tie")
    second: list[str | None]  # per judge member: verdict with b shown first
    first_label: list[str | None]  # per member, the slot label picked with a first
    len_a: int
    len_b: int


def _read_probes(store: Store, run_id: str, subject: str, probes: list[Sample]) -> list[_Verdicts]:
    by_id = {p.id: p for p in probes}
    found: list[_Verdicts] = []
    for result in store.iter_results(run_id, subject):
        probe = by_id.get(result.sample_id)
        if probe is None:
            continue
        pair = probe.metadata["pair"]
        verdict = result.output.metadata.get("pairwise") if result.output is not None else None
        first: list[str | None] = []
        second: list[str | None] = []
        first_label: list[str | None] = []
        preference = math.nan
        if isinstance(verdict, dict):
            if "error" not in verdict:
                preference = float(verdict["preference"])
            for member in verdict.get("judges", []):
                orders = {v.get("order"): v for v in member.get("verdicts", [])}
                ab, ba = orders.get("ab", {}), orders.get("ba", {})
                first.append(ab.get("winner") if "error" not in ab else None)
                second.append(ba.get("winner") if "error" not in ba else None)
                first_label.append(ab.get("label") if "error" not in ab else None)
        found.append(
            _Verdicts(
                kind=probe.metadata["probe"],
                name=probe.metadata["probe_name"],
                source=probe.metadata["source_sample_id"],
                preference=preference,
                first=first,
                second=second,
                first_label=first_label,
                len_a=len(str(pair["a"].get("text", ""))),
                len_b=len(str(pair["b"].get("text", ""))),
            )
        )
    return found


# -- the pointwise run (anchors, self-preference, humans) ------------------------------------------


class _StoredOutputs:
    """A subject that answers with outputs already stored (the sides' outputs to grade)."""

    kind = "stored_outputs"

    def __init__(self, name: str, outputs: dict[str, Output], sources: dict[str, str]) -> None:
        self.name = name
        self.outputs = outputs
        self.sources = sources

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        from assay.core import SubjectError

        try:
            return self.outputs[sample.id]
        except KeyError:
            raise SubjectError(f"no stored output for {sample.id!r}") from None

    def manifest(self) -> SubjectManifest:
        return SubjectManifest(name=self.name, kind=self.kind, config={"sides": self.sources})

    async def aclose(self) -> None:
        return None


def _anchor_id(sample: Sample, output: Output) -> str:
    return text_hash(sample.input_text + "\x1f" + output.text)[:16]


def _families(output: Output, registry: LineageRegistry) -> set[str]:
    families = set(registry.families(output.model)) if output.model else set()
    sim = output.metadata.get("sim")
    if isinstance(sim, dict) and sim.get("family"):
        families.add(f"sim:{sim['family']}")
    return families


# -- the battery ---------------------------------------------------------------------------------


def _run(store: Store, ev: Any, cache: bool, progress: Callable[[Any], None] | None) -> str:
    from assay.run import RunOptions, run

    outcome = run(ev, db=store, options=RunOptions(cache=cache), on_progress=progress)
    return outcome.run_id


def _skipped(check: str, message: str) -> CheckResult:
    return CheckResult(check=check, verdict="skipped", message=message)


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


def _pointwise_checks(
    store: Store,
    config: AuditConfig,
    sides: list[_Side],
    samples: dict[str, Sample],
    outputs: list[dict[str, Output]],
    ids: list[str],
    registry: LineageRegistry,
    judge_manifests: list[JudgeManifest],
    progress: Callable[[Any], None] | None,
) -> tuple[str | None, dict[str, float], list[CheckResult]]:
    """Grade the sides' outputs pointwise with the judge (and the reference judges)."""
    from assay.audit.self_preference import self_preference_check
    from assay.run import Eval
    from assay.score.judges.pointwise import PointwiseJudge

    checks: list[CheckResult] = []
    want_self = bool(config.reference_judges)
    anchors = ids[: config.n_anchors]
    graded_ids = ids if (want_self or config.humans) else anchors
    if not graded_ids:
        return None, {}, checks
    rows: list[Sample] = []
    served: dict[str, Output] = {}
    origin: dict[str, tuple[int, str]] = {}
    for k in range(len(sides)):
        if k > 0 and not want_self:
            break
        for sid in graded_ids:
            pid = f"{k}/{sid}"
            rows.append(samples[sid].model_copy(update={"id": pid}))
            served[pid] = outputs[k][sid]
            origin[pid] = (k, sid)
    scorers: list[Any] = [
        PointwiseJudge(
            judge=config.judge,
            name="judge",
            scale=config.scale,
            style=config.style,
            params=config.params,
            context=config.context,
        )
    ]
    for i, ref in enumerate(config.reference_judges):
        scorers.append(
            PointwiseJudge(
                judge=ref, name=f"reference{i}", scale=config.scale, context=config.context
            )
        )
    ev = Eval(
        name=f"audit {config.label} (pointwise)",
        dataset=Dataset("audit:outputs", rows, source="audit"),
        subjects=[_StoredOutputs("graded", served, {str(k): s.ref for k, s in enumerate(sides)})],
        scorers=scorers,
        seed=config.seed,
        concurrency=config.concurrency,
        spec={"audit_pointwise": {"judge": config.judge, "runs": [s.ref for s in sides]}},
        lineage=registry,
        scorer_context=config.context,
    )
    run_id = _run(store, ev, config.cache, progress)
    scores: dict[str, dict[str, float]] = {}
    for result in store.iter_results(run_id, "graded"):
        for score in result.scores:
            if score.value is not None:
                scores.setdefault(result.sample_id, {})[score.scorer] = float(score.value)

    anchor_scores: dict[str, float] = {}
    for sid in anchors:
        value = scores.get(f"0/{sid}", {}).get("judge")
        if value is not None:
            anchor_scores[_anchor_id(samples[sid], outputs[0][sid])] = value

    if want_self:
        judge_families = {f for j in judge_manifests for f in j.family}
        judge_scores, other_scores, own = [], [], []
        for pid in origin:
            got = scores.get(pid, {})
            refs = [
                got[f"reference{i}"]
                for i in range(len(config.reference_judges))
                if f"reference{i}" in got
            ]
            if "judge" not in got or not refs:
                continue
            judge_scores.append(got["judge"])
            other_scores.append(float(np.mean(refs)))
            own.append(bool(_families(served[pid], registry) & judge_families))
        checks.append(
            self_preference_check(
                np.array(judge_scores),
                np.array(other_scores),
                np.array(own, dtype=bool),
                confidence=config.confidence,
            )
        )
    else:
        checks.append(
            _skipped(
                "self_preference",
                "needs reference judges of other families (--reference-judge) to compare the "
                "judge's scores of its own family's outputs with",
            )
        )

    if config.humans is not None:
        from assay.audit.humans import human_agreement_check, load_human_labels

        labels = load_human_labels(config.humans)
        judge_by_sample = {
            sid: scores[f"0/{sid}"]["judge"] for sid in ids if "judge" in scores.get(f"0/{sid}", {})
        }
        checks.append(human_agreement_check(labels, judge_by_sample, confidence=config.confidence))
    return run_id, anchor_scores, checks
