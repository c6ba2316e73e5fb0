"""The index of the eval side: every sample's tokens and the n-grams that start a match.

Only the eval set is indexed (it is small: thousands to a few million n-grams); the training
corpus streams past it. Lookups go through two levels: a bitmap addressed by the top bits of an
n-gram's hash rejects almost every training n-gram with one memory read, and the few that pass
are looked up exactly in the sorted array of eval n-gram hashes, which also says which samples
and positions hold that n-gram.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from assay.core.sample import Sample
from assay.data.contamination.normalise import NgramHasher, hash_texts
from assay.data.contamination.settings import ContaminationSettings

_MIN_BITMAP_BITS = 16
_MAX_BITMAP_BITS = 28  # 256 MiB of bitmap at most


def sample_text(sample: Sample, *, include_target: bool = True) -> str:
    """The text of a sample that is checked for overlap: its input (the messages' contents,
    without role labels, for a chat input), then its targets."""
    parts = [sample.input] if isinstance(sample.input, str) else [m.content for m in sample.input]
    if include_target:
        parts.extend(sample.targets)
    return "\n".join(parts)


def _not_boilerplate(hashes: np.ndarray, owners: np.ndarray, limit: int | None) -> np.ndarray:
    """Mask of seeds (sorted by hash, then sample) shared by at most ``limit`` samples."""
    if limit is None or hashes.size == 0:
        return np.ones(hashes.size, dtype=bool)
    new_pair = np.ones(hashes.size, dtype=bool)
    new_pair[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
    new_hash = np.ones(hashes.size, dtype=bool)
    new_hash[1:] = hashes[1:] != hashes[:-1]
    group = np.cumsum(new_hash) - 1
    samples_per_hash = np.bincount(group, weights=new_pair).astype(np.int64)
    keep: np.ndarray = samples_per_hash[group] <= limit
    return keep


@dataclass
class EvalIndex:
    """Token hashes of every eval sample, and the lookup structures for their seed n-grams.

    Build it with :meth:`from_samples` or :meth:`from_texts`. ``seed_hashes`` is sorted;
    ``seed_samples[i]`` and ``seed_positions[i]`` say where ``seed_hashes[i]`` occurs.
    """

    settings: ContaminationSettings
    sample_ids: list[str]
    tokens: list[np.ndarray]
    seed_hashes: np.ndarray
    seed_samples: np.ndarray
    seed_positions: np.ndarray
    bitmap: np.ndarray
    bitmap_shift: int

    @classmethod
    def from_samples(
        cls, samples: Iterable[Sample], settings: ContaminationSettings | None = None
    ) -> EvalIndex:
        """Index samples (a :class:`~assay.data.Dataset` or any iterable of samples)."""
        settings = settings or ContaminationSettings()
        texts = {s.id: sample_text(s, include_target=settings.include_target) for s in samples}
        return cls.from_texts(texts, settings)

    @classmethod
    def from_texts(
        cls, texts: Mapping[str, str], settings: ContaminationSettings | None = None
    ) -> EvalIndex:
        """Index plain texts by sample id."""
        settings = settings or ContaminationSettings()
        ids = list(texts)
        tokens = hash_texts([texts[i] for i in ids])
        hasher = NgramHasher(settings.seed_length)
        hashes, owners, positions = [], [], []
        for number, sample_tokens in enumerate(tokens):
            grams = hasher.hash(sample_tokens)
            hashes.append(grams)
            owners.append(np.full(len(grams), number, dtype=np.int32))
            positions.append(np.arange(len(grams), dtype=np.int32))
        all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        all_owners = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32)
        all_positions = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int32)
        order = np.lexsort((all_positions, all_owners, all_hashes))
        keep = _not_boilerplate(all_hashes[order], all_owners[order], settings.boilerplate_samples)
        order = order[keep]
        seed_hashes = all_hashes[order]
        seed_samples = all_owners[order]
        seed_positions = all_positions[order]
        # About 64 bitmap slots per seed keeps false candidates near 1.5% of training n-grams;
        # they cost one binary search each, so a bigger bitmap would not pay for its memory.
        wanted = int(np.ceil(np.log2(max(1, len(seed_hashes)) * 64)))
        bits = max(_MIN_BITMAP_BITS, min(_MAX_BITMAP_BITS, wanted))
        shift = 64 - bits
        bitmap = np.zeros(1 << bits, dtype=bool)
        bitmap[seed_hashes >> np.uint64(shift)] = True
        return cls(
            settings=settings,
            sample_ids=ids,
            tokens=tokens,
            seed_hashes=seed_hashes,
            seed_samples=seed_samples,
            seed_positions=seed_positions,
            bitmap=bitmap,
            bitmap_shift=shift,
        )

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def n_seeds(self) -> int:
        """Number of indexed seed n-grams (occurrences, not distinct values)."""
        return len(self.seed_hashes)

    def lookup(self, grams: np.ndarray) -> np.ndarray:
        """Positions in ``grams`` whose hash is an indexed seed (bitmap, then exact search)."""
        if self.n_seeds == 0 or grams.size == 0:
            return np.zeros(0, dtype=np.int64)
        maybe = np.flatnonzero(self.bitmap[grams >> np.uint64(self.bitmap_shift)])
        if maybe.size == 0:
            return maybe
        values = grams[maybe]
        at = np.minimum(np.searchsorted(self.seed_hashes, values), self.n_seeds - 1)
        found: np.ndarray = maybe[self.seed_hashes[at] == values]
        return found

    def occurrences(self, value: np.uint64) -> tuple[np.ndarray, np.ndarray]:
        """``(samples, positions)`` where the seed n-gram with hash ``value`` occurs."""
        lo = np.searchsorted(self.seed_hashes, value, side="left")
        hi = np.searchsorted(self.seed_hashes, value, side="right")
        return self.seed_samples[lo:hi], self.seed_positions[lo:hi]
