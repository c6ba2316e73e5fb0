"""Store an :class:`~assay.importers._model.ImportedRun` as an ordinary run.

The run goes through the store's own writing API, in the order the runner uses:
``create_run`` (manifest and samples in one transaction), ``add_results`` in batches, then
``finish_run``. An imported run therefore has a manifest, samples, results, scores and slices
like any run, and ``show``, ``compare``, ``gate``, ``audit`` and the web UI read it unchanged.

Re-importing the same file is a no-op: the manifest's ``spec_hash`` is the content hash of the
importer, its version, the ``--name`` given (if any) and the file's SHA-256, and
:func:`find_imported` looks it up among stored runs (no table of its own).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from assay.core import EnvironmentManifest, RunManifest, StoreError
from assay.core.hashing import content_hash
from assay.importers._model import ImportedRun

#: Bumped when an importer changes what it stores, so files imported before are imported again.
IMPORTER_VERSIONS = {
    "inspect": "1",
    "promptfoo": "1",
    "lm-eval": "1",
    "alpaca-eval": "1",
    "openai-evals": "1",
}
_BATCH = 500


def import_hash(kind: str, name: str | None, source_sha256: str) -> str:
    """The ``spec_hash`` of an imported run: which importer (and version) read which bytes,
    and the run name the user gave (``None``: the name the file implies)."""
    return content_hash(
        {
            "importer": kind,
            "importer_version": IMPORTER_VERSIONS[kind],
            "name": name,
            "source_sha256": source_sha256,
        }
    )


def find_imported(store: Any, spec_hash: str) -> str | None:
    """The newest complete stored run with this import hash, or ``None``."""
    for info in store.find_runs(spec_hash=spec_hash):
        if info.status == "completed" and info.n_results >= info.n_planned:
            return str(info.id)
    return None


def _new_run_id() -> str:
    # The runner's format (docs/design.md, "Run ids"): sortable UTC time plus 6 random hex.
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _environment(run: ImportedRun) -> EnvironmentManifest:
    from assay.run.environment import assay_version

    versions = {run.tool: run.tool_version or "unknown", **run.tool_versions}
    versions[f"assay-importer-{run.kind}"] = IMPORTER_VERSIONS[run.kind]
    return EnvironmentManifest(
        assay_version=assay_version(),
        git_sha=run.git_sha or "unknown",
        python=run.python or "unknown",
        platform=run.platform or "unknown",
        tool_versions=versions,
    )


def build_manifest(run: ImportedRun, run_id: str, name_given: str | None = None) -> RunManifest:
    """The manifest of an imported run (with ``run_id``; ``name_given`` the ``--name`` the
    user gave, part of the import hash)."""
    from assay.data import Dataset

    dataset = Dataset(
        run.dataset_name,
        run.samples,
        source=f"{run.source.name} (sha256:{run.source_sha256[:16]})",
    )
    started = run.started_at or datetime.now(UTC)
    return RunManifest(
        run_id=run_id,
        name=run.name,
        spec_hash=import_hash(run.kind, name_given, run.source_sha256),
        dataset=dataset.manifest(),
        subjects=run.subjects,
        scorers=run.scorers,
        judges=run.judges,
        epochs=max(1, run.epochs),
        seed=run.seed,
        slices=run.slices,
        cluster=run.cluster,
        environment=_environment(run),
        started_at=started,
        finished_at=run.finished_at or started,
    )


def write_run(store: Any, run: ImportedRun, *, name_given: str | None = None) -> str:
    """Store ``run``; its new run id. A failure part-way leaves the run ``running`` (never a
    half-run that looks complete), and a later import of the same file starts afresh."""
    run_id = _new_run_id()
    manifest = build_manifest(run, run_id, name_given)
    store.create_run(manifest, run.samples, n_planned=len(run.results))
    for start in range(0, len(run.results), _BATCH):
        store.add_results(run_id, run.results[start : start + _BATCH])
        # The run is ours while it is written: renew its lease each batch (as the runner's
        # heartbeat does), so a long import is never shown as interrupted nor taken over.
        if not store.renew_lease(run_id):
            raise StoreError(
                f"lost the lease of run {run_id} while importing it: another process took the "
                "run over",
                fix="import the file again (it is stored as a new run)",
            )
    store.finish_run(run_id, manifest, "completed")
    try:
        from assay.analyse.summary_cache import refresh_summary
    except ImportError:  # a tree without the runs-list summary cache
        return run_id
    refresh_summary(store, run_id)
    return run_id
