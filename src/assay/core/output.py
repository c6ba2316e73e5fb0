"""What a subject produced for a sample, and the request that produced it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.core.hashing import content_hash
from assay.core.sample import Message


class Usage(BaseModel):
    """Token usage as reported by the provider (``None`` where it did not say)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ModelRequest(BaseModel):
    """A provider-neutral chat request.

    ``epoch`` and ``seed`` are part of the request's identity so that repeated samples stay
    distinct in a cache. ``context`` carries facts about the sample (id, metadata, target) that
    only the simulated world reads; real providers never send it anywhere.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    messages: tuple[Message, ...]
    params: dict[str, Any] = Field(default_factory=dict)
    epoch: int = 0
    seed: int | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    def request_hash(self, provider: str = "") -> str:
        """Content address of the request: provider, model, messages, params, epoch and seed."""
        return content_hash(
            {
                "provider": provider,
                "model": self.model,
                "messages": [m.model_dump() for m in self.messages],
                "params": self.params,
                "epoch": self.epoch,
                "seed": self.seed,
            }
        )


class Output(BaseModel):
    """A subject's output for one sample.

    ``model`` is the *resolved* model the endpoint says served the call (which can differ from
    the requested one when an alias moves); ``system_fingerprint`` is the backend configuration
    id when the provider reports one. ``raw`` keeps the provider's response body for audit (with
    nothing from the request's headers, so no credential can end up there). ``metadata`` holds
    extra facts; the simulated world keeps its ground truth there under ``"sim"``.
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    model: str | None = None
    system_fingerprint: str | None = None
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float | None = None
    raw: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
