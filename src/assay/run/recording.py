"""Point an eval's model subjects at cassettes: record live responses, or replay them offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.providers import RecordingProvider, ReplayProvider
from assay.run.evaluation import Eval
from assay.run.subjects import ModelSubject


def _cassette_paths(ev: Eval, path: Path) -> dict[int, tuple[Any, Path]]:
    """One cassette per provider: ``path`` itself when the eval uses one provider, else
    ``<stem>.<provider><suffix>`` beside it."""
    providers: dict[int, Any] = {}
    for subject in ev.subjects:
        if isinstance(subject, ModelSubject):
            providers.setdefault(id(subject.provider), subject.provider)
    if len(providers) <= 1:
        return {key: (p, path) for key, p in providers.items()}
    return {
        key: (p, path.with_name(f"{path.stem}.{p.name}{path.suffix or '.jsonl'}"))
        for key, p in providers.items()
    }


def record_to(ev: Eval, path: str | Path, *, ttl_days: float = 30) -> list[Path]:
    """Wrap every model subject's provider so each response is appended to a cassette stamped
    with the resolved model snapshot, the date and an expiry. Returns the cassette paths."""
    paths = _cassette_paths(ev, Path(path))
    wrapped = {
        key: RecordingProvider(p, target, ttl_days=ttl_days) for key, (p, target) in paths.items()
    }
    for subject in ev.subjects:
        if isinstance(subject, ModelSubject):
            subject.provider = wrapped[id(subject.provider)]
    return [target for _, target in paths.values()]


def replay_from(ev: Eval, path: str | Path, *, expected_snapshot: str | None = None) -> list[Path]:
    """Answer every model subject from a cassette (offline). A stale or mismatched cassette
    raises ``stale_fixture`` here, before anything runs."""
    paths = _cassette_paths(ev, Path(path))
    replays = {
        key: ReplayProvider(target, name=p.name, expected_snapshot=expected_snapshot)
        for key, (p, target) in paths.items()
    }
    for subject in ev.subjects:
        if isinstance(subject, ModelSubject):
            subject.provider = replays[id(subject.provider)]
    return [target for _, target in paths.values()]
