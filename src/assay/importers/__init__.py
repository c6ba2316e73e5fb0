"""Other tools' results as assay runs: Inspect AI, promptfoo, lm-evaluation-harness,
AlpacaEval and openai/evals (issue 19).

Each importer module reads one tool's own file format into an ``ImportedRun`` (``_model``);
``_write`` stores it through the store's normal run-writing API, so ``show``, ``compare``,
``gate``, ``audit`` and the web UI read an imported run like any other. :func:`import_file`
detects the kind (by extension and content) unless told, and reuses a run already imported from
the same bytes (the file's SHA-256 is part of the run's ``spec_hash``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from assay.importers._model import ImportedRun, ImportFileError

#: KIND → module, in the order auto-detection tries them.
_MODULES = {
    "inspect": "assay.importers.inspect_log",
    "promptfoo": "assay.importers.promptfoo",
    "lm-eval": "assay.importers.lm_eval",
    "alpaca-eval": "assay.importers.alpaca_eval",
    "openai-evals": "assay.importers.openai_evals",
}
KINDS: tuple[str, ...] = tuple(_MODULES)
EXPECTED = (
    "an Inspect AI log (.eval or .json), a promptfoo results.json, an lm-evaluation-harness "
    "samples_<task>_<date>.jsonl, AlpacaEval annotations.json or an openai/evals log (.jsonl)"
)
_SUFFIXES = {".eval", ".json", ".jsonl"}


def _module(kind: str) -> ModuleType:
    if kind not in _MODULES:
        raise ImportFileError(
            f"unknown import kind {kind!r}", where="KIND", fix=f"use one of {', '.join(KINDS)}"
        )
    return importlib.import_module(_MODULES[kind])


def _existing_file(path: Path) -> Path:
    if not path.exists():
        raise ImportFileError("no such file", where=str(path), fix="check the path")
    if not path.is_file():
        raise ImportFileError("is not a file", where=str(path), fix=f"give {EXPECTED}")
    return path


def detect_kind(path: Path) -> str:
    """The kind of result file ``path`` is, from its extension and first bytes.

    Raises :class:`ImportFileError` naming what was expected when no importer recognises it.
    """
    _existing_file(path)
    with path.open("rb") as fh:
        head = fh.read(8192)
    if path.suffix == ".eval":
        candidates = ["inspect"]
    elif path.suffix == ".jsonl":
        candidates = ["lm-eval", "openai-evals"]
    else:
        candidates = list(KINDS)
    for kind in candidates:
        if _module(kind).looks_like(path, head):
            return kind
    raise ImportFileError(
        "is not a result file assay recognises",
        where=str(path),
        fix=f"give {EXPECTED}, or name the kind: assay import KIND PATH",
    )


def looks_like_file(ref: str) -> bool:
    """Whether a run reference names an existing file (so it is imported, not looked up)."""
    path = Path(ref)
    return path.is_file() or (path.suffix in _SUFFIXES and path.exists())


def read_file(path: Path, kind: str | None = None, name: str | None = None) -> ImportedRun:
    """Read ``path`` (of ``kind``, else detected) into an :class:`ImportedRun`, unstored."""
    from assay.importers._model import file_sha256

    kind = kind or detect_kind(path)
    run: ImportedRun = _module(kind).read(_existing_file(path), file_sha256(path), name)
    return run


@dataclass(frozen=True)
class ImportOutcome:
    """What :func:`import_file` did: the stored run's id, the kind of file, and whether an
    earlier import of the same bytes was reused (``reused``) instead of storing a new run."""

    run_id: str
    kind: str
    path: Path
    reused: bool
    n_samples: int
    n_results: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "path": str(self.path),
            "reused": self.reused,
            "n_samples": self.n_samples,
            "n_results": self.n_results,
        }


def import_file(
    store: Any, path: Path, *, kind: str | None = None, name: str | None = None
) -> ImportOutcome:
    """Import ``path`` into ``store`` (or find the run an earlier import of the same bytes,
    kind and name stored)."""
    from assay.importers._model import file_sha256
    from assay.importers._write import find_imported, import_hash, write_run

    kind = kind or detect_kind(path)
    _module(kind)
    sha256 = file_sha256(_existing_file(path))
    found = find_imported(store, import_hash(kind, name, sha256))
    if found is not None:
        info = store.get_run(found)
        manifest = store.get_manifest(found)
        return ImportOutcome(found, kind, path, True, manifest.dataset.n_samples, info.n_results)
    run: ImportedRun = _module(kind).read(path, sha256, name)
    run_id = write_run(store, run, name_given=name)
    return ImportOutcome(run_id, kind, path, False, len(run.samples), len(run.results))


def resolve_run_or_file(store: Any, ref: str) -> str:
    """The run id ``ref`` names: a result file is imported (or its earlier import reused),
    anything else is resolved as a run reference."""
    if looks_like_file(ref):
        return import_file(store, Path(ref)).run_id
    return str(store.resolve_run_id(ref))


__all__ = [
    "EXPECTED",
    "KINDS",
    "ImportFileError",
    "ImportOutcome",
    "ImportedRun",
    "detect_kind",
    "import_file",
    "looks_like_file",
    "read_file",
    "resolve_run_or_file",
]
