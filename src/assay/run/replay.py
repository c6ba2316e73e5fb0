"""Rebuild a stored run as an eval that re-runs offline from the response cache (A2).

Model subjects get a :class:`~assay.run.cache.CacheOnlyProvider` under their original provider
name and cache namespace, their prompt rebuilt from the manifest, and the same parameters, so
every request hashes to the key its response was cached under. Subjects that are not model
calls (functions, HTTP apps, precomputed files) are served the outputs the run stored. The
dataset is the run's stored samples, and scorers are rebuilt from the manifest by kind.
"""

from __future__ import annotations

from typing import Any

from assay.core import Output, RunManifest, Sample, SpecError, SubjectError, SubjectManifest
from assay.data import Dataset
from assay.run.cache import CacheOnlyProvider
from assay.run.evaluation import Eval
from assay.run.prompt import PromptTemplate
from assay.run.runner import redacted
from assay.run.subjects import ModelSubject, Subject
from assay.score import Scorer, ScorerContext, create_scorer
from assay.score.base import ModelResolver
from assay.store import Store


class StoredOutputsSubject:
    """Serves the outputs a stored run recorded for a subject that was not a model call."""

    kind = "stored"

    def __init__(self, original: SubjectManifest, outputs: dict[tuple[str, int], Output]) -> None:
        self.name = original.name
        self.original = original
        self.outputs = outputs

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        try:
            return self.outputs[(sample.id, epoch)]
        except KeyError:
            raise SubjectError(
                f"the replayed run has no output for sample {sample.id!r}, epoch {epoch}"
            ) from None

    def manifest(self) -> SubjectManifest:
        return self.original

    async def aclose(self) -> None:
        return None


def _model_subject(manifest: SubjectManifest) -> Subject:
    namespace = manifest.config.get("cache_namespace")
    if not namespace or manifest.provider is None or manifest.requested_model is None:
        raise SpecError(
            f"subject {manifest.name!r} was not answered through the response cache "
            "(simulated or replayed provider, or caching was off), so it cannot be replayed",
            fix="re-run the spec instead; simulated runs are reproducible from their seed",
        )
    prompt = PromptTemplate(
        user=manifest.config.get("user", manifest.prompt_template or "{{ input }}"),
        system=manifest.config.get("system"),
    )
    provider = CacheOnlyProvider(manifest.provider, namespace)
    return ModelSubject(
        manifest.name,
        provider=provider,
        model=manifest.requested_model,
        prompt=prompt,
        params=manifest.params,
    )


def _cached_judges(manifest: RunManifest) -> ModelResolver:
    """Judges answer from the response cache too: a judge model resolves to a cache-only
    provider under its recorded namespace, never to a live endpoint."""
    namespaces = {
        f"{j.provider}/{j.model}": (j.provider, j.cache_namespace) for j in manifest.judges
    }

    def resolve(ref: str, where: str | None) -> tuple[Any, str]:
        provider, namespace = namespaces.get(ref, (None, None))
        if provider is None or namespace is None:
            raise SpecError(
                f"judge {ref!r} was not answered through the response cache (simulated, or "
                "caching was off), so it cannot be replayed offline",
                where=where,
                fix="re-run the spec instead; simulated runs are reproducible from their seed",
            )
        return CacheOnlyProvider(provider, namespace), ref.split("/", 1)[1]

    return resolve


def replay_eval(store: Store, run_id: str) -> Eval:
    """An :class:`Eval` that reproduces run ``run_id`` without any network access."""
    manifest = store.get_manifest(run_id)
    if redacted(manifest):
        raise SpecError(
            f"run {run_id} was stored with PII redaction: its stored samples and outputs are "
            "not the originals and its responses were not cached, so it cannot be replayed",
            fix="re-run the spec on the original data instead",
        )
    dataset = Dataset(manifest.dataset.name, store.get_samples(run_id), source=f"run {run_id}")
    subjects: list[Subject] = []
    for sm in manifest.subjects:
        if sm.kind == "model":
            subjects.append(_model_subject(sm))
        else:
            outputs = {
                (r.sample_id, r.epoch): r.output
                for r in store.iter_results(run_id, sm.name)
                if r.output is not None
            }
            subjects.append(StoredOutputsSubject(sm, outputs))
    context = ScorerContext(resolve_model=_cached_judges(manifest))
    scorers: list[Scorer] = []
    for entry in manifest.scorers:
        scorer = create_scorer(
            entry.kind or entry.name,
            dict(entry.config),
            where=f"run {run_id} scorer {entry.name!r}",
            context=context,
        )
        if scorer.name != entry.name:
            scorer.name = entry.name
        scorers.append(scorer)
    return Eval(
        name=manifest.name,
        dataset=dataset,
        subjects=subjects,
        scorers=scorers,
        epochs=manifest.epochs,
        seed=manifest.seed,
        slices=manifest.slices,
        cluster=manifest.cluster,
        spec={"replay_of": run_id},
    )
