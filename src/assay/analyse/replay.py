"""Does a replayed run reproduce the original's scores exactly? (A2)"""

from __future__ import annotations

from dataclasses import dataclass, field

from assay.store import Store

Key = tuple[str, str, int, str]  # subject, sample id, epoch, scorer


@dataclass(frozen=True)
class ReplayReport:
    """Score-by-score comparison of an original run and its replay.

    ``differences`` lists (subject, sample id, epoch, scorer, original value, replayed value);
    ``missing`` lists keys scored in the original and absent from the replay (for example a
    cache miss); ``errors`` counts replayed results that failed.
    """

    original: str
    replay: str
    compared: int
    identical: int
    differences: list[tuple[str, str, int, str, float | None, float | None]] = field(
        default_factory=list
    )
    missing: list[Key] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def reproduced(self) -> bool:
        """Every original score was reproduced exactly."""
        return not self.differences and not self.missing and self.compared > 0


def _scores(store: Store, run_id: str) -> tuple[dict[Key, float | None], dict[str, int]]:
    values: dict[Key, float | None] = {}
    errors: dict[str, int] = {}
    for r in store.iter_results(run_id):
        if r.error_class:
            errors[r.error_class] = errors.get(r.error_class, 0) + 1
        for s in r.scores:
            values[(r.subject, r.sample_id, r.epoch, s.scorer)] = s.value
    return values, errors


def compare_replay(store: Store, original: str, replay: str) -> ReplayReport:
    """Compare every score of ``original`` with the same key in ``replay``."""
    before, _ = _scores(store, original)
    after, errors = _scores(store, replay)
    differences = []
    missing = []
    identical = 0
    for key in sorted(before):
        if key not in after:
            missing.append(key)
        elif before[key] == after[key]:
            identical += 1
        else:
            differences.append((*key, before[key], after[key]))
    return ReplayReport(original, replay, len(before), identical, differences, missing, errors)
