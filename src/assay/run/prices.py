"""Reading a user's price file into a :class:`~assay.core.prices.PriceBook`.

A YAML (or JSON) file; USD per million tokens; entries for one glob with different ``since``
dates version its price over time::

    prices:
      - model: "atlas-large"          # a glob on the model name (after any provider/ prefix)
        input: 3.0
        output: 15.0
      - model: "gpt-4o*"
        since: 2025-06-01             # applies to calls made on or after this date
        input: 2.0
        output: 8.0
        cached_input: 1.0             # also: cache_write, reasoning, input_audio,
                                      # output_audio, input_image

The short form ``{"atlas-large": [3.0, 15.0]}`` (a spec's ``prices:`` table) is read too.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from assay.core import SpecError
from assay.core.prices import TOKEN_PARTS, PriceBook, PriceEntry, Rates
from assay.run.yamlfile import load_yaml


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SpecError(
            f"a price must be a non-negative number of USD per million tokens, not {value!r}",
            where=where,
            fix="write e.g. input: 2.5",
        )
    return float(value)


def _since(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SpecError(
            f"cannot read {value!r} as a date", where=where, fix="write since: 2025-06-01"
        ) from None


def load_price_file(path: str | Path, *, use_genai_prices: bool = True) -> PriceBook:
    """A :class:`PriceBook` with the file's entries first (see the module docstring); errors
    name the file, line and field."""
    doc = load_yaml(path)
    data = doc.data.get("prices", doc.data) if isinstance(doc.data, dict) else doc.data
    prefix: tuple[Any, ...] = (
        ("prices",) if isinstance(doc.data, dict) and "prices" in doc.data else ()
    )
    entries: list[PriceEntry] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = doc.where((*prefix, key))
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise SpecError(
                    f"price of {key!r} must be [input, output]",
                    where=where,
                    fix=f'write "{key}": [2.5, 10.0] (USD per million tokens)',
                )
            rates = Rates(
                _rate(value[0], where),
                _rate(value[1], where),
                source=f"user {doc.filename}",
                model=str(key),
            )
            entries.append(PriceEntry(str(key), rates, None, where))
    elif isinstance(data, list):
        for k, item in enumerate(data):
            where = doc.where((*prefix, k))
            if not isinstance(item, dict) or not isinstance(item.get("model"), str):
                raise SpecError(
                    "each price entry needs a model glob",
                    where=where,
                    fix='write - {model: "gpt-4o*", input: 2.5, output: 10.0}',
                )
            unknown = set(item) - {"model", "since", *TOKEN_PARTS}
            if unknown:
                raise SpecError(
                    f"unknown price field(s): {', '.join(sorted(unknown))}",
                    where=where,
                    fix=f"use model, since and {', '.join(TOKEN_PARTS)}",
                )
            for needed in ("input", "output"):
                if needed not in item:
                    raise SpecError(
                        f"price entry for {item['model']!r} has no {needed} rate",
                        where=where,
                        fix=f"add {needed}: <USD per million tokens>",
                    )
            values = {
                p: _rate(item[p], doc.where((*prefix, k, p))) for p in TOKEN_PARTS if p in item
            }
            since = _since(item.get("since"), doc.where((*prefix, k, "since")))
            rates = Rates(**values, source=f"user {doc.filename}", model=item["model"])
            entries.append(PriceEntry(item["model"], rates, since, where))
    else:
        raise SpecError(
            "a price file is a list of entries (or a mapping of model to [input, output])",
            where=doc.where(()),
            fix="see `assay costs --help` for the format",
        )
    return PriceBook(entries, use_genai_prices=use_genai_prices)
