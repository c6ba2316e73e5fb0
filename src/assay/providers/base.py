"""The model seam: a provider turns a `ModelRequest` into an `Output`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from assay.core import ModelRequest, Output


@runtime_checkable
class Provider(Protocol):
    """Anything that can answer a chat request.

    ``name`` identifies the provider instance (``openai``, ``sim``, a name from the spec's
    ``providers:`` table) and is part of every cache key. ``generate`` raises
    :class:`~assay.core.ProviderError` (with ``error_class`` and ``retryable``) when a call fails;
    it never returns a half-filled output. ``aclose`` releases connections.
    """

    name: str

    async def generate(self, request: ModelRequest) -> Output: ...

    async def aclose(self) -> None: ...
