"""Tokens as providers bill them: usage blocks and attributes mapped to the span's detail
columns, priced part by part by date, and the price file's errors."""

from __future__ import annotations

from datetime import date

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from tests.costs.traces import T0, llm, root, save

from assay.core import SpecError
from assay.core.prices import PriceBook, PriceEntry, Rates, split_usage
from assay.run.prices import load_price_file
from assay.trace.conventions import map_span
from assay.trace.usage import usage_block


def test_usage_blocks_of_openai_anthropic_gemini_and_responses() -> None:
    openai = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0},
    }
    assert usage_block(openai) == {
        "input_tokens": 1200,
        "output_tokens": 300,
        "cached_input_tokens": 1024,
        "input_audio_tokens": 0,
        "reasoning_tokens": 256,
        "output_audio_tokens": 0,
    }
    anthropic = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 8000,
        "output_tokens": 400,
    }
    assert usage_block(anthropic) == {
        "input_tokens": 10_050,  # Anthropic's input_tokens excludes both cache counts
        "output_tokens": 400,
        "cached_input_tokens": 8000,
        "cache_write_tokens": 2000,
    }
    gemini = {
        "promptTokenCount": 900,
        "candidatesTokenCount": 100,
        "thoughtsTokenCount": 500,
        "cachedContentTokenCount": 600,
    }
    assert usage_block(gemini) == {
        "input_tokens": 900,
        "output_tokens": 600,  # thoughts are billed as output beside the candidates
        "cached_input_tokens": 600,
        "reasoning_tokens": 500,
    }
    responses = {
        "input_tokens": 70,
        "output_tokens": 90,
        "input_tokens_details": {"cached_tokens": 64},
        "output_tokens_details": {"reasoning_tokens": 80},
    }
    assert usage_block(responses)["reasoning_tokens"] == 80
    assert usage_block({"no": "usage"}) == {}


def _otlp_span(attributes: dict) -> trace_pb2.Span:
    span = trace_pb2.Span(
        trace_id=bytes.fromhex("ab" * 16),
        span_id=bytes.fromhex("cd" * 8),
        name="chat",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
    )
    for key, value in attributes.items():
        kv = span.attributes.add()
        kv.key = key
        if isinstance(value, str):
            kv.value.string_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.int_value = value
    return span


def test_genai_and_openinference_details_land_in_the_span() -> None:
    genai, _ = map_span(
        _otlp_span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "o3-mini",
                "gen_ai.request.max_tokens": 2048,
                "gen_ai.usage.input_tokens": 5000,
                "gen_ai.usage.output_tokens": 900,
                "gen_ai.usage.cache_read.input_tokens": 4096,
                "gen_ai.usage.cache_creation.input_tokens": 100,
                "gen_ai.usage.reasoning.output_tokens": 700,
                "gen_ai.response.time_to_first_chunk": 0.35,
                "gen_ai.latency.time_in_queue": 0.05,
            }
        ),
        {},
    )
    assert (genai.cached_input_tokens, genai.cache_write_tokens, genai.reasoning_tokens) == (
        4096,
        100,
        700,
    )
    assert (genai.request_max_tokens, genai.ttft_ms, genai.queue_ms) == (2048, 350.0, 50.0)
    body = '{"id": "x", "usage": {"prompt_tokens": 300, "completion_tokens": 40, "prompt_tokens_details": {"cached_tokens": 256}}}'
    oi, _ = map_span(
        _otlp_span(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o",
                "llm.invocation_parameters": '{"model": "gpt-4o", "max_completion_tokens": 512}',
                "llm.token_count.completion_details.reasoning": 12,
                "output.value": body,
            }
        ),
        {},
    )
    assert (oi.input_tokens, oi.output_tokens, oi.cached_input_tokens) == (300, 40, 256)
    assert (oi.reasoning_tokens, oi.request_max_tokens) == (12, 512)


def test_cached_and_reasoning_tokens_are_priced_as_billed_by_genai_prices() -> None:
    book = PriceBook()
    priced = book.price(
        "gpt-4o", 10_000, 1_000, {"cached_input": 8_000, "reasoning": 600}, provider="openai"
    )
    assert priced is not None and priced.rates.source.startswith("genai-prices")
    assert priced.costs["input"] == pytest.approx(2_000 * 2.5 / 1e6)
    assert priced.costs["cached_input"] == pytest.approx(8_000 * 1.25 / 1e6)  # not at 2.5
    assert priced.costs["reasoning"] == pytest.approx(600 * 10 / 1e6)  # billed at the output rate
    assert "reasoning tokens priced at the output rate (gpt-4o)" in priced.notes
    assert priced.total == pytest.approx((2_000 * 2.5 + 8_000 * 1.25 + 1_000 * 10) / 1e6)
    assert split_usage(100, 10, {"cached_input": 500}) == {
        **split_usage(100, 10),
        "input": 0,
        "cached_input": 100,
    }
    assert book.price("not-a-model-anyone-sells", 10, 10) is None


def test_user_prices_are_versioned_by_date_and_come_first() -> None:
    book = PriceBook(
        [
            PriceEntry("gpt-4o*", Rates(5.0, 20.0, model="gpt-4o*"), date(2025, 6, 1)),
            PriceEntry("gpt-4o*", Rates(4.0, 16.0, model="gpt-4o*"), None),
        ]
    )
    assert book.rates("gpt-4o", at=date(2025, 5, 31)).input == 4.0
    assert book.rates("gpt-4o", at=date(2025, 6, 1)).input == 5.0
    cached = book.price("gpt-4o", 100, 0, {"cached_input": 100}, at=date(2025, 7, 1))
    assert cached.costs["cached_input"] == pytest.approx(100 * 5.0 / 1e6)
    assert cached.notes == ("cached input tokens priced at the input rate (gpt-4o*)",)


def test_price_file_reads_and_its_errors_name_the_line(tmp_path) -> None:
    good = tmp_path / "prices.yaml"
    good.write_text(
        "prices:\n  - {model: 'atlas-*', input: 3, output: 15, cached_input: 0.3}\n"
        "  - {model: 'atlas-*', since: 2026-01-01, input: 2, output: 10}\n"
    )
    book = load_price_file(good)
    assert book.rates("atlas-large", at=date(2025, 12, 31)).cached_input == 0.3
    assert book.rates("atlas-large", at=date(2026, 1, 2)).input == 2.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "prices:\n  - model: x\n    input: 1\n  - model: y\n    input: -2\n    output: 1\n"
    )
    with pytest.raises(SpecError) as error:
        load_price_file(bad)
    assert "no output rate" in error.value.message and error.value.where.startswith(f"{bad}:2")
    bad.write_text("prices:\n  - model: y\n    input: -2\n    output: 1\n")
    with pytest.raises(SpecError) as error:
        load_price_file(bad)
    assert error.value.where == f"{bad}:3 (prices[0].input)"


def test_ingest_writes_the_details_and_where_the_cost_came_from(store) -> None:
    trace = root("f" * 32, "chat", T0, 1000)
    priced = llm(
        trace,
        0,
        900,
        model="gpt-4o-mini",
        input_tokens=2000,
        output_tokens=100,
        cached_input_tokens=1024,
        reasoning_tokens=40,
        ttft_ms=120.0,
    )
    reported = llm(trace, 0, 900, model="gpt-4o-mini", input_tokens=10, output_tokens=10, cost=0.5)
    save(store, [trace, priced, reported])
    with store.engine.connect() as conn:
        from sqlalchemy import text

        rows = dict(
            conn.execute(text("SELECT span_id, cost_source FROM spans WHERE kind = 'llm'")).all()
        )
        detail = conn.execute(
            text(
                "SELECT cached_input_tokens, reasoning_tokens, ttft_ms, cost FROM spans "
                "WHERE span_id = :s"
            ),
            {"s": priced.span_id},
        ).one()
    assert rows == {priced.span_id: "priced", reported.span_id: "reported"}
    expected = (976 * 0.15 + 1024 * 0.075 + 100 * 0.6) / 1e6
    assert tuple(detail) == (1024, 40, 120.0, pytest.approx(expected))
