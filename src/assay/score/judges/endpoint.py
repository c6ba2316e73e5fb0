"""A judge's model endpoint, and how judge calls reach it.

Judge scorers never call a provider themselves: they call ``caller.call_model(provider,
request)``, and the runner binds itself as the caller before a run (``scorer.bind(runner)``),
so judge calls share the run's response cache, per-endpoint gateways (pacing, timeouts,
retries) and accounting of resolved models. Outside a run, :class:`DirectCaller` sends calls
straight to the provider (no cache, no retries) for notebooks and quick checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from assay.core import ConfigError, JudgeManifest, ModelRequest, Output
from assay.score.base import ScorerContext


class ModelCaller(Protocol):
    """What a judge needs from a runner: :meth:`assay.run.Runner.call_model`."""

    async def call_model(self, provider: Any, request: ModelRequest) -> tuple[Output, int, bool]:
        """Send ``request`` to ``provider``; (output, attempts, served from cache)."""
        ...


class DirectCaller:
    """Calls the provider directly: no cache, no pacing, no retries (use outside a run)."""

    async def call_model(self, provider: Any, request: ModelRequest) -> tuple[Output, int, bool]:
        return await provider.generate(request), 1, False


def _default_resolver(ref: str, where: str | None) -> tuple[Any, str]:
    from assay.providers import create_provider, known_provider_kinds

    provider_name, _, model = ref.partition("/")
    if not model or provider_name not in known_provider_kinds():
        raise ConfigError(
            f"judge {ref!r} is not <provider>/<model> with a known provider",
            where=where,
            fix="write e.g. judge: openai/gpt-4o-mini or judge: sim/judge-fair",
        )
    return create_provider(provider_name), model


@dataclass
class JudgeEndpoint:
    """One judge model: where it is served and with which parameters, plus what its responses
    said served them (resolved models and fingerprints, in order of first appearance)."""

    ref: str
    provider: Any
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, None] = field(default_factory=dict)
    fingerprints: dict[str, None] = field(default_factory=dict)

    def observe(self, output: Output) -> None:
        """Record the snapshot and fingerprint a response reported."""
        if output.model:
            self.resolved.setdefault(output.model)
        if output.system_fingerprint:
            self.fingerprints.setdefault(output.system_fingerprint)

    def manifest(
        self, name: str, kind: str, prompt_template: str, prompt_hash: str
    ) -> JudgeManifest:
        """The manifest entry of this judge (C5)."""
        from assay.run.cache import cache_namespace  # run imports score: import when called

        return JudgeManifest(
            name=name,
            model=self.model,
            provider=getattr(self.provider, "name", None),
            kind=kind,
            resolved_models=list(self.resolved),
            system_fingerprints=list(self.fingerprints),
            prompt_template=prompt_template,
            prompt_hash=prompt_hash,
            params=dict(self.params),
            cache_namespace=cache_namespace(self.provider),
        )


def resolve_endpoints(
    judge: str | list[str] | tuple[str, ...],
    params: dict[str, Any],
    context: ScorerContext | None,
    where: str | None = None,
) -> list[JudgeEndpoint]:
    """The endpoints a ``judge:`` option names (one, or a panel as a list)."""
    refs = [judge] if isinstance(judge, str) else list(judge)
    if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise ValueError("`judge` must be <provider>/<model> or a list of them (a panel)")
    if len(set(refs)) != len(refs):
        raise ValueError(f"the panel names a judge twice: {refs}")
    resolver = context.resolve_model if context and context.resolve_model else _default_resolver
    endpoints = []
    for ref in refs:
        provider, model = resolver(ref, where)
        check = getattr(provider, "check_model", None)
        if check is not None:
            check(model)
        endpoints.append(JudgeEndpoint(ref=ref, provider=provider, model=model, params=params))
    return endpoints
