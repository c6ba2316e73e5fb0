"""create_provider: built-in kinds, defaults, config validation, entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from assay.core import ConfigError, Message, ModelRequest, Output
from assay.providers import (
    Cassette,
    OpenAICompatProvider,
    Provider,
    ReplayProvider,
    SimProvider,
    create_provider,
    known_provider_kinds,
    register_provider_kind,
)
from assay.providers import registry as registry_module


class EchoProvider:
    def __init__(self, name: str, prefix: str) -> None:
        self.name = name
        self.prefix = prefix

    async def generate(self, request: ModelRequest) -> Output:
        return Output(text=self.prefix + request.messages[-1].content)

    async def aclose(self) -> None:
        return None


def echo_factory(config: dict[str, Any], name: str) -> Provider:
    return EchoProvider(name, config.get("prefix", ""))


def test_known_kinds() -> None:
    kinds = known_provider_kinds()
    for kind in ["openai", "openai_compat", "vllm", "ollama", "llamacpp", "sim", "replay"]:
        assert kind in kinds
    assert kinds == sorted(kinds)


@pytest.mark.parametrize(
    ("kind", "base_url", "api_key_env"),
    [
        ("vllm", "http://127.0.0.1:8000/v1", None),
        ("ollama", "http://127.0.0.1:11434/v1", None),
        ("llamacpp", "http://127.0.0.1:8080/v1", None),
    ],
)
def test_local_server_defaults(kind: str, base_url: str, api_key_env: str | None) -> None:
    provider = create_provider(kind, {})
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.name, provider.base_url, provider.api_key_env) == (kind, base_url, api_key_env)


def test_openai_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    provider = create_provider("openai", {})
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.api_key_env == "OPENAI_API_KEY"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy.local/v1/")
    provider = create_provider("openai_compat", {"timeout": 5}, name="gw")
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.name, provider.base_url, provider.timeout) == (
        "gw",
        "http://proxy.local/v1",
        5,
    )
    # explicit config wins, including api_key_env: null
    provider = create_provider(
        "openai",
        {"base_url": "http://127.0.0.1:9/v1", "api_key_env": None, "headers": {"X-A": "1"}},
    )
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.base_url == "http://127.0.0.1:9/v1" and provider.api_key_env is None


def test_openai_missing_key_names_where(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        create_provider("openai", {}, where="eval.yaml:4 (providers.openai)")
    assert str(info.value).startswith(
        "eval.yaml:4 (providers.openai): environment variable OPENAI_API_KEY is not set"
    )


def test_sim_and_replay(tmp_path: Path) -> None:
    sim = create_provider("sim", {"world_seed": 3, "systems": {"x": {"family": "f"}}}, name="world")
    assert isinstance(sim, SimProvider)
    assert (sim.name, sim.world_seed) == ("world", 3) and "x" in sim.systems

    path = tmp_path / "c.jsonl"
    request = ModelRequest(model="m", messages=(Message(role="user", content="hi"),))
    Cassette.write(path, [(request, Output(text="recorded", model="m-1"))])
    replay = create_provider("replay", {"cassette": str(path), "expected_snapshot": "m-1"})
    assert isinstance(replay, ReplayProvider) and replay.name == "replay"


def test_unknown_kind_suggests_closest() -> None:
    with pytest.raises(ConfigError) as info:
        create_provider("opneai", {}, where="eval.yaml:3")
    text = str(info.value)
    assert text.startswith("eval.yaml:3: unknown provider kind 'opneai'")
    assert "did you mean 'openai'" in text
    assert "sim" in text and "replay" in text and "ollama" in text


@pytest.mark.parametrize(
    ("kind", "config", "needle"),
    [
        ("openai", {"base_ur": "x"}, "unknown config key 'base_ur'"),
        ("vllm", {"api_key": "sk-123"}, "unknown config key 'api_key'"),
        ("sim", {"seed": 1}, "unknown config key 'seed'"),
        ("replay", {"cassette": "x", "snapshot": "y"}, "unknown config key 'snapshot'"),
        ("replay", {}, "needs config key 'cassette'"),
        ("ollama", {"timeout": "soon"}, "invalid value for 'timeout'"),
        ("ollama", {"timeout": -1}, "invalid value for 'timeout'"),
        ("sim", {"world_seed": "x"}, "invalid value for 'world_seed'"),
        ("sim", ["not", "a", "dict"], "must be a mapping"),
    ],
)
def test_bad_config(kind: str, config: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_provider(kind, config, name="p")
    assert needle in str(info.value)
    assert "providers.p" in str(info.value)


def test_unknown_key_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'base_url'"):
        create_provider("vllm", {"base_ur": "http://x/v1"})


def test_registered_kind() -> None:
    register_provider_kind("echo-test", echo_factory)
    try:
        assert "echo-test" in known_provider_kinds()
        provider = create_provider("echo-test", {"prefix": ">"}, name="e")
        assert isinstance(provider, EchoProvider) and provider.name == "e"
    finally:
        registry_module._registered.pop("echo-test")


def test_entry_point_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        EntryPoint(name="echo-ep", value=f"{__name__}:echo_factory", group="assay.providers"),
        EntryPoint(name="broken-ep", value="no_such_module_xyz:f", group="assay.providers"),
    ]

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    assert {"echo-ep", "broken-ep"} <= set(known_provider_kinds())
    provider = create_provider("echo-ep", {"prefix": "!"})
    assert isinstance(provider, EchoProvider) and provider.prefix == "!"
    with pytest.raises(ConfigError, match="cannot load provider kind 'broken-ep'"):
        create_provider("broken-ep", {})
