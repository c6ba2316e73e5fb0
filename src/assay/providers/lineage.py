"""Model lineage: which family a model name or snapshot belongs to (REQUIREMENTS C3).

A judge from the same family as the model it grades tends to prefer that model's outputs
(self-preference: Panickssery et al. 2024, "LLM Evaluators Recognize and Favor Their Own
Generations", arXiv 2404.13076), so a run whose judge shares a family with a subject warns
``same_lineage_judge``. The family of a name is found by rules, each a regular expression
searched in the lower-cased name, tried in order; *every* matching rule contributes, so a
distilled model such as ``deepseek-r1-distill-llama-70b`` belongs to both ``deepseek`` and
``meta-llama`` and clashes with judges of either.

Names are matched as written anywhere assay sees them: ``gpt-4o-2024-08-06``,
``openai/gpt-4o-mini``, ``meta-llama/Llama-3.1-8B-Instruct``, ``llama3.1:8b`` (Ollama tags),
``ft:gpt-4o-mini:org::id`` (fine-tunes), ``sim:atlas-large@2026-01`` (the simulated world).

The table is maintained here; users extend it in a spec (``lineage: {"my-bot-*": openai-gpt}``,
glob patterns, or ``re:<regex>``) or from a package through the ``assay.lineage`` entry-point
group (each entry a callable returning such a mapping). User rules are tried before the
built-in ones and, like them, add families rather than replace them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from assay.core import ConfigError

ENTRY_POINT_GROUP = "assay.lineage"


@dataclass(frozen=True)
class LineageRule:
    """``pattern`` (a compiled regex searched in the lower-cased name) → ``family``."""

    pattern: re.Pattern[str]
    family: str
    source: str = "built-in"

    def matches(self, name: str) -> bool:
        return self.pattern.search(name) is not None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# The maintained table. A boundary is "start, or a character that is not a letter or digit",
# so `o1` matches `o1-mini` and `openai/o1` but not `gpt-4o1x` or `pro1`.
_B = r"(?:^|[^a-z0-9])"
BUILTIN_RULES: tuple[LineageRule, ...] = (
    # OpenAI: GPT-3.5, GPT-4 (turbo, 4o, 4o-mini, 4.1, 4.5), GPT-5, the o-series, ChatGPT.
    LineageRule(_rx(_B + r"(?:chat)?gpt-?[345]"), "openai-gpt"),
    LineageRule(_rx(_B + r"o[1345](?:-|$|:|@)"), "openai-gpt"),
    LineageRule(_rx(_B + r"(?:text-)?davinci"), "openai-gpt"),
    # Anthropic.
    LineageRule(_rx(_B + r"claude"), "anthropic-claude"),
    # Meta Llama (and Code Llama).
    LineageRule(_rx(r"llama"), "meta-llama"),
    # Alibaba Qwen (and QwQ).
    LineageRule(_rx(_B + r"(?:qwen|qwq)"), "alibaba-qwen"),
    # Mistral AI: Mistral, Mixtral, Codestral, Ministral, Magistral, Pixtral, Devstral.
    LineageRule(
        _rx(r"(?:mistral|mixtral|codestral|ministral|magistral|pixtral|devstral)"), "mistral"
    ),
    # Google: Gemma (open weights) and Gemini are kept apart; both are Google's.
    LineageRule(_rx(_B + r"(?:code|shield|med)?gemma"), "google-gemma"),
    LineageRule(_rx(_B + r"gemini"), "google-gemini"),
    # DeepSeek.
    LineageRule(_rx(_B + r"deepseek"), "deepseek"),
    # Microsoft Phi.
    LineageRule(_rx(_B + r"phi-?[1-9]"), "microsoft-phi"),
    # Cohere Command, xAI Grok, 01.AI Yi, TII Falcon.
    LineageRule(_rx(_B + r"command-?(?:r|a|light|nightly)"), "cohere-command"),
    LineageRule(_rx(_B + r"grok"), "xai-grok"),
    LineageRule(_rx(_B + r"yi-(?:\d|large|lightning|vision)"), "01ai-yi"),
    LineageRule(_rx(_B + r"falcon"), "tii-falcon"),
    # The simulated world's built-in systems and judges (SIMULATION ONLY); user-defined sim
    # systems report their family through the sim provider instead.
    LineageRule(_rx(_B + r"atlas-"), "sim:atlas"),
    LineageRule(_rx(_B + r"boreal-"), "sim:boreal"),
    LineageRule(_rx(_B + r"cirrus-"), "sim:cirrus"),
)


def _compile_user_pattern(pattern: str, where: str) -> re.Pattern[str]:
    if pattern.startswith("re:"):
        try:
            return _rx(pattern[3:])
        except re.error as exc:
            raise ConfigError(
                f"lineage pattern {pattern!r} is not a valid regular expression: {exc}",
                where=where,
            ) from None
    # A glob matches the whole name or any path segment of it (`gpt-4o*` matches
    # `openai/gpt-4o-mini`).
    body = fnmatch.translate(pattern.lower()).removeprefix("(?s:").removesuffix(")\\Z")
    return _rx(r"(?:^|/)" + body + r"$")


def rules_from_mapping(mapping: Mapping[str, Any], *, source: str) -> list[LineageRule]:
    """Rules from a ``{pattern: family}`` mapping (a spec's ``lineage:`` or an entry point)."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(
            "lineage must be a mapping of model-name patterns to family names",
            where=source,
            fix='write e.g. lineage: {"acme-chat-*": acme}',
        )
    rules = []
    for pattern, family in mapping.items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise ConfigError(f"lineage pattern {pattern!r} is empty", where=source)
        if not isinstance(family, str) or not family.strip():
            raise ConfigError(
                f"lineage family for {pattern!r} must be a non-empty name", where=source
            )
        where = f"{source}.{pattern}"
        rules.append(LineageRule(_compile_user_pattern(pattern, where), family.strip(), source))
    return rules


class LineageRegistry:
    """Model name → families. ``rules`` are tried before :data:`BUILTIN_RULES`."""

    def __init__(self, rules: Iterable[LineageRule] = (), *, builtin: bool = True) -> None:
        self.rules: tuple[LineageRule, ...] = tuple(rules) + (BUILTIN_RULES if builtin else ())

    def extended(self, mapping: Mapping[str, Any], *, source: str = "lineage") -> LineageRegistry:
        """A registry with ``mapping``'s rules tried first."""
        extra = rules_from_mapping(mapping, source=source)
        registry = LineageRegistry(builtin=False)
        registry.rules = tuple(extra) + self.rules
        return registry

    def families(self, model: str | None) -> frozenset[str]:
        """Every family ``model`` belongs to (empty when no rule matches)."""
        if not model:
            return frozenset()
        name = model.strip().lower()
        return frozenset(rule.family for rule in self.rules if rule.matches(name))

    def family(self, model: str | None) -> str | None:
        """The first family ``model`` belongs to, or ``None``."""
        name = (model or "").strip().lower()
        for rule in self.rules:
            if name and rule.matches(name):
                return rule.family
        return None


@lru_cache(maxsize=1)
def default_registry() -> LineageRegistry:
    """The built-in table plus every ``assay.lineage`` entry point's rules."""
    extra: list[LineageRule] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            mapping = ep.load()
            if callable(mapping):
                mapping = mapping()
        except Exception as exc:
            raise ConfigError(
                f"cannot load lineage entry point {ep.name!r} ({ep.value}): {exc}",
                fix="check that the package providing it is installed",
            ) from exc
        extra.extend(rules_from_mapping(mapping, source=f"entry point {ep.name}"))
    return LineageRegistry(extra)


def model_families(
    model: str | None, provider: Any = None, registry: LineageRegistry | None = None
) -> frozenset[str]:
    """The families of ``model`` as served by ``provider``.

    A provider that knows its models' lineage (the simulated world does, through
    ``model_family(model)``) is asked first; the registry's rules are added to its answer.
    """
    registry = registry or default_registry()
    found = set(registry.families(model))
    ask = getattr(provider, "model_family", None)
    if callable(ask) and model:
        family = ask(model)
        if family:
            found.add(str(family))
    return frozenset(found)
