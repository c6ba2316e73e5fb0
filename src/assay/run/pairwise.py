"""Pairwise judge runs: the judge is the subject, the pairs of stored outputs its dataset.

Two sides are named ``RUN`` or ``RUN:SUBJECT`` (the subject may be left out when the run has
one): two runs of the same eval (prompt v1 against v2), or two subjects of one run. Their
results are joined by sample id and epoch, never by position; samples answered on one side
only, failed on either side, or whose content differs between the runs are left out and
counted. Each pair becomes a sample of the judge run, with the original input, target and
metadata (so slices work unchanged) and the two outputs under ``metadata["pair"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.core import Output, Sample, SpecError, SubjectManifest
from assay.data import Dataset
from assay.providers.lineage import LineageRegistry, default_registry
from assay.run.evaluation import Eval
from assay.score import ScorerContext
from assay.score.judges import PairwiseJudge, PairwiseJudgeSubject
from assay.score.judges.pairwise import PairwisePreference, PositionConsistency
from assay.store import Store


@dataclass(frozen=True)
class PairSide:
    """One side of a comparison: a subject of a stored run."""

    run_id: str
    subject: str
    manifest: SubjectManifest

    @property
    def label(self) -> str:
        return f"{self.run_id}:{self.subject}"


@dataclass
class PairingReport:
    """How the two sides were joined."""

    n_pairs: int = 0
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    content_differs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs,
            "only_a": len(self.only_a),
            "only_b": len(self.only_b),
            "failed": len(self.failed),
            "content_differs": len(self.content_differs),
        }


def resolve_side(store: Store, ref: str) -> PairSide:
    """``RUN`` or ``RUN:SUBJECT`` → the stored run and subject it names."""
    run_ref, _, subject = ref.partition(":")
    run_id = store.resolve_run_id(run_ref)
    manifest = store.get_manifest(run_id)
    names = [s.name for s in manifest.subjects]
    if not subject:
        if len(names) != 1:
            raise SpecError(
                f"run {run_id} has {len(names)} subjects ({', '.join(names)})",
                where=ref,
                fix=f"name one: {run_id}:{names[0]}",
            )
        subject = names[0]
    if subject not in names:
        raise SpecError(
            f"run {run_id} has no subject {subject!r} (subjects: {', '.join(names)})", where=ref
        )
    return PairSide(run_id, subject, next(s for s in manifest.subjects if s.name == subject))


def _outputs(store: Store, side: PairSide) -> tuple[dict[tuple[str, int], Output], set[str]]:
    outputs, failed = {}, set()
    for result in store.iter_results(side.run_id, side.subject):
        if result.output is None:
            failed.add(result.sample_id)
        else:
            outputs[(result.sample_id, result.epoch)] = result.output
    return outputs, failed


def _item(side: PairSide, output: Output) -> dict[str, Any]:
    return {
        "run": side.run_id,
        "subject": side.subject,
        "text": output.text,
        "model": output.model,
        "sim": output.metadata.get("sim"),
    }


def pair_samples(store: Store, a: PairSide, b: PairSide) -> tuple[list[Sample], PairingReport]:
    """The judge run's samples: one per (sample id, epoch) both sides answered."""
    samples_a = {s.id: s for s in store.get_samples(a.run_id)}
    samples_b = {s.id: s for s in store.get_samples(b.run_id)}
    out_a, failed_a = _outputs(store, a)
    out_b, failed_b = _outputs(store, b)
    report = PairingReport()
    report.only_a = sorted({sid for sid, _ in out_a} - {sid for sid, _ in out_b} - failed_b)
    report.only_b = sorted({sid for sid, _ in out_b} - {sid for sid, _ in out_a} - failed_a)
    report.failed = sorted(failed_a | failed_b)
    epochs = {e for _, e in out_a} | {e for _, e in out_b}
    multi_epoch = len(epochs) > 1
    pairs = []
    for sample in samples_a.values():
        other = samples_b.get(sample.id)
        if other is None:
            continue
        if other.content_hash() != sample.content_hash():
            report.content_differs.append(sample.id)
            continue
        for epoch in sorted(epochs):
            key = (sample.id, epoch)
            if key not in out_a or key not in out_b:
                continue
            metadata = {
                **sample.metadata,
                "pair": {"a": _item(a, out_a[key]), "b": _item(b, out_b[key])},
            }
            if multi_epoch:
                metadata["source_sample_id"] = sample.id
                metadata["source_epoch"] = epoch
            pairs.append(
                sample.model_copy(
                    update={
                        "id": f"{sample.id}@{epoch}" if multi_epoch else sample.id,
                        "metadata": metadata,
                    }
                )
            )
    report.n_pairs = len(pairs)
    return pairs, report


def _graded(
    side: PairSide, samples: list[Sample], which: str, registry: LineageRegistry
) -> list[tuple[str, str, frozenset[str]]]:
    """(label, model, families) of a side's system, for the judge independence check."""
    models = [m for m in (side.manifest.requested_model, *side.manifest.resolved_models) if m]
    families: set[str] = set()
    for model in models:
        families |= registry.families(model)
    for sample in samples[:50]:
        sim = (sample.metadata["pair"][which].get("sim") or {}).get("family")
        if sim:
            families.add(f"sim:{sim}")
    model = models[-1] if models else side.subject
    return [(side.label, model, frozenset(families))]


def pairwise_eval(
    store: Store,
    a: str,
    b: str,
    *,
    judge: str | list[str],
    name: str = "judge",
    context: ScorerContext | None = None,
    lineage: LineageRegistry | None = None,
    concurrency: int = 16,
    **judge_options: Any,
) -> tuple[Eval, PairingReport]:
    """An eval whose subject is a pairwise judge and whose samples are the pairs of outputs of
    sides ``a`` and ``b`` (``RUN`` or ``RUN:SUBJECT``). ``judge_options`` go to
    :class:`~assay.score.judges.PairwiseJudge` (``both_orders``, ``rubric``, ``style`` …)."""
    side_a, side_b = resolve_side(store, a), resolve_side(store, b)
    if side_a.label == side_b.label:
        raise SpecError("both sides name the same run and subject", where=a)
    samples, report = pair_samples(store, side_a, side_b)
    if not samples:
        raise SpecError(
            f"no sample was answered by both {side_a.label} and {side_b.label} "
            f"(only in a: {len(report.only_a)}, only in b: {len(report.only_b)}, failed: "
            f"{len(report.failed)}, content differs: {len(report.content_differs)})",
            fix="compare runs of the same dataset",
        )
    registry = lineage or (context.lineage if context else None) or default_registry()
    if context is not None and context.lineage is None and lineage is not None:
        context = ScorerContext(context.base_dir, context.resolve_model, lineage)
    pairwise = PairwiseJudge(judge=judge, context=context, **judge_options)
    subject = PairwiseJudgeSubject(
        name,
        pairwise,
        sides={"a": side_a.label, "b": side_b.label},
        graded=_graded(side_a, samples, "a", registry) + _graded(side_b, samples, "b", registry),
    )
    manifest_a = store.get_manifest(side_a.run_id)
    dataset = Dataset(
        f"pairs:{manifest_a.dataset.name}",
        samples,
        source=f"{side_a.label} vs {side_b.label}",
    )
    ev = Eval(
        name=f"pairwise {side_a.label} vs {side_b.label}",
        dataset=dataset,
        subjects=[subject],
        scorers=[PairwisePreference(), PositionConsistency()],
        seed=manifest_a.seed,
        slices=[k for k in manifest_a.slices if any(k in s.metadata for s in samples)],
        cluster=manifest_a.cluster,
        concurrency=concurrency,
        spec={
            "pairwise": {
                "a": side_a.label,
                "b": side_b.label,
                "judge": judge,
                **judge_options,
                "pairing": report.as_dict(),
            }
        },
        lineage=registry,
        scorer_context=context,
    )
    return ev, report
