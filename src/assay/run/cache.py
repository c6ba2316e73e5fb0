"""The response cache's keys, and a provider that answers only from the cache (for replay)."""

from __future__ import annotations

from typing import Any

from assay.core import ModelRequest, Output, ProviderError


def cache_namespace(provider: Any) -> str | None:
    """The part of a cache key naming *where* a request goes, or ``None`` when the provider's
    answers must not be cached (the simulated world, replayed cassettes).

    A provider may say so itself (``cache_namespace`` attribute; empty means "don't cache");
    otherwise an HTTP provider is identified by its class and base URL, so two servers that
    both call their model ``llama`` never share entries.
    """
    namespace = getattr(provider, "cache_namespace", None)
    if namespace is not None:
        return str(namespace) or None
    base_url = getattr(provider, "base_url", None)
    return f"{type(provider).__name__}:{base_url}" if base_url else None


class CacheOnlyProvider:
    """Stands in for a recorded provider when replaying a run offline.

    It carries the original provider's name and cache namespace, so the runner finds every
    response in the store's cache under the same keys; a request that is not there fails with
    ``cache_miss`` instead of reaching the network.
    """

    def __init__(self, name: str, namespace: str) -> None:
        self.name = name
        self.cache_namespace = namespace

    async def generate(self, request: ModelRequest) -> Output:
        raise ProviderError(
            f"no cached response for model {request.model!r} "
            f"(request {request.request_hash(provider=self.cache_namespace)[:16]})",
            error_class="cache_miss",
            retryable=False,
            where=self.name,
            fix="replay needs the run's responses in this store's cache",
        )

    async def aclose(self) -> None:
        return None
