"""A run's samples as the sample browser reads them: filtered, searched, sorted and paged in SQL.

Nothing here loads a whole run. One page of the browser is one query for the page's sample ids
with the match count as a window, then the rows of those samples and their results and scores
only. Filters on scores read the run's scores once, in one CTE. A sample's neighbours in the
browser's order are one window query. (Single samples by key: :mod:`assay.store.sample_lookup`.)

Definitions the browser shows, kept next to the SQL that applies them:

* a scorer **passes** a sample when the sample's mean score over its epochs is at least the
  midpoint of the scorer's scale (:func:`pass_threshold`: :data:`PASS_AT` = 0.5 for pass/fail
  and 0–1 scores, 3 for a judge's 1–5 scale; for a subject, with several subjects any
  subject), and **fails** otherwise;
  results whose call failed and ungraded scores are left out, as every analysis leaves them out;
* a sample is **flaky** when one scorer's answers for one subject differ across epochs (a spread
  above :data:`FLAKY_TOLERANCE` relative to the mean: the "disagree across epochs" of
  ``assay show --intervals``);
* **search** matches, case-insensitively, a substring of the sample id, its input, its target or
  any of its outputs; ``%`` and ``_`` in the search are literal.

Works the same on SQLite and PostgreSQL (JSON columns are text: a metadata value is read as its
JSON text, ``->`` on both backends, and compared through Python's ``str`` of it, which is how
:meth:`assay.core.Sample.slice_value` labels slices).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Text, and_, case, cast, false, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from assay.core import Sample
from assay.store import Store, codec
from assay.store.tables import results, samples, scores

PASS_AT = 0.5
FLAKY_TOLERANCE = 1e-9
NO_LABEL = "(none)"
#: Columns the browser sorts by, besides ``score:<scorer>`` and ``slice:<key>``.
SORT_COLUMNS = ("position", "id", "input", "target", "output", "error")
PREVIEW_CHARS = 400
_ESCAPE = "!"


@dataclass(frozen=True)
class SampleQuery:
    """What the browser asks for. ``verdicts`` are ``(scorer, "pass" | "fail")`` pairs, all of
    which must hold; ``scorer``/``score_min``/``score_max`` a mean-score range on one scorer;
    ``sort`` a column of :data:`SORT_COLUMNS`, ``score:<scorer>`` or ``slice:<key>``, with a
    leading ``-`` for descending order (dataset order breaks ties)."""

    search: str | None = None
    slice: str | None = None
    verdicts: tuple[tuple[str, str], ...] = ()
    scorer: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    error: bool | None = None
    flaky: bool | None = None
    sort: str = "position"

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-")


@dataclass
class SubjectCells:
    """One subject's part of a browser row: scores over epochs per scorer (``None`` when it
    has none), whether a call failed, and its first epoch's output (a preview)."""

    scores: dict[str, list[float] | None]
    error: bool = False
    output: str | None = None

    @property
    def flaky(self) -> bool:
        return any(v is not None and spread_is_flaky(v) for v in self.scores.values())


@dataclass
class BrowserPage:
    total: int
    samples: list[Sample]
    cells: dict[str, dict[str, SubjectCells]] = field(default_factory=dict)


@dataclass(frozen=True)
class Neighbours:
    """Where a sample sits in the browser's order: 1-based ``index`` of ``total`` (``None``
    when the filters exclude it), and the ids before and after it."""

    index: int | None
    total: int
    previous: str | None = None
    next: str | None = None


def spread_is_flaky(values: Sequence[float]) -> bool:
    """The Python side of the SQL flaky test (same formula)."""
    if len(values) < 2:
        return False
    mean = sum(values) / len(values)
    return max(values) - min(values) > FLAKY_TOLERANCE * (1 + abs(mean))


def pass_threshold(config: Mapping[str, Any] | None) -> float:
    """The mean score at which a scorer passes a sample: the midpoint of its scale.

    A scorer's ``scale`` is in its manifest config (pointwise judges: ``pass_fail``, ``N`` for
    1..N, or ``[low, high]``; :mod:`assay.score.judges.pointwise`). Without one, scores are
    0/1 or within [0, 1] (every built-in scorer), and the midpoint is :data:`PASS_AT`: for a
    pass/fail scorer, a majority of its epochs. A 1–5 judge passes at 3, not at 0.5, where
    every grade would pass."""
    scale = (config or {}).get("scale")
    if isinstance(scale, bool):
        return PASS_AT
    if isinstance(scale, int) and scale >= 2:
        return (1 + scale) / 2
    if isinstance(scale, list | tuple) and len(scale) == 2:
        low, high = scale
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in scale)
        if numbers and low < high:
            return (float(low) + float(high)) / 2
    return PASS_AT


def verdict(values: Sequence[float] | None, pass_at: float = PASS_AT) -> str | None:
    """``pass``/``fail`` of a sample's scores over epochs (``None`` without scores): their
    mean against ``pass_at`` (:func:`pass_threshold` of the scorer)."""
    if not values:
        return None
    return "pass" if sum(values) / len(values) >= pass_at else "fail"


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` escaped (escape character ``!``)."""
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _json_text(dialect: str, column: Any, key: str) -> ColumnElement[Any]:
    """The JSON text of ``column``'s value under ``key`` (SQL NULL when absent)."""
    if dialect == "postgresql":
        return cast(cast(column, JSON).op("->", return_type=JSON)(literal(key)), Text)
    path = "$." + json.dumps(key)
    return column.op("->", return_type=Text)(literal(path))


def _label(json_text: str | None) -> str:
    value = None if json_text is None else json.loads(json_text)
    return NO_LABEL if value is None else str(value)


@dataclass(frozen=True)
class Scored:
    """The per-(subject, sample) scorer aggregates of :meth:`SampleBrowser._scored`."""

    cte: Any
    index: dict[str, int]

    def mean(self, scorer: str) -> Any:
        return self.cte.c[f"mean_{self.index[scorer]}"]

    def spread(self, scorer: str) -> Any:
        return self.cte.c[f"spread_{self.index[scorer]}"]

    def holds(self, test: ColumnElement[bool]) -> ColumnElement[bool]:
        """Samples for which ``test`` holds for some subject."""
        return samples.c.id.in_(select(self.cte.c.sample_id).where(test))


def _browser_sample(row: Any) -> Sample:
    """A sample as the browser shows it (its provenance is left out: the sample page has it)."""
    return Sample(
        id=row.id,
        input=codec.loads(row.input_json),
        target=codec.loads(row.target_json),
        metadata=codec.loads(row.metadata_json),
    )


class SampleBrowser:
    """Queries over the samples of one run, with the run's subjects and scorers."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        subjects: Sequence[str],
        scorers: Sequence[str] = (),
        pass_at: Mapping[str, float] | None = None,
    ) -> None:
        self.engine = store.engine
        self.dialect = self.engine.dialect.name
        self.run_id = run_id
        self.subjects = list(subjects)
        self.scorers = list(scorers)
        self.pass_at = dict(pass_at or {})  # scorer -> pass_threshold; PASS_AT if absent

    # -- building blocks -----------------------------------------------------------------------

    def _scored(self, query: SampleQuery) -> Scored | None:
        """Per (subject, sample), the mean over epochs and the spread of each scorer that
        ``query`` filters or sorts on (all of them for ``flaky``), as one row with a column
        pair per scorer. One pass over the run's results (in the order of their unique index,
        so grouping needs no sort) and their scores, however many filters use it."""
        wanted = {s for s, _ in query.verdicts}
        if query.score_min is not None or query.score_max is not None:
            wanted.add(query.scorer or "")
        if query.sort_key.startswith("score:"):
            wanted.add(query.sort_key.removeprefix("score:"))
        if query.flaky is not None:
            wanted.update(self.scorers)
        if not wanted:
            return None
        value = scores.c.value
        columns: list[Any] = []
        for k, scorer in enumerate(sorted(wanted)):
            mine = case((scores.c.scorer == scorer, value))
            columns += [
                func.avg(mine).label(f"mean_{k}"),
                (func.max(mine) - func.min(mine)).label(f"spread_{k}"),
            ]
        cte = (
            select(results.c.sample_id, *columns)
            .select_from(results.join(scores, scores.c.result_id == results.c.id))
            .where(
                results.c.run_id == self.run_id,
                results.c.error_class.is_(None),
                value.is_not(None),
            )
            .group_by(results.c.subject, results.c.sample_id)
            .cte("scored")
        )
        return Scored(cte, {scorer: k for k, scorer in enumerate(sorted(wanted))})

    def slice_labels(self, key: str) -> dict[str, list[str | None]]:
        """Each label of slice ``key`` in this run → the JSON texts that carry it."""
        value = _json_text(self.dialect, samples.c.metadata_json, key)
        query = select(value).where(samples.c.run_id == self.run_id).distinct()
        out: dict[str, list[str | None]] = {}
        with self.engine.connect() as conn:
            for (text,) in conn.execute(query):
                out.setdefault(_label(text), []).append(text)
        return dict(sorted(out.items()))

    def _search(self, text: str) -> ColumnElement[bool]:
        raw = like_pattern(text)
        as_json = like_pattern(codec.dumps(text)[1:-1])  # how the text appears inside JSON
        outputs = select(results.c.sample_id).where(
            results.c.run_id == self.run_id,
            results.c.output_text.ilike(raw, escape=_ESCAPE),
        )
        return or_(
            samples.c.id.ilike(raw, escape=_ESCAPE),
            samples.c.input_json.ilike(as_json, escape=_ESCAPE),
            samples.c.target_json.ilike(as_json, escape=_ESCAPE),
            samples.c.id.in_(outputs),
        )

    def _conditions(self, query: SampleQuery, scored: Any) -> list[ColumnElement[bool]]:
        """The WHERE clause of ``query`` (``scored`` from :meth:`_scored`)."""
        where: list[ColumnElement[bool]] = [samples.c.run_id == self.run_id]
        if query.search:
            where.append(self._search(query.search))
        if query.slice is not None:
            key, _, label = query.slice.partition("=")
            texts = self.slice_labels(key).get(label)
            value = _json_text(self.dialect, samples.c.metadata_json, key)
            if not texts:
                where.append(false())
            else:
                present = [t for t in texts if t is not None]
                options = [value.in_(present)] if present else []
                if None in texts:
                    options.append(value.is_(None))
                where.append(or_(*options))

        for scorer, wanted in query.verdicts:
            mean, at = scored.mean(scorer), self.pass_at.get(scorer, PASS_AT)
            where.append(scored.holds(mean >= at if wanted == "pass" else mean < at))
        if query.score_min is not None or query.score_max is not None:
            mean = scored.mean(query.scorer or "")
            tests = []
            if query.score_min is not None:
                tests.append(mean >= query.score_min)
            if query.score_max is not None:
                tests.append(mean <= query.score_max)
            where.append(scored.holds(and_(*tests)))
        if query.error is not None:
            errored = select(results.c.sample_id).where(
                results.c.run_id == self.run_id, results.c.error_class.is_not(None)
            )
            test = samples.c.id.in_(errored)
            where.append(test if query.error else ~test)
        if query.flaky is not None:
            unstable = [
                scored.spread(s) > FLAKY_TOLERANCE * (1 + func.abs(scored.mean(s)))
                for s in (scored.index if scored is not None else ())
            ]
            test = scored.holds(or_(*unstable)) if scored and unstable else false()
            where.append(test if query.flaky else ~test)
        return where

    def _ordered(self, query: SampleQuery, scored: Any) -> tuple[Any, list[Any]]:
        """The FROM clause (samples, joined to a per-sample sort value when needed) and the
        ORDER BY list."""
        key, source = query.sort_key, samples
        per_sample = None
        if key == "output":
            per_sample = select(
                results.c.sample_id, func.min(results.c.output_text).label("value")
            ).where(results.c.run_id == self.run_id)
        elif key == "error":
            per_sample = select(
                results.c.sample_id, func.count(results.c.error_class).label("value")
            ).where(results.c.run_id == self.run_id)
        if per_sample is not None:
            sub = per_sample.group_by(results.c.sample_id).subquery()
            source = samples.outerjoin(sub, sub.c.sample_id == samples.c.id)
            column: Any = sub.c.value
        elif key.startswith("score:"):  # the mean over subjects of their mean over epochs
            mean = scored.mean(key.removeprefix("score:"))
            sub = (
                select(scored.cte.c.sample_id, func.avg(mean).label("value"))
                .group_by(scored.cte.c.sample_id)
                .subquery()
            )
            source = samples.outerjoin(sub, sub.c.sample_id == samples.c.id)
            column = sub.c.value
        elif key.startswith("slice:"):
            column = _json_text(self.dialect, samples.c.metadata_json, key.removeprefix("slice:"))
        else:
            column = samples.c[{"input": "input_json", "target": "target_json"}.get(key, key)]
        first = (column.desc() if query.descending else column.asc()).nulls_last()
        return source, [first, samples.c.position, samples.c.id]

    # -- queries -------------------------------------------------------------------------------

    def _connect_for_sets(self) -> Any:
        """A connection for the whole-run queries (ranking, neighbours). On PostgreSQL they run
        without nested loops: a run's aggregated scores are often estimated at one row (a
        fresh table has no statistics, and ``error_class IS NULL`` gets a default
        selectivity), and a nested loop over a 3,000-row CTE is quadratic (7 s where a hash
        join takes 30 ms). ``SET LOCAL`` ends with the transaction, so the pool is unaffected."""
        conn = self.engine.connect()
        if self.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
        return conn

    def page(self, query: SampleQuery, *, limit: int, offset: int) -> BrowserPage:
        """The samples matching ``query``: how many, and one page of them with their cells.
        One query gives both (the count as a window over the matching rows); a second counts
        only when the page lies past the end."""
        scored = self._scored(query)
        where = self._conditions(query, scored)
        source, order = self._ordered(query, scored)
        ranked = (  # ids only: the window sees narrow rows, not every sample's text
            select(samples.c.id, func.count().over().label("n_matching"))
            .select_from(source)
            .where(*where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        with self._connect_for_sets() as conn:
            page = list(conn.execute(ranked))
            if page:
                total = int(page[0].n_matching)
                ids = [row.id for row in page]
                columns = (samples.c.id, samples.c.input_json, samples.c.target_json)
                full = select(*columns, samples.c.metadata_json).where(
                    samples.c.run_id == self.run_id, samples.c.id.in_(ids)
                )
                by_id = {row.id: row for row in conn.execute(full)}
                found = [_browser_sample(by_id[i]) for i in ids]
            else:
                counted = select(func.count()).select_from(samples).where(*where)
                total, found = int(conn.execute(counted).scalar() or 0), []
        return BrowserPage(total, found, self.cells([s.id for s in found]))

    def cells(self, sample_ids: Sequence[str]) -> dict[str, dict[str, SubjectCells]]:
        """sample id → subject → its cells, read for these samples only."""
        out: dict[str, dict[str, SubjectCells]] = {}
        if not sample_ids:
            return out
        query = (
            select(
                results.c.subject,
                results.c.sample_id,
                results.c.error_class,
                func.substr(results.c.output_text, 1, PREVIEW_CHARS).label("output"),
                scores.c.scorer,
                scores.c.value,
            )
            .select_from(results.outerjoin(scores, scores.c.result_id == results.c.id))
            .where(results.c.run_id == self.run_id, results.c.sample_id.in_(sample_ids))
            .order_by(results.c.subject, results.c.sample_id, results.c.epoch, scores.c.position)
        )
        if self.subjects:  # lets SQLite use the (run_id, subject, sample_id, epoch) index
            query = query.where(results.c.subject.in_(self.subjects))
        with self.engine.connect() as conn:
            for subject, sample_id, error_class, output, scorer, value in conn.execute(query):
                cell = out.setdefault(sample_id, {}).setdefault(subject, SubjectCells({}))
                if cell.output is None and output is not None:
                    cell.output = output
                if error_class is not None:
                    cell.error = True
                    continue
                if scorer is not None and value is not None:
                    values = cell.scores.get(scorer) or []
                    cell.scores[scorer] = [*values, float(value)]
        return out

    def neighbours(self, query: SampleQuery, sample_id: str) -> Neighbours:
        """The sample's place in the browser's order, by window functions (one row back)."""
        scored = self._scored(query)
        where = self._conditions(query, scored)
        source, order = self._ordered(query, scored)
        ranked = (
            select(
                samples.c.id,
                func.lag(samples.c.id).over(order_by=order).label("previous"),
                func.lead(samples.c.id).over(order_by=order).label("next"),
                func.row_number().over(order_by=order).label("place"),
                func.count().over().label("n_matching"),
            )
            .select_from(source)
            .where(*where)
            .subquery()
        )
        counted = select(func.count()).select_from(samples).where(*where)
        with self._connect_for_sets() as conn:
            row = conn.execute(select(ranked).where(ranked.c.id == sample_id)).first()
            if row is None:
                return Neighbours(None, int(conn.execute(counted).scalar() or 0))
        return Neighbours(int(row.place), int(row.n_matching), row.previous, row.next)
