"""Category shares with intervals, and the composition audit of a curated fine-tuning set (D7).

:func:`category_shares` gives each category's share of a population with a Wilson interval
(:func:`assay.stats.wilson_interval`). :func:`audit_curated` compares a curated set's category
shares with production's, category by category and as a whole table, and flags
``curriculum_trap``: the curated set teaches a model to always answer while production keeps
asking it to hedge.

*Hedge categories* are those whose normalised name (lower case, other characters as ``_``) is,
starts with or ends with one of :data:`HEDGE_CATEGORIES` (``clarification``, ``refusal``,
``hedge``, ``out_of_scope`` …; ``clarification_needed`` and ``should_refuse`` match). A hedge
category — or all of them together — is *under-represented* when

* production holds it at a share of at least ``min_production_share`` (2%),
* the curated share is below ``ratio`` (½) of production's, and
* Fisher's exact test on the 2×2 table (curated vs production × this category vs the rest),
  one-sided for a lower curated share, gives p < ``alpha`` (0.05),

so a curated set too small to tell 0% from production's share is not flagged, only noted. Any
under-represented hedge category (or the hedge categories together) raises
``curriculum_trap``. The whole table is tested with the G-test (log-likelihood ratio) and
Pearson's chi-square of homogeneity (:func:`scipy.stats.chi2_contingency` on the 2×K table of
counts); categories are matched between the two sets by their normalised names, and rows
without a category (:data:`MISSING`) are counted apart, not compared.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.core.errors import DatasetError
from assay.data.readers import open_rows

MISSING = "(none)"
HEDGE_CATEGORIES: tuple[str, ...] = (
    "clarification",
    "clarify",
    "refusal",
    "refuse",
    "hedge",
    "hedged",
    "out_of_scope",
    "unanswerable",
    "cannot_answer",
    "abstain",
    "abstention",
)
MIN_PRODUCTION_SHARE = 0.02
UNDER_RATIO = 0.5
ALPHA = 0.05
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_category(name: str) -> str:
    """``Clarification-Needed`` → ``clarification_needed``: how categories are matched."""
    return _NON_WORD.sub("_", name.strip().lower()).strip("_")


def is_hedge(category: str, names: Iterable[str] = HEDGE_CATEGORIES) -> bool:
    """Whether ``category`` is a hedge category (see the module docstring)."""
    key = normalise_category(category)
    for name in names:
        word = normalise_category(name)
        if key == word or key.startswith(word + "_") or key.endswith("_" + word):
            return True
    return False


@dataclass(frozen=True)
class CategoryShare:
    """One category's count and share of ``n``, with a Wilson interval ``[low, high]``."""

    category: str
    count: int
    n: int
    share: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form."""
        return {
            "value": self.category,
            "count": self.count,
            "share": self.share,
            "low": self.low,
            "high": self.high,
        }


def category_shares(counts: Mapping[str, int], confidence: float = 0.95) -> list[CategoryShare]:
    """Each category's share of the total with a Wilson interval, largest first (ties by
    name)."""
    from assay.stats import wilson_interval

    n = sum(counts.values())
    out = []
    for category, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        interval = wilson_interval(count, n, confidence)
        out.append(
            CategoryShare(category, count, n, interval.estimate, interval.low, interval.high)
        )
    return out


def field_value(row: Mapping[str, Any], path: str) -> Any:
    """The value of ``path`` in a dataset row: the column itself, else the same name inside
    ``metadata`` (where datasets keep slice labels), else a dotted path through objects (or
    JSON text of objects, as CSV cells hold them)."""
    for source in (row, row.get("metadata")):
        source = _object(source)
        if source is not None and path in source:
            return source[path]
    current: Any = row
    for part in path.split("."):
        current = _object(current)
        if current is None or part not in current:
            return None
        current = current[part]
    return current


def _object(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str) and value[:1] == "{":
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def read_categories(path: str | os.PathLike[str], field_name: str) -> Counter[str]:
    """How many rows of a dataset file (JSONL, CSV, Parquet, JSON, YAML) hold each value of
    ``field_name`` (see :func:`field_value`); rows without one count as :data:`MISSING`.

    Raises :class:`DatasetError` at a row that is not an object, and when no row has the field
    at all (naming the columns the file does have).
    """
    source = open_rows(path)
    counts: Counter[str] = Counter()
    first_keys: list[str] | None = None
    for number, row in source.rows:
        where = source.where(number)
        if not isinstance(row, Mapping):
            raise DatasetError(
                f"a row must be an object, not {type(row).__name__}",
                where=where,
                fix="write one object per line with the category field",
            )
        if first_keys is None:
            first_keys = sorted(map(str, row))
        value = field_value(row, field_name)
        if value is None or value == "":
            counts[MISSING] += 1
        else:
            counts[str(value)] += 1
    if counts and set(counts) == {MISSING}:
        raise DatasetError(
            f"no row has the field {field_name!r}",
            where=os.fspath(path),
            fix=f"name the category field with --curated-field (the rows have: "
            f"{', '.join((first_keys or [])[:12])})",
        )
    return counts


@dataclass(frozen=True)
class CategoryComparison:
    """One category in both sets. ``difference`` is curated minus production share;
    ``p_value`` is Fisher's exact test (two-sided) of equal shares; ``p_under`` the one-sided
    test for a lower curated share (hedge categories)."""

    category: str
    hedge: bool
    curated: CategoryShare
    production: CategoryShare
    difference: float
    p_value: float
    p_under: float
    under_represented: bool

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form."""
        return {
            "category": self.category,
            "hedge": self.hedge,
            "curated_count": self.curated.count,
            "curated_share": self.curated.share,
            "curated_low": self.curated.low,
            "curated_high": self.curated.high,
            "production_count": self.production.count,
            "production_share": self.production.share,
            "production_low": self.production.low,
            "production_high": self.production.high,
            "difference": self.difference,
            "p_value": self.p_value,
            "p_under": self.p_under,
            "under_represented": self.under_represented,
        }


@dataclass(frozen=True)
class TableTest:
    """The whole-table test of homogeneity: G (log-likelihood ratio) and Pearson's chi-square,
    their degrees of freedom and p-values, and the smallest expected count (below 5 the
    asymptotic p-values are rough)."""

    g: float
    g_p_value: float
    chi2: float
    chi2_p_value: float
    dof: int
    min_expected: float

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form."""
        return {
            "method": "G-test (log-likelihood ratio) and Pearson chi-square of homogeneity",
            "g": self.g,
            "g_p_value": self.g_p_value,
            "chi2": self.chi2,
            "chi2_p_value": self.chi2_p_value,
            "dof": self.dof,
            "min_expected": self.min_expected,
        }


@dataclass(frozen=True)
class CompositionFlag:
    """A finding about the curated set, with the numbers behind it."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CurriculumReport:
    """Curated set against production, per category (production order: largest share first),
    with the hedge categories' aggregate, the whole-table test and the flags."""

    curated_n: int
    production_n: int
    curated_missing: int
    production_missing: int
    categories: list[CategoryComparison]
    hedge_total: CategoryComparison | None
    test: TableTest | None
    flags: list[CompositionFlag]
    hedge_names: tuple[str, ...]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for ``--json``."""
        return {
            "curated_n": self.curated_n,
            "production_n": self.production_n,
            "curated_without_category": self.curated_missing,
            "production_without_category": self.production_missing,
            "hedge_categories": list(self.hedge_names),
            "categories": [c.to_json() for c in self.categories],
            "hedge_total": None if self.hedge_total is None else self.hedge_total.to_json(),
            "test": None if self.test is None else self.test.to_json(),
            "flags": [{"code": f.code, "message": f.message, **f.details} for f in self.flags],
            "notes": list(self.notes),
        }


def _fisher(a: int, n1: int, b: int, n2: int) -> tuple[float, float]:
    """Fisher's exact test of curated ``a/n1`` against production ``b/n2``: (two-sided p,
    one-sided p for a lower curated share)."""
    from scipy.stats import fisher_exact

    table = [[a, n1 - a], [b, n2 - b]]
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    two = float(fisher_exact(table, alternative="two-sided").pvalue)
    less = float(fisher_exact(table, alternative="less").pvalue)
    return two, less


def _compare(
    category: str,
    hedge: bool,
    curated_count: int,
    curated_n: int,
    production_count: int,
    production_n: int,
    *,
    min_share: float,
    ratio: float,
    alpha: float,
    confidence: float,
) -> CategoryComparison:
    from assay.stats import wilson_interval

    cur = wilson_interval(curated_count, curated_n, confidence)
    prod = wilson_interval(production_count, production_n, confidence)
    p_two, p_less = _fisher(curated_count, curated_n, production_count, production_n)
    under = (
        hedge
        and prod.estimate >= min_share
        and cur.estimate < ratio * prod.estimate
        and p_less < alpha
    )
    return CategoryComparison(
        category=category,
        hedge=hedge,
        curated=CategoryShare(category, curated_count, curated_n, cur.estimate, cur.low, cur.high),
        production=CategoryShare(
            category, production_count, production_n, prod.estimate, prod.low, prod.high
        ),
        difference=cur.estimate - prod.estimate,
        p_value=p_two,
        p_under=p_less,
        under_represented=bool(under),
    )


def _table_test(curated: Sequence[int], production: Sequence[int]) -> TableTest | None:
    from scipy.stats import chi2_contingency

    columns = [(c, p) for c, p in zip(curated, production, strict=True) if c + p > 0]
    if len(columns) < 2 or sum(c for c, _ in columns) == 0 or sum(p for _, p in columns) == 0:
        return None
    table = [[c for c, _ in columns], [p for _, p in columns]]
    g = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    chi2 = chi2_contingency(table, correction=False)
    return TableTest(
        g=float(g.statistic),
        g_p_value=float(g.pvalue),
        chi2=float(chi2.statistic),
        chi2_p_value=float(chi2.pvalue),
        dof=int(g.dof),
        min_expected=float(g.expected_freq.min()),
    )


def audit_curated(
    curated: Mapping[str, int],
    production: Mapping[str, int],
    *,
    hedge_names: Sequence[str] = HEDGE_CATEGORIES,
    min_production_share: float = MIN_PRODUCTION_SHARE,
    ratio: float = UNDER_RATIO,
    alpha: float = ALPHA,
    confidence: float = 0.95,
) -> CurriculumReport:
    """Compare a curated set's category counts with production's (see the module docstring).

    ``curated`` and ``production`` map category → count; :data:`MISSING` counts are set apart.
    """
    labels: dict[str, str] = {}
    cur: Counter[str] = Counter()
    prod: Counter[str] = Counter()
    for counts, into in ((production, prod), (curated, cur)):
        for name, count in counts.items():
            if name == MISSING:
                continue
            key = normalise_category(name) or name
            labels.setdefault(key, name)
            into[key] += int(count)
    cur_n, prod_n = sum(cur.values()), sum(prod.values())
    keys = sorted(labels, key=lambda k: (-prod[k], -cur[k], k))
    options = {
        "min_share": min_production_share,
        "ratio": ratio,
        "alpha": alpha,
        "confidence": confidence,
    }
    rows = [
        _compare(labels[k], is_hedge(k, hedge_names), cur[k], cur_n, prod[k], prod_n, **options)
        for k in keys
    ]
    hedge_keys = [k for k in keys if is_hedge(k, hedge_names)]
    total = None
    if hedge_keys:
        total = _compare(
            "hedge categories together",
            True,
            sum(cur[k] for k in hedge_keys),
            cur_n,
            sum(prod[k] for k in hedge_keys),
            prod_n,
            **options,
        )
    test = _table_test([cur[k] for k in keys], [prod[k] for k in keys])
    flags: list[CompositionFlag] = []
    notes: list[str] = []
    under = [r for r in rows if r.under_represented]
    if under or (total is not None and total.under_represented):
        named = under or [total]  # type: ignore[list-item]
        described = ", ".join(
            f"{r.category} {r.curated.share:.1%} curated vs {r.production.share:.1%} production"
            for r in named
        )
        flags.append(
            CompositionFlag(
                "curriculum_trap",
                f"hedged/refusal/clarification cases are missing or under-represented in the "
                f"curated set: {described}",
                {
                    "categories": [r.category for r in named],
                    "curated_hedge_share": None if total is None else total.curated.share,
                    "production_hedge_share": None if total is None else total.production.share,
                    "p_under": None if total is None else total.p_under,
                },
            )
        )
    for row in [*rows, *([total] if total else [])]:
        if (
            row.hedge
            and not row.under_represented
            and row.production.share >= min_production_share
            and row.curated.share < ratio * row.production.share
        ):
            expected = row.production.share * cur_n
            notes.append(
                f"{row.category}: {row.curated.share:.1%} of the curated set against "
                f"{row.production.share:.1%} of production, but {cur_n} curated rows are too "
                f"few to tell (about {expected:.1f} expected; one-sided p = {row.p_under:.2g})"
            )
    if not hedge_keys:
        notes.append(
            "no category of either set is a hedge category ("
            + ", ".join(hedge_names)
            + "); name them with --hedge"
        )
    return CurriculumReport(
        curated_n=cur_n,
        production_n=prod_n,
        curated_missing=int(curated.get(MISSING, 0)),
        production_missing=int(production.get(MISSING, 0)),
        categories=rows,
        hedge_total=total,
        test=test,
        flags=flags,
        hedge_names=tuple(hedge_names),
        notes=notes,
    )
