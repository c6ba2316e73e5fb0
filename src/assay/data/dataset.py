"""Dataset: an ordered, immutable collection of samples with unique ids and a content hash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import overload

from assay.core.errors import DatasetError
from assay.core.hashing import content_hash
from assay.core.manifest import DatasetManifest
from assay.core.sample import Sample


class Dataset:
    """Samples in file order, looked up by position or by id.

    ``content_hash`` depends only on the samples' contents, not on their order or on the file
    format they were read from, so the same rows always give the same hash.
    """

    def __init__(self, name: str, samples: Iterable[Sample], *, source: str | None = None) -> None:
        self.name = name
        self.source = source
        self.samples: tuple[Sample, ...] = tuple(samples)
        index: dict[str, int] = {}
        for position, sample in enumerate(self.samples):
            first = index.setdefault(sample.id, position)
            if first != position:
                raise DatasetError(
                    f"duplicate id {sample.id!r} (samples {first} and {position})",
                    where=source or name,
                    fix="give every sample a unique id",
                )
        self._index = index

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    @overload
    def __getitem__(self, key: int) -> Sample: ...
    @overload
    def __getitem__(self, key: slice) -> Dataset: ...
    def __getitem__(self, key: int | slice) -> Sample | Dataset:
        if isinstance(key, slice):
            return self._derive(self.samples[key])
        return self.samples[key]

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._index

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, source={self.source!r}, n_samples={len(self)})"

    def get(self, sample_id: str) -> Sample:
        """The sample with this id (``KeyError`` when there is none)."""
        try:
            return self.samples[self._index[sample_id]]
        except KeyError:
            raise KeyError(f"no sample with id {sample_id!r} in dataset {self.name!r}") from None

    @property
    def sample_ids(self) -> list[str]:
        """The sample ids in dataset order."""
        return [s.id for s in self.samples]

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the samples' content hashes, sorted by sample id."""
        ordered = sorted(self.samples, key=lambda s: s.id)
        return content_hash([s.content_hash() for s in ordered])

    def slice_counts(self, key: str) -> dict[str, int]:
        """How many samples carry each label of metadata ``key`` (samples without it are not
        counted), sorted by label."""
        counts = Counter(
            label for label in (s.slice_value(key) for s in self.samples) if label is not None
        )
        return dict(sorted(counts.items()))

    def manifest(self) -> DatasetManifest:
        """The dataset's entry in a run manifest."""
        return DatasetManifest(
            name=self.name,
            source=self.source,
            content_hash=self.content_hash,
            n_samples=len(self),
            sample_ids=self.sample_ids,
        )

    def filter(self, predicate: Callable[[Sample], bool]) -> Dataset:
        """The samples for which ``predicate`` is true, in order, as a new dataset."""
        return self._derive(s for s in self.samples if predicate(s))

    def head(self, n: int) -> Dataset:
        """The first ``n`` samples as a new dataset."""
        if n < 0:
            raise ValueError("head(n) needs n >= 0")
        return self._derive(self.samples[:n])

    def _derive(self, samples: Iterable[Sample]) -> Dataset:
        return Dataset(self.name, samples, source=self.source)
