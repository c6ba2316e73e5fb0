"""The model seam: providers turn a :class:`~assay.core.ModelRequest` into an
:class:`~assay.core.Output`.

- :class:`OpenAICompatProvider`: any OpenAI-compatible chat-completions server (aiohttp);
- :class:`AnthropicProvider`: Anthropic's Messages API (aiohttp, no SDK needed);
- :class:`ReplayProvider` / :class:`RecordingProvider` / :class:`Cassette`: recorded fixtures
  with expiry and snapshot checks (A6);
- :class:`SimProvider`: the seeded simulated world with known ground truth (simulation only),
  including :class:`SimJudge` judges with planted defects;
- :class:`LineageRegistry`: model name → family, for the judge independence check (C3);
- :func:`create_provider`: build any of these (or an ``assay.providers`` entry point) by kind.
"""

from assay.providers.anthropic import AnthropicProvider
from assay.providers.base import Provider
from assay.providers.lineage import (
    LineageRegistry,
    LineageRule,
    default_registry,
    model_families,
)
from assay.providers.openai_compat import OpenAICompatProvider, parse_retry_after
from assay.providers.registry import (
    create_provider,
    known_provider_kinds,
    register_provider_kind,
)
from assay.providers.replay import (
    CASSETTE_FORMAT,
    Cassette,
    CassetteHeader,
    RecordingProvider,
    ReplayProvider,
    cassette_key,
)
from assay.providers.sim import SIM_SYSTEMS, PromptEffect, SimProvider, SimSystem, item_difficulty
from assay.providers.sim_judges import INJECTION_PATTERN, SIM_JUDGES, SimDrift, SimJudge

__all__ = [
    "CASSETTE_FORMAT",
    "INJECTION_PATTERN",
    "SIM_JUDGES",
    "SIM_SYSTEMS",
    "AnthropicProvider",
    "Cassette",
    "CassetteHeader",
    "LineageRegistry",
    "LineageRule",
    "OpenAICompatProvider",
    "PromptEffect",
    "Provider",
    "RecordingProvider",
    "ReplayProvider",
    "SimDrift",
    "SimJudge",
    "SimProvider",
    "SimSystem",
    "cassette_key",
    "create_provider",
    "default_registry",
    "item_difficulty",
    "known_provider_kinds",
    "model_families",
    "parse_retry_after",
    "register_provider_kind",
]
