"""What the data-tool pages show: ``assay data sample``, ``composition``, ``contamination``,
``provenance`` and ``assay export``, through the same library functions and with the same
``--json`` fields as those commands.

Files: the server reads only what :func:`readable_path` allows, the project directory it was
started in and the dataset files that stored runs name in their manifests. Anything else is a
:class:`ForbiddenPath` (403), so a form can never make the server read an arbitrary file.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.core import AssayError
from assay.store import Store


class ForbiddenPath(AssayError):
    """Raised when a form names a file outside the project directory and the stored runs'
    datasets: the server refuses to read it."""

    code = "forbidden_path"


def dataset_files(store: Store) -> list[Path]:
    """The dataset files stored runs were made from (their manifests' ``dataset.source``)
    that exist on this machine, newest run first, each once (the newest 500 runs)."""
    found: dict[Path, None] = {}
    for info in store.list_runs(limit=500):
        source = store.get_manifest(info.id).dataset.source
        if not source or "\n" in source:
            continue
        path = Path(source)
        if path.is_absolute() and path.is_file():
            found[path.resolve()] = None
    return list(found)


def readable_path(store: Store, text: str, *, where: str) -> Path:
    """``text`` as a file the server may read: inside the project directory (the server's
    working directory; relative paths start there) or a dataset file a stored run used."""
    text = text.strip()
    if not text:
        raise AssayError("name a file", where=where)
    project = Path.cwd().resolve()
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else project / path).resolve()
    if not (path.is_relative_to(project) or path in dataset_files(store)):
        raise ForbiddenPath(
            f"the server reads only files inside its project directory ({project}) and the "
            f"datasets stored runs used, not {text!r}",
            where=where,
            fix="copy the file into the project directory, or run the CLI command instead",
        )
    if not path.exists():
        raise AssayError(f"no such file: {text!r}", where=where)
    return path


def paths_of(store: Store, text: str, *, where: str) -> list[Path]:
    """Several readable paths, one per line or separated by commas."""
    names = [p.strip() for line in text.splitlines() for p in line.split(",") if p.strip()]
    if not names:
        raise AssayError("name at least one file", where=where)
    return [readable_path(store, name, where=where) for name in names]


def _strata(text: str, where: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise AssayError("names no stratum", where=where, fix="e.g. hour_of_week,route")
    return names


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    from assay.trace.query import parse_time

    start = parse_time(since, where="since") if since else None
    end = parse_time(until, where="until") if until else None
    if start and end and end <= start:
        raise AssayError("is not later than since", where="until")
    return start, end


def _population(
    store: Store,
    strata: tuple[str, ...],
    path: Path | None,
    since: str | None,
    until: str | None,
    weight: str | None,
) -> tuple[list[Any], dict[str, Any]]:
    """Records from a file, or the trace store, with the CLI's description of the source."""
    if path is not None:
        from assay.data.sampling import read_records

        return read_records(path), {"source": str(path)}
    from assay.trace.population import read_population, sources_of

    start, end = _window(since, until)
    records = read_population(store, strata, since=start, until=end, weight=weight)
    if not records:
        raise AssayError(
            "no traces in the store" + (" in that window" if start or end else ""),
            where="since" if start or end else "population",
        )
    source = {
        "source": "traces",
        "store": store.url,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "fields": {
            n: list(sources_of(n, {}))
            for n in (*strata, *([weight] if weight else ()))
            if n != "hour_of_week"
        },
    }
    return records, source


def sample_plan(
    store: Store,
    *,
    n: int,
    strata: str,
    path: Path | None = None,
    weight: str | None = None,
    tz: str = "UTC",
    seed: int = 0,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """``assay data sample --json`` (without ``--out``): the stratified draw's allocation and
    how the sample compares with its population."""
    from assay.data.sampling import StrataSpec, composition, draw_stratified

    if n < 1:
        raise AssayError(f"must be at least 1, got {n}", where="n")
    names = _strata(strata, "strata")
    spec = StrataSpec(names, time_column="timestamp", tz=tz, weight=weight or None)
    population, source = _population(store, spec.strata, path, since, until, weight or None)
    drawn = draw_stratified(population, spec, n, seed=seed)
    data: dict[str, Any] = composition(drawn.records, population, spec).to_json()
    data.update(source)
    data["seed"] = seed
    data["out"] = None
    data["allocation"] = [
        {"stratum": list(a.key), "population": a.population, "quota": a.quota, "drawn": a.drawn}
        for a in drawn.allocation
    ]
    return data


def trace_shares(
    store: Store, *, by: str, tz: str = "UTC", since: str | None = None, until: str | None = None
) -> dict[str, Any]:
    """``assay data composition --traces --by … --json``: production shares per stratum with
    Wilson intervals."""
    from assay.data.curriculum import category_shares
    from assay.data.sampling import HOUR_OF_WEEK, StrataSpec, hour_of_week_label

    names = _strata(by, "by")
    population, source = _population(store, names, None, since, until, None)
    zone = StrataSpec((HOUR_OF_WEEK,), tz=tz).zone()

    def counts(name: str) -> Counter[str]:
        if name == HOUR_OF_WEEK:
            return Counter(hour_of_week_label(r.values["timestamp"], zone) for r in population)
        return Counter(str(r.values[name]) for r in population)

    shares = {name: category_shares(counts(name)) for name in names}
    return {
        **source,
        "population_size": len(population),
        "confidence": 0.95,
        "variables": {n: [s.to_json() for s in v] for n, v in shares.items()},
    }


def sample_composition(
    sample: Path, population: Path, *, strata: str, weight: str | None = None, tz: str = "UTC"
) -> dict[str, Any]:
    """``assay data composition SAMPLE --population FILE --strata … --json``: how a drawn
    sample covers its population, per stratum, with the temporal-window flag."""
    from assay.data.sampling import StrataSpec, composition, read_records

    spec = StrataSpec(_strata(strata, "by"), time_column="timestamp", tz=tz, weight=weight or None)
    report = composition(read_records(sample), read_records(population), spec)
    return {**report.to_json(), "source": str(population)}


def contamination(
    store: Store,
    *,
    eval_path: Path | None,
    train: list[Path],
    eval_run: str | None = None,
    run: str | None = None,
    ngram: int = 13,
    min_length: int = 10,
    skip_budget: int = 4,
    include_target: bool = True,
    text_field: str = "text",
    id_field: str = "id",
) -> dict[str, Any]:
    """``assay data contamination --eval … --train … --json`` (one job), with the score by
    contamination subset when a stored run is named. ``eval_run`` instead of ``eval_path``
    takes the eval set from a stored run (its samples as stored, as the lint page does)."""
    from assay.data import load_dataset
    from assay.data.contamination import (
        ContaminationSettings,
        CorpusOptions,
        EvalIndex,
        contamination_effect,
        scan_corpus,
        scores_from_run,
    )

    settings = ContaminationSettings(
        ngram=ngram, min_length=min_length, skip_budget=skip_budget, include_target=include_target
    )
    if eval_run is not None:
        from assay.data import Dataset

        manifest = store.get_manifest(eval_run)
        dataset = Dataset(manifest.dataset.name, store.get_samples(eval_run), source=eval_run)
    elif eval_path is not None:
        dataset = load_dataset(eval_path)
    else:
        raise AssayError("name the eval dataset, or pick a run whose dataset to use", where="eval")
    if len(dataset) == 0:
        raise AssayError("the eval dataset has no samples", where="eval")
    run_id = store.resolve_run_id(run) if run else None
    options = CorpusOptions(text_field=text_field, id_field=id_field or None)
    report = scan_corpus(EvalIndex.from_samples(dataset, settings), train, options=options)
    data: dict[str, Any] = report.to_json()
    effects = []
    if run_id:
        overlaps = report.overlaps()
        effects = [
            _effect_dict(contamination_effect(overlaps, scores, settings, subject=s, scorer=k))
            for (s, k), scores in scores_from_run(store, run_id).items()
        ]
        data["run"] = run_id
    data["effects"] = effects
    return data


def _effect_dict(effect: Any) -> dict[str, Any]:
    """A :class:`~assay.data.contamination.ContaminationEffect` as the command's ``--json``
    writes it."""
    return {
        "subject": effect.subject,
        "scorer": effect.scorer,
        "n": effect.n,
        "mu": effect.mu,
        "affected": effect.affected,
        "n_unscored": effect.n_unscored,
        "rows": [row.__dict__ for row in effect.rows],
    }


def provenance(store: Store, *, datasets: list[Path], since: str) -> dict[str, Any]:
    """``assay data provenance DATASET… --revoked-since DATE --json`` over this store."""
    from assay.data.provenance import rows_with_revoked_consent

    try:
        when = datetime.fromisoformat(since.strip())
    except ValueError:
        raise AssayError(
            f"cannot read date {since!r}", where="revoked since", fix="e.g. 2024-07-01"
        ) from None
    return rows_with_revoked_consent(datasets, when, store=store).to_json()


EXPORT_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def export_file(store: Store, run_id: str, fmt: str) -> bytes:
    """``assay export RUN --format FMT``: the run's flat rows as the file the CLI writes."""
    from assay.analyse import FORMATS, export_run

    if fmt not in FORMATS:
        raise AssayError(f"unknown format {fmt!r}", where="format", fix="use jsonl, csv or parquet")
    handle, name = tempfile.mkstemp(suffix=f".{fmt}")
    os.close(handle)
    try:
        export_run(store, run_id, name, fmt)
        return Path(name).read_bytes()
    finally:
        os.unlink(name)
