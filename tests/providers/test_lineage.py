import pytest

from assay.core import ConfigError
from assay.providers import LineageRegistry, SimProvider, default_registry, model_families


@pytest.mark.parametrize(
    ("model", "families"),
    [
        ("gpt-4o-2024-08-06", {"openai-gpt"}),
        ("gpt-4o-mini", {"openai-gpt"}),
        ("openai/gpt-4.1-nano", {"openai-gpt"}),
        ("o1-mini", {"openai-gpt"}),
        ("o3", {"openai-gpt"}),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", {"openai-gpt"}),
        ("chatgpt-4o-latest", {"openai-gpt"}),
        ("claude-3-5-sonnet-20241022", {"anthropic-claude"}),
        ("meta-llama/Llama-3.1-8B-Instruct", {"meta-llama"}),
        ("llama3.1:8b", {"meta-llama"}),
        ("Qwen/Qwen2.5-72B-Instruct", {"alibaba-qwen"}),
        ("mixtral-8x22b-instruct", {"mistral"}),
        ("gemma-2-27b-it", {"google-gemma"}),
        ("gemini-1.5-pro-002", {"google-gemini"}),
        ("deepseek-r1-distill-llama-70b", {"deepseek", "meta-llama"}),  # a distillation is both
        ("Phi-3.5-mini-instruct", {"microsoft-phi"}),
        ("sim:atlas-large@2026-01", {"sim:atlas"}),
        ("pro1", set()),
        ("", set()),
    ],
)
def test_builtin_families(model, families):
    assert default_registry().families(model) == families


def test_user_rules_extend_and_come_first():
    registry = default_registry().extended({"acme-*": "acme", "re:^house-": "openai-gpt"})
    assert registry.families("vllm/acme-7b-chat") == {"acme"}
    assert registry.families("house-model-2") == {"openai-gpt"}
    assert registry.family("acme-7b") == "acme"
    assert registry.families("gpt-4o") == {"openai-gpt"}  # built-ins still apply
    with pytest.raises(ConfigError, match="regular expression"):
        LineageRegistry().extended({"re:(": "x"})
    with pytest.raises(ConfigError, match="non-empty"):
        LineageRegistry().extended({"x": ""})


def test_sim_provider_knows_its_families():
    sim = SimProvider(
        systems={"helper": {"family": "atlas"}}, judges={"mine": {"family": "boreal"}}
    )
    assert model_families("helper", sim) == {"sim:atlas"}
    assert model_families("mine", sim) == {"sim:boreal"}
    assert model_families("judge-fair", sim) == {"sim:arbiter"}
