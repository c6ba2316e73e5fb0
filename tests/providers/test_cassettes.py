"""Cassettes: record through the mock server, replay offline, refuse stale fixtures (A6)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assay.core import (
    AssayError,
    CassetteMissError,
    ConfigError,
    Message,
    ModelRequest,
    Output,
    StaleFixtureError,
)
from assay.providers import (
    CASSETTE_FORMAT,
    Cassette,
    OpenAICompatProvider,
    RecordingProvider,
    ReplayProvider,
    SimProvider,
)
from assay.testing import MockOpenAIServer

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def requests(n: int = 6) -> list[ModelRequest]:
    return [
        ModelRequest(
            model="gpt-test",
            messages=(Message(role="user", content=f"question {i // 2}"),),
            params={"temperature": 0.7},
            epoch=i % 2,  # epochs are part of the key
            context={"sample_id": str(i)},
        )
        for i in range(n)
    ]


def strip_replayed(output: Output) -> dict[str, object]:
    data = output.model_dump()
    assert data["metadata"].pop("replayed") is True
    return data


async def record(path: Path, *, now: datetime = T0, ttl_days: float = 30) -> list[Output]:
    async with MockOpenAIServer(model="mock-2026-01-01", system_fingerprint="fp_rec") as server:
        inner = OpenAICompatProvider(name="openai", base_url=server.base_url, api_key_env=None)
        recorder = RecordingProvider(inner, path, ttl_days=ttl_days, now=now)
        assert recorder.name == "openai"
        outputs = list(await asyncio.gather(*(recorder.generate(r) for r in requests())))
        await recorder.aclose()
    return outputs


async def test_record_then_replay_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "fixtures" / "c.jsonl"
    recorded = await record(path)

    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header == {
        "format": CASSETTE_FORMAT,
        "model_snapshot": "mock-2026-01-01",
        "recorded_at": "2026-01-05T10:00:00Z",
        "expires_at": "2026-02-04T10:00:00Z",
    }
    assert len(lines) == 7
    entry = json.loads(lines[1])
    assert set(entry) == {"request_hash", "request", "output"}
    assert set(entry["request"]) == {"model", "messages", "params", "epoch", "seed"}

    replay = ReplayProvider(path, now=T0 + timedelta(days=29))
    assert len(replay.cassette) == 6
    replayed = [await replay.generate(r) for r in requests()]
    assert [strip_replayed(o) for o in replayed] == [o.model_dump() for o in recorded]
    # the request's context (sample facts) is not part of the key
    other_context = requests()[0].model_copy(update={"context": {"sample_id": "zzz"}})
    assert (await replay.generate(other_context)).text == recorded[0].text
    # replayed outputs are copies: mutating one does not change the cassette
    replayed[0].metadata["x"] = 1
    assert "x" not in (await replay.generate(requests()[0])).metadata
    await replay.aclose()


async def test_replay_works_for_sim_outputs(tmp_path: Path) -> None:
    path = tmp_path / "sim.jsonl"
    sim = SimProvider()
    reqs = [
        ModelRequest(
            model="atlas-small",
            messages=(Message(role="user", content=f"q{i}"),),
            context={"sample_id": f"s{i}", "target": str(i)},
        )
        for i in range(20)
    ]
    recorder = RecordingProvider(sim, path)
    recorded = [await recorder.generate(r) for r in reqs]
    await recorder.aclose()
    replay = ReplayProvider(path, expected_snapshot="sim:atlas-small@2026-01")
    replayed = [await replay.generate(r) for r in reqs]
    assert [strip_replayed(o) for o in replayed] == [o.model_dump() for o in recorded]


async def test_expired_cassette_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record(path, ttl_days=30)
    with pytest.raises(StaleFixtureError) as info:
        ReplayProvider(path, now=T0 + timedelta(days=31))
    text = str(info.value)
    assert text.startswith("stale_fixture")
    assert str(path) in text
    assert "2026-01-05T10:00:00Z" in text and "2026-02-04T10:00:00Z" in text
    assert "--record" in text
    assert info.value.exit_code == 2
    # just before expiry it is fine; a naive `now` is taken as UTC
    ReplayProvider(path, now=datetime(2026, 2, 4, 9, 59))


async def test_snapshot_mismatch_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record(path)
    ReplayProvider(path, expected_snapshot="mock-2026-01-01", now=T0)
    with pytest.raises(StaleFixtureError) as info:
        ReplayProvider(path, expected_snapshot="mock-2026-03-01", now=T0)
    text = str(info.value)
    assert text.startswith("stale_fixture")
    assert "mock-2026-01-01" in text and "mock-2026-03-01" in text


async def test_cassette_miss_names_model_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record(path)
    replay = ReplayProvider(path, now=T0)
    new = requests()[0].model_copy(update={"epoch": 5})
    with pytest.raises(CassetteMissError) as info:
        await replay.generate(new)
    text = str(info.value)
    assert "gpt-test" in text
    assert new.request_hash() in text
    assert text.startswith(str(path))


def test_write_and_load(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    reqs = requests(2)
    outs = [Output(text="a", model="m-1", latency_ms=1.5), Output(text="b", model="m-2")]
    Cassette.write(path, zip(reqs, outs, strict=True), recorded_at=T0, ttl_days=1)
    cassette = Cassette.load(path)
    assert cassette.header.model_snapshot == "m-1"
    assert cassette.header.expires_at == T0 + timedelta(days=1)
    assert cassette.get(reqs[1]) == outs[1]
    assert cassette.is_expired(T0 + timedelta(days=2))
    assert not cassette.is_expired(T0)


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ("", None, "empty"),
        ('{"format": "something-else"}\n', 1, "not an assay cassette"),
        (
            '{"format": "assay-cassette/1", "recorded_at": "yesterday", '
            '"expires_at": "2026-01-01T00:00:00Z"}\n',
            1,
            "recorded_at",
        ),
        ("HEADER\n", 1, "not valid JSON"),
        ("{header}\n\n{broken\n", 3, "not valid JSON"),
        ('{header}\n{"request_hash": "abc"}\n', 2, "no output"),
        ('{header}\n{"output": {"text": "x"}}\n', 2, "no request_hash"),
        ('{header}\n{"request_hash": "a", "output": {"txt": "x"}}\n', 2, "bad cassette entry"),
        ("{header}\n[1]\n", 2, "not a JSON object"),
    ],
)
def test_malformed_cassette_names_file_and_line(
    tmp_path: Path, content: str, line: int | None, needle: str
) -> None:
    header = json.dumps(
        {
            "format": CASSETTE_FORMAT,
            "model_snapshot": None,
            "recorded_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-02-01T00:00:00Z",
        }
    )
    path = tmp_path / "bad.jsonl"
    path.write_text(content.replace("{header}", header), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Cassette.load(path)
    text = str(info.value)
    assert needle in text
    assert text.startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_missing_cassette_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cassette file not found"):
        ReplayProvider(tmp_path / "nope.jsonl")


async def test_recording_append_mode_and_failures_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    await record(path)
    async with MockOpenAIServer(model="mock-new", faults={"script": ["error_500"]}) as server:
        inner = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        recorder = RecordingProvider(inner, path, mode="append")
        extra = requests()[0].model_copy(update={"epoch": 9})
        with pytest.raises(AssayError):
            await recorder.generate(extra)  # a failed call leaves the file alone
        assert len(Cassette.load(path)) == 6
        await recorder.generate(extra)
        await recorder.aclose()
    cassette = Cassette.load(path)
    assert len(cassette) == 7
    assert cassette.header.model_snapshot == "mock-2026-01-01"  # header kept in append mode
    # overwrite mode (the default) starts afresh on the first write
    async with MockOpenAIServer(model="mock-new") as server:
        inner = OpenAICompatProvider(base_url=server.base_url, api_key_env=None)
        recorder = RecordingProvider(inner, path)
        await recorder.generate(extra)
        await recorder.aclose()
    cassette = Cassette.load(path)
    assert len(cassette) == 1 and cassette.header.model_snapshot == "mock-new"


async def test_recording_nothing_leaves_no_file(tmp_path: Path) -> None:
    recorder = RecordingProvider(SimProvider(), tmp_path / "never.jsonl")
    await recorder.aclose()
    assert not (tmp_path / "never.jsonl").exists()


def test_create_provider_replay_enforces_expiry_and_pinned_snapshot(tmp_path: Path) -> None:
    """The A6 gate through the config path a spec or CLI uses (`expected_snapshot` pins it)."""
    from assay.providers import create_provider

    request = requests(1)[0]
    fresh = Cassette.write(
        tmp_path / "fresh.jsonl", [(request, Output(text="a", model="snap-1"))], ttl_days=30
    )
    replay = create_provider("replay", {"cassette": str(fresh), "expected_snapshot": "snap-1"})
    assert isinstance(replay, ReplayProvider) and replay.cassette.header.model_snapshot == "snap-1"

    with pytest.raises(StaleFixtureError) as info:
        create_provider("replay", {"cassette": str(fresh), "expected_snapshot": "snap-2"})
    assert info.value.code == "stale_fixture"
    assert str(info.value).startswith(f"stale_fixture: {fresh}: ")
    assert "'snap-1'" in str(info.value) and "'snap-2'" in str(info.value)

    old = Cassette.write(
        tmp_path / "old.jsonl",
        [(request, Output(text="a", model="snap-1"))],
        recorded_at=datetime.now(UTC) - timedelta(days=31),
    )
    with pytest.raises(StaleFixtureError) as info:
        create_provider("replay", {"cassette": str(old)})
    assert str(info.value).startswith(f"stale_fixture: {old}: cassette recorded ")
    assert "expired at" in str(info.value)
    # expiry wins even when the snapshot matches
    with pytest.raises(StaleFixtureError, match="expired"):
        create_provider("replay", {"cassette": str(old), "expected_snapshot": "snap-1"})


def test_cassette_without_snapshot_fails_a_pinned_replay(tmp_path: Path) -> None:
    request = requests(1)[0]
    path = Cassette.write(tmp_path / "c.jsonl", [(request, Output(text="a"))])
    assert Cassette.load(path).header.model_snapshot is None
    ReplayProvider(path)  # unpinned: fine
    with pytest.raises(StaleFixtureError, match="None"):
        ReplayProvider(path, expected_snapshot="snap-1")
