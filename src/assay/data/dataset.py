"""Dataset: an ordered, immutable collection of samples with unique ids and a content hash.

A dataset keeps its samples as columns (ids, inputs, targets, metadata; clusters and
provenance only where they are set) and builds a :class:`~assay.core.Sample` each time one is
read. A validated pydantic sample costs about 570 bytes before its text; the columns cost
about 30 bytes a sample besides the id and the input's text, and samples share equal metadata
mappings and short texts (targets, metadata keys and labels), so 1.5 million short rows take
1.4 times their JSONL file's size instead of twenty (``benchmarks/dataset_memory.py``). Each
read returns a new sample with its own copy of the metadata, so changing it cannot change the
dataset.
"""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any, overload

from assay.core.errors import DatasetError
from assay.core.manifest import DatasetManifest
from assay.core.sample import Message, Provenance, Sample, SampleValues, sample_hash

#: Metadata values whose mappings are shared (``-0.0`` and ``0.0`` are told apart by repr).
_SCALARS = frozenset((str, int, bool, float, type(None)))

#: How many distinct values the sharing memos keep. Beyond it values are kept as they come:
#: a column of unique values gains nothing from sharing, and the memo is bounded.
MEMO_LIMIT = 65_536

Metadata = dict[str, Any]


class Sharing:
    """Shares equal texts and metadata mappings between the samples of one dataset.

    JSON gives every row its own copy of every key and value; a dataset of a million rows with
    three slice labels otherwise holds a million ``{"slice": ...}`` mappings. Mappings are
    shared only when their values are scalars, and are keyed by each value's type as well
    (``1``, ``1.0`` and ``True`` are equal in Python but not the same metadata).
    """

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self.limit = limit
        self._texts: dict[str, str] = {}
        self._mappings: dict[tuple[Any, ...], Metadata] = {}

    def text(self, value: str) -> str:
        """``value``, or an equal text seen before."""
        known = self._texts.get(value)
        if known is not None:
            return known
        if len(self._texts) < self.limit:
            self._texts[value] = value
        return value

    def target(self, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(value)
        return tuple(self.text(v) for v in value)

    def metadata(self, metadata: Metadata) -> Metadata:
        """A mapping equal to ``metadata`` (same keys in the same order, same value types),
        shared with every other sample that has it. Never changed afterwards: samples get
        copies."""
        if not metadata:
            return _EMPTY
        text = self.text
        if not all(type(v) in _SCALARS for v in metadata.values()):
            # A list or a mapping among the values: keep the values, share the keys.
            return {text(k): v for k, v in metadata.items()}
        key = tuple((k, type(v), repr(v) if type(v) is float else v) for k, v in metadata.items())
        known = self._mappings.get(key)
        if known is not None:
            return known
        shared = {text(k): text(v) if type(v) is str else v for k, v in metadata.items()}
        if len(self._mappings) < self.limit:
            self._mappings[key] = shared
        return shared


_EMPTY: Metadata = {}


class TextColumn(Sequence[str]):
    """Texts packed end to end as UTF-8 in one buffer, with each text's end offset: 4 bytes a
    text plus its encoded length, against 49 plus its length (rounded up to 8) for a ``str``.
    Reading one decodes it again."""

    __slots__ = ("_data", "_ends")

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("I")

    def append(self, text: str) -> None:
        # surrogatepass: any str round-trips, even one with a lone surrogate.
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends = append_index(self._ends, len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, key: int) -> str: ...
    @overload
    def __getitem__(self, key: slice) -> list[str]: ...
    def __getitem__(self, key: int | slice) -> str | list[str]:
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(len(self)))]
        ends = self._ends
        end = ends[key]  # raises IndexError
        if key < 0:
            key += len(ends)
        start = ends[key - 1] if key else 0
        return self._data[start:end].decode("utf-8", "surrogatepass")

    def text(self, position: int) -> str:
        """``self[position]`` for ``0 <= position < len(self)``, without the checks for a
        slice or a negative index (the dataset's hash reads every text by position)."""
        ends = self._ends
        start = ends[position - 1] if position else 0
        return self._data[start : ends[position]].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        data = self._data
        start = 0
        for end in self._ends:
            yield data[start:end].decode("utf-8", "surrogatepass")
            start = end


class Columns:
    """Sample fields column by column, filled by :meth:`add_fields` (values already checked).

    Ids are kept as ``str`` (a run's manifest lists them, sharing these objects); text inputs
    are packed (:class:`TextColumn`) and chat inputs kept apart; clusters and provenance are
    kept only for the samples that have their own.
    """

    def __init__(self, default_provenance: Provenance | None = None) -> None:
        self.ids: list[str] = []
        self.texts = TextColumn()
        self.chats: dict[int, tuple[Message, ...]] = {}
        self.targets: list[str | tuple[str, ...] | None] = []
        self.metadata: list[Metadata] = []
        self.clusters: dict[int, str] = {}
        self.default_provenance = default_provenance
        self.provenance: dict[int, Provenance] = {}
        self.sharing = Sharing()
        #: Positions sorted by id, when whoever filled the columns has worked them out.
        self.order: array[int] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def add_fields(
        self,
        input_: str | tuple[Message, ...],
        target: str | tuple[str, ...] | None,
        metadata: Metadata,
        cluster: str | None,
        provenance: Provenance,
    ) -> None:
        """Everything but the id, which the caller has appended to :attr:`ids`."""
        position = len(self.targets)
        sharing = self.sharing
        if isinstance(input_, str):
            self.texts.append(input_)
        else:
            self.texts.append("")
            self.chats[position] = input_
        self.targets.append(sharing.target(target))
        self.metadata.append(sharing.metadata(metadata))
        if cluster is not None:
            self.clusters[position] = cluster
        if self.default_provenance is None:
            self.default_provenance = provenance
        elif provenance is not self.default_provenance and provenance != self.default_provenance:
            self.provenance[position] = provenance

    def add_sample(self, sample: Sample) -> None:
        self.ids.append(sample.id)
        self.add_fields(
            sample.input,
            sample.target,
            sample.metadata,
            sample.cluster,
            sample.provenance,
        )

    def input(self, position: int) -> str | tuple[Message, ...]:
        chat = self.chats.get(position)
        return self.texts[position] if chat is None else chat

    def select(self, positions: Iterable[int]) -> Columns:
        """The rows at ``positions``, in that order."""
        picked = Columns(self.default_provenance)
        picked.sharing = self.sharing
        for old in positions:
            picked.ids.append(self.ids[old])
            picked.add_fields(
                self.input(old),
                self.targets[old],
                self.metadata[old],
                self.clusters.get(old),
                self.provenance.get(old, picked.default_provenance or _NO_PROVENANCE),
            )
        return picked

    def content_hash(self, position: int) -> str:
        """``Sample.content_hash()`` of the sample at ``position`` (without building the
        sample: :func:`~assay.core.sample.sample_hash` of its fields)."""
        chats = self.chats
        return sample_hash(
            self.ids[position],
            chats[position] if chats and position in chats else self.texts.text(position),
            self.targets[position],
            self.metadata[position],
            self.clusters.get(position),
        )

    def values(self) -> Iterator[SampleValues]:
        """Each sample's fields in order, without building the samples: the arguments of
        :meth:`Sample.from_checked`, but the metadata is the columns' own mapping (shared by
        other samples: not to be changed)."""
        chats, clusters, provenance = self.chats, self.clusters, self.provenance
        default = self.default_provenance or _NO_PROVENANCE
        rows = zip(self.ids, self.texts, self.targets, self.metadata, strict=True)
        for position, (id_, text, target, metadata) in enumerate(rows):
            yield (
                id_,
                text if not chats or position not in chats else chats[position],
                target,
                metadata,
                clusters.get(position) if clusters else None,
                provenance.get(position, default) if provenance else default,
            )

    def sample(self, position: int) -> Sample:
        return Sample.from_checked(
            self.ids[position],
            self.input(position),
            self.targets[position],
            dict(self.metadata[position]),
            self.clusters.get(position),
            self.provenance.get(position, self.default_provenance or _NO_PROVENANCE),
        )


#: The largest number an ``array("I")`` holds (4 bytes; "q" takes 8).
_MAX_SMALL = 2**32 - 1


def append_index(numbers: array[int], number: int) -> array[int]:
    """``numbers`` with ``number`` appended: 4-byte items until one does not fit, then 8."""
    if number > _MAX_SMALL and numbers.typecode == "I":
        numbers = array("q", numbers)
    numbers.append(number)
    return numbers


#: Positions are sorted in runs of this many, then merged: sorting them all at once would
#: hold a key and an ``int`` object for every sample (about 50 bytes each).
SORT_RUN = 16_384


def order_by_id(ids: Sequence[str]) -> array[int]:
    """Positions of ``ids`` sorted by id (ties in position order), holding 4 bytes a position."""
    n = len(ids)
    key = ids.__getitem__
    code = "I" if n <= _MAX_SMALL else "q"
    runs = [
        array(code, sorted(range(start, min(n, start + SORT_RUN)), key=key))
        for start in range(0, n, SORT_RUN)
    ]
    if len(runs) <= 1:
        return runs[0] if runs else array(code)
    return array(code, heapq.merge(*runs, key=key))


def first_duplicate(ids: Sequence[str], order: Sequence[int]) -> tuple[int, int] | None:
    """``(first, second)`` positions of the repeated id whose second occurrence comes first,
    or None when the ids are unique; ``order`` is :func:`order_by_id` of ``ids``."""
    found: tuple[int, int] | None = None
    previous: str | None = None
    group_first = -1
    for position in order:
        current = ids[position]
        if current == previous:
            # In a run of equal ids positions ascend, so the run's second is its first repeat.
            if group_first >= 0 and (found is None or position < found[1]):
                found = (group_first, position)
            group_first = -1
        else:
            previous, group_first = current, position
    return found


_NO_PROVENANCE = Provenance()


class Samples(Sequence[Sample]):
    """A dataset's samples as a read-only sequence; each item is built when it is read."""

    __slots__ = ("_columns",)

    def __init__(self, columns: Columns) -> None:
        self._columns = columns

    def __len__(self) -> int:
        return len(self._columns)

    @overload
    def __getitem__(self, key: int) -> Sample: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[Sample, ...]: ...
    def __getitem__(self, key: int | slice) -> Sample | tuple[Sample, ...]:
        columns = self._columns
        if isinstance(key, slice):
            return tuple(columns.sample(i) for i in range(*key.indices(len(columns))))
        n = len(columns)
        if not -n <= key < n:
            raise IndexError("sample index out of range")
        return columns.sample(key % n if key < 0 else key)

    def __iter__(self) -> Iterator[Sample]:
        build = Sample.from_checked
        for id_, input_, target, metadata, cluster, provenance in self._columns.values():
            yield build(id_, input_, target, dict(metadata), cluster, provenance)

    def __repr__(self) -> str:
        return f"<{len(self)} samples>"


class Dataset:
    """Samples in file order, looked up by position or by id.

    ``content_hash`` depends only on the samples' contents, not on their order or on the file
    format they were read from, so the same rows always give the same hash.
    """

    def __init__(self, name: str, samples: Iterable[Sample], *, source: str | None = None) -> None:
        columns = Columns()
        seen: set[str] = set()
        for sample in samples:
            if sample.id in seen:
                raise DatasetError(
                    f"duplicate id {sample.id!r} (samples {columns.ids.index(sample.id)} and "
                    f"{len(columns)})",
                    where=source or name,
                    fix="give every sample a unique id",
                )
            seen.add(sample.id)
            columns.add_sample(sample)
        del seen
        self._setup(name, columns, source)

    @classmethod
    def from_columns(cls, name: str, columns: Columns, *, source: str | None = None) -> Dataset:
        """A dataset over ``columns``, whose ids the caller has checked are unique."""
        dataset = cls.__new__(cls)
        dataset._setup(name, columns, source)
        return dataset

    def _setup(self, name: str, columns: Columns, source: str | None) -> None:
        self.name = name
        self.source = source
        self._columns = columns
        columns.sharing = Sharing(0)  # the memos are only needed while filling

    @property
    def samples(self) -> Samples:
        """The samples in dataset order (a read-only sequence)."""
        return Samples(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __iter__(self) -> Iterator[Sample]:
        return iter(Samples(self._columns))

    @overload
    def __getitem__(self, key: int) -> Sample: ...
    @overload
    def __getitem__(self, key: slice) -> Dataset: ...
    def __getitem__(self, key: int | slice) -> Sample | Dataset:
        if isinstance(key, slice):
            return self._derive(range(len(self))[key])
        return Samples(self._columns)[key]

    def __contains__(self, sample_id: object) -> bool:
        return isinstance(sample_id, str) and self._position(sample_id) is not None

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, source={self.source!r}, n_samples={len(self)})"

    @cached_property
    def _by_id(self) -> array[int]:
        """Positions sorted by sample id (4 bytes a sample, against about 85 for a dict)."""
        columns = self._columns
        if columns.order is None:
            columns.order = order_by_id(columns.ids)
        return columns.order

    def _position(self, sample_id: str) -> int | None:
        ids, order = self._columns.ids, self._by_id
        i = bisect_left(order, sample_id, key=ids.__getitem__)
        if i < len(order) and ids[order[i]] == sample_id:
            return order[i]
        return None

    def get(self, sample_id: str) -> Sample:
        """The sample with this id (``KeyError`` when there is none)."""
        position = self._position(sample_id) if isinstance(sample_id, str) else None
        if position is None:
            raise KeyError(f"no sample with id {sample_id!r} in dataset {self.name!r}")
        return self._columns.sample(position)

    def sample_values(self) -> Iterator[SampleValues]:
        """Each sample's ``(id, input, target, metadata, cluster, provenance)`` in order,
        without building the samples (for a reader that only reads the fields, such as
        :meth:`Store.create_run <assay.store.Store.create_run>`). The metadata mappings are
        the dataset's own, shared between samples: do not change them."""
        return self._columns.values()

    @property
    def sample_ids(self) -> list[str]:
        """The sample ids in dataset order."""
        return list(self._columns.ids)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the samples' content hashes, sorted by sample id.

        The list of hashes is written into the digest as it is made rather than held (its
        canonical JSON is ``["<hex>","<hex>",...]``): for 1.5 million samples that list and
        its text would take 300 MB.
        """
        digest = hashlib.sha256(b"[")
        sample_hash = self._columns.content_hash
        separator = b'"'
        for position in self._by_id:
            digest.update(separator + sample_hash(position).encode("ascii") + b'"')
            separator = b',"'
        digest.update(b"]")
        return digest.hexdigest()

    def slice_counts(self, key: str) -> dict[str, int]:
        """How many samples carry each label of metadata ``key`` (samples without it are not
        counted), sorted by label."""
        counts: Counter[str] = Counter()
        for metadata in self._columns.metadata:
            value = metadata.get(key)
            if value is not None:
                counts[str(value)] += 1
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
        sample = self._columns.sample
        return self._derive(i for i in range(len(self)) if predicate(sample(i)))

    def head(self, n: int) -> Dataset:
        """The first ``n`` samples as a new dataset."""
        if n < 0:
            raise ValueError("head(n) needs n >= 0")
        return self._derive(range(min(n, len(self))))

    def _derive(self, positions: Iterable[int]) -> Dataset:
        return Dataset.from_columns(self.name, self._columns.select(positions), source=self.source)
