"""Provider kinds by name: the built-in ones and those registered under the ``assay.providers``
entry-point group (each a callable ``(config: dict, name: str) -> Provider``).

Built-in kinds and their defaults:

========================== ================================= ==================
kind                       base_url                          api_key_env
========================== ================================= ==================
``openai``, ``openai_compat`` ``$OPENAI_BASE_URL`` or OpenAI's  ``OPENAI_API_KEY``
``vllm``                   ``http://127.0.0.1:8000/v1``      none
``ollama``                 ``http://127.0.0.1:11434/v1``     none
``llamacpp``               ``http://127.0.0.1:8080/v1``      none
``anthropic``              ``https://api.anthropic.com``     ``ANTHROPIC_API_KEY``
``sim``                    the simulated world (config: ``systems``, ``judges``, ``world_seed``,
                           ``slice_key``, ``today``)
``replay``                 a cassette (config: ``cassette``, ``expected_snapshot``)
========================== ================================= ==================

``anthropic`` also takes ``anthropic_version`` and ``default_max_tokens``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from datetime import date
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.core import ConfigError
from assay.providers.anthropic import (
    DEFAULT_ANTHROPIC_BASE_URL,
    DEFAULT_ANTHROPIC_VERSION,
    AnthropicProvider,
)
from assay.providers.base import Provider
from assay.providers.openai_compat import DEFAULT_OPENAI_BASE_URL, OpenAICompatProvider
from assay.providers.replay import ReplayProvider
from assay.providers.sim import SimProvider

ENTRY_POINT_GROUP = "assay.providers"
ProviderFactory = Callable[[dict[str, Any], str], Provider]


class _OpenAIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    api_key_env: str | None = None  # default per kind when not given
    timeout: float = Field(60.0, gt=0)
    headers: dict[str, str] | None = None


class _AnthropicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    api_key_env: str | None = "ANTHROPIC_API_KEY"
    timeout: float = Field(60.0, gt=0)
    anthropic_version: str = DEFAULT_ANTHROPIC_VERSION
    default_max_tokens: int = Field(1024, gt=0)
    headers: dict[str, str] | None = None


class _SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    systems: dict[str, Any] | None = None
    judges: dict[str, Any] | None = None
    world_seed: int = 0
    slice_key: str = "slice"
    today: date | None = None


class _ReplayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cassette: str
    expected_snapshot: str | None = None


# kind -> (default base_url or None for "read OPENAI_BASE_URL", default api_key_env)
_OPENAI_FLAVOURS: dict[str, tuple[str | None, str | None]] = {
    "openai": (None, "OPENAI_API_KEY"),
    "openai_compat": (None, "OPENAI_API_KEY"),
    "vllm": ("http://127.0.0.1:8000/v1", None),
    "ollama": ("http://127.0.0.1:11434/v1", None),
    "llamacpp": ("http://127.0.0.1:8080/v1", None),
}

_registered: dict[str, ProviderFactory] = {}


def register_provider_kind(kind: str, factory: ProviderFactory) -> None:
    """Register a provider kind in this process (entry points do the same for packages)."""
    _registered[kind] = factory


def _entry_point_kinds() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_provider_kinds() -> list[str]:
    """Every kind :func:`create_provider` accepts, sorted."""
    kinds = set(_OPENAI_FLAVOURS) | {"anthropic", "sim", "replay"} | set(_registered)
    kinds |= set(_entry_point_kinds())
    return sorted(kinds)


def _validate(model: type[BaseModel], config: dict[str, Any], kind: str, where: str) -> Any:
    if not isinstance(config, dict):
        raise ConfigError(
            f"provider config for kind {kind!r} must be a mapping, not {type(config).__name__}",
            where=where,
        )
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        known = ", ".join(model.model_fields)
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][0]), list(model.model_fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown config key {field!r} for provider kind {kind!r}",
                where=f"{where}.{field}",
                fix=f"{hint}known keys: {known}",
            ) from exc
        if err["type"] == "missing":
            raise ConfigError(
                f"provider kind {kind!r} needs config key {field!r}",
                where=where,
                fix=f"add {field}: ... to the provider config",
            ) from exc
        raise ConfigError(
            f"invalid value for {field!r}: {err['msg']}", where=f"{where}.{field}"
        ) from exc


def create_provider(
    kind: str,
    config: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    where: str | None = None,
) -> Provider:
    """Build a provider of ``kind`` from its config mapping.

    ``name`` defaults to the kind; ``where`` (a spec location such as
    ``eval.yaml:7 (providers.local)``) is used in error messages. Unknown kinds and unknown
    config keys raise :class:`~assay.core.ConfigError`.
    """
    config = {} if config is None else config
    name = name or kind
    where = where or f"providers.{name}"
    key = kind.strip().lower().replace("-", "_")

    if key in _OPENAI_FLAVOURS:
        cfg = _validate(_OpenAIConfig, config, kind, where)
        default_url, default_env = _OPENAI_FLAVOURS[key]
        base_url = cfg.base_url or default_url
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        api_key_env = cfg.api_key_env if "api_key_env" in cfg.model_fields_set else default_env
        return OpenAICompatProvider(
            name=name,
            base_url=base_url,
            api_key_env=api_key_env,
            timeout=cfg.timeout,
            headers=cfg.headers,
            where=where,
        )
    if key == "anthropic":
        cfg = _validate(_AnthropicConfig, config, kind, where)
        return AnthropicProvider(
            name=name,
            base_url=cfg.base_url,
            api_key_env=cfg.api_key_env,
            timeout=cfg.timeout,
            anthropic_version=cfg.anthropic_version,
            default_max_tokens=cfg.default_max_tokens,
            headers=cfg.headers,
            where=where,
        )
    if key == "sim":
        cfg = _validate(_SimConfig, config, kind, where)
        return SimProvider(
            name=name,
            systems=cfg.systems,
            judges=cfg.judges,
            world_seed=cfg.world_seed,
            slice_key=cfg.slice_key,
            today=cfg.today,
            where=where,
        )
    if key == "replay":
        cfg = _validate(_ReplayConfig, config, kind, where)
        return ReplayProvider(cfg.cassette, name=name, expected_snapshot=cfg.expected_snapshot)

    factory: Any = _registered.get(kind)
    if factory is None:
        ep = _entry_point_kinds().get(kind)
        if ep is not None:
            try:
                factory = ep.load()
            except Exception as exc:
                raise ConfigError(
                    f"cannot load provider kind {kind!r} from entry point {ep.value!r}: {exc}",
                    where=where,
                    fix="check that the package providing it is installed",
                ) from exc
    if factory is None:
        known = known_provider_kinds()
        close = difflib.get_close_matches(kind, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown provider kind {kind!r}",
            where=where,
            fix=f"{hint}known kinds: {', '.join(known)}",
        )
    provider = factory(config, name)
    if not isinstance(provider, Provider):
        raise ConfigError(
            f"provider kind {kind!r} returned {type(provider).__name__}, not a Provider",
            where=where,
        )
    return provider
