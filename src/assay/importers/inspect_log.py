"""Inspect AI logs (``.eval`` and ``.json``) as assay runs.

Read with Inspect's own reader, ``inspect_ai.log.read_eval_log``, when the ``inspect_ai``
package is installed; otherwise with the fallback reader here. Both give the same document:
the log's JSON as Inspect writes it (``EvalLog`` dumped), so one mapping serves both.

The ``.eval`` format is a zip archive (Inspect's ``log/_recorders/eval.py``): ``header.json``
(``version``, ``status``, ``eval``, ``plan``, ``results``, ``stats``, ``error``),
``samples/<id>_epoch_<n>.json`` (one ``EvalSample`` each), ``summaries.json``,
``reductions.json``, and ``_journal/start.json`` while a run is still being written.
Inspect ≥ 0.3.1xx compresses members with Zstandard (zip method 93), which Python's
``zipfile`` reads only from 3.14; the fallback decompresses them with the ``zstandard``
package (``pip install "assay[inspect]"``). A ``.json`` log is the same ``EvalLog`` in one
document, samples included.

Scores map as Inspect's ``value_to_float`` does (``inspect_ai/scorer/_metric.py``): ``C`` 1,
``I`` 0, ``P`` 0.5, ``N`` 0, booleans 1/0, numbers as they are, numeric strings parsed; a
dict-valued score becomes one scorer per key (``name/key``). Epochs are 1-based in Inspect and
0-based in assay.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from assay.core import (
    Message,
    Output,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
    Usage,
)
from assay.core.hashing import content_hash
from assay.importers._model import (
    ImportedRun,
    ImportFileError,
    as_float,
    choose_slices,
    message_text,
    parse_time,
    read_json,
    require,
)

KIND = "inspect"
WHAT = "an Inspect AI log (.eval archive or .json log)"
_ZSTD = 93
_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_SAMPLE_MEMBER = re.compile(r"samples/.+\.json")
_JSON_LOG = re.compile(r'\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')


def looks_like(path: Path, head: bytes) -> bool:
    """An ``.eval`` zip with a header or journal, or a JSON document with ``eval`` and
    ``plan`` objects at the top."""
    if path.suffix == ".eval" or head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
        return "header.json" in names or "_journal/start.json" in names
    # An EvalLog dumped by Inspect starts {"version": N, "status": ..., "eval": {...}.
    text = head.decode("utf-8", "ignore")
    return bool(_JSON_LOG.match(text)) and '"eval"' in text


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes; Zstandard members decompressed with ``zstandard`` (CRC checked)."""
    if info.compress_type != _ZSTD:
        return archive.read(info)
    try:
        import zstandard
    except ImportError:
        raise ImportFileError(
            "this .eval log is Zstandard-compressed (Inspect AI's default since 2025), which "
            "needs the `zstandard` package or Inspect AI itself",
            where=str(path),
            fix='pip install "assay[inspect]" (or pip install inspect-ai)',
        ) from None
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ImportFileError(f"corrupt zip member {info.filename!r}", where=str(path))
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_length + extra_length)
        compressed = fh.read(info.compress_size)
    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(compressed), read_across_frames=True
    )
    data = reader.read()
    if zlib.crc32(data) != info.CRC:
        raise ImportFileError(f"zip member {info.filename!r} fails its CRC", where=str(path))
    return data


def _member_json(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    try:
        return json.loads(_member(path, archive, info))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImportFileError(
            f"member {info.filename!r} is not valid JSON ({error})", where=str(path), fix=WHAT
        ) from None


def read_fallback(path: Path) -> dict[str, Any]:
    """The log as a dict (header fields plus ``samples``), without Inspect AI installed."""
    if path.suffix != ".eval" and not zipfile.is_zipfile(path):
        log = read_json(path, WHAT)
        if not isinstance(log, dict):
            raise ImportFileError("expected a JSON object (an Inspect EvalLog)", where=str(path))
        return log
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ImportFileError(
            f"is not a zip archive ({error})", where=str(path), fix=WHAT
        ) from None
    with archive:
        infos = {info.filename: info for info in archive.infolist()}
        header_name = "header.json" if "header.json" in infos else "_journal/start.json"
        if header_name not in infos:
            raise ImportFileError(
                "has neither header.json nor _journal/start.json", where=str(path), fix=WHAT
            )
        log = dict(_member_json(path, archive, infos[header_name]))
        log.setdefault("status", "started")
        log["samples"] = [
            _member_json(path, archive, info)
            for name, info in infos.items()
            if _SAMPLE_MEMBER.fullmatch(name)
        ]
    return log


def read_log(path: Path) -> dict[str, Any]:
    """The log as a dict: through ``inspect_ai.log.read_eval_log`` when Inspect is installed,
    else :func:`read_fallback`."""
    try:
        from inspect_ai.log import read_eval_log  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return read_fallback(path)
    try:
        log = read_eval_log(str(path))
    except Exception as error:  # Inspect's own reader: any failure is a bad file here
        raise ImportFileError(
            f"Inspect AI could not read it: {error}", where=str(path), fix=WHAT
        ) from None
    return dict(log.model_dump(mode="json", exclude_none=True))


def score_values(name: str, score: Any) -> list[tuple[str, float | None, str | None]]:
    """``(scorer name, value, error)`` for one Inspect ``Score`` (dicts give one per key)."""
    value = score.get("value") if isinstance(score, dict) else score
    if isinstance(value, dict):
        out: list[tuple[str, float | None, str | None]] = []
        for key, item in value.items():
            out.extend(score_values(f"{name}/{key}", {"value": item}))
        return out
    if isinstance(value, str) and value.strip() in _LETTERS:
        return [(name, _LETTERS[value.strip()], None)]
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return [(name, _WORDS[value.strip().lower()], None)]
    number = as_float(value)
    if number is None:
        return [(name, None, f"inspect score value {value!r} is not a number")]
    return [(name, number, None)]


def _sample(raw: dict[str, Any], where: str) -> Sample:
    sample_id = str(require(raw, "id", (str, int), where))
    given = raw.get("input", "")
    if isinstance(given, list):
        messages = tuple(
            Message(role=m.get("role", "user"), content=message_text(m.get("content")))
            for m in given
            if isinstance(m, dict) and m.get("role") in ("system", "user", "assistant", "tool")
        )
        source: str | tuple[Message, ...] = messages or ""
    else:
        source = str(given)
    target = raw.get("target")
    if isinstance(target, list):
        target = tuple(str(t) for t in target)
    elif target is not None:
        target = str(target)
    metadata = raw.get("metadata") or {}
    return Sample(id=sample_id, input=source, target=target, metadata=dict(metadata))


def _result(raw: dict[str, Any], subject: str, where: str) -> SampleResult:
    epoch = require(raw, "epoch", int, where) - 1
    sample_id = str(raw["id"])
    error = raw.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        return SampleResult(
            subject=subject,
            sample_id=sample_id,
            epoch=epoch,
            error=str(message or "sample error"),
            error_class="inspect_error",
        )
    out = raw.get("output") or {}
    usage = out.get("usage") or {}
    choices = out.get("choices") or [{}]
    output = Output(
        text=str(out.get("completion") or ""),
        model=out.get("model"),
        finish_reason=choices[0].get("stop_reason") if isinstance(choices[0], dict) else None,
        usage=Usage(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            total_tokens=usage.get("total_tokens"),
        ),
        latency_ms=1000 * out["time"] if isinstance(out.get("time"), (int, float)) else None,
        metadata={"inspect_uuid": raw.get("uuid"), "total_time": raw.get("total_time")},
    )
    scores = []
    for name, score in (raw.get("scores") or {}).items():
        for scorer, value, problem in score_values(name, score):
            detail = score if isinstance(score, dict) else {}
            answer = detail.get("answer")
            explanation = detail.get("explanation")
            scores.append(
                Score(
                    scorer=scorer,
                    value=value,
                    answer=None if answer is None else str(answer),
                    explanation=None if explanation is None else str(explanation),
                    error=problem,
                    metadata={"inspect_value": detail.get("value")}
                    if isinstance(detail.get("value"), str)
                    else {},
                )
            )
    return SampleResult(
        subject=subject, sample_id=sample_id, epoch=epoch, output=output, scores=scores
    )


def _plan(log: dict[str, Any]) -> tuple[list[Any], dict[str, Any], str | None]:
    plan = log.get("plan") or {}
    steps = plan.get("steps") or []
    template = next(
        (
            s.get("params", {}).get("template")
            for s in steps
            if isinstance(s, dict) and s.get("solver") in ("system_message", "prompt_template")
        ),
        None,
    )
    return steps, dict(plan.get("config") or {}), template


def convert(path: Path, log: dict[str, Any], sha256: str, name: str | None) -> ImportedRun:
    """Map an Inspect log document to an :class:`ImportedRun`."""
    ev = require(log, "eval", dict, f"{path} (header)")
    task = str(require(ev, "task", str, f"{path} (eval)"))
    model = str(ev.get("model") or "unknown")
    steps, params, template = _plan(log)
    params = {**params, **(ev.get("model_generate_config") or {})}
    samples: dict[str, Sample] = {}
    results = []
    for raw in log.get("samples") or []:
        where = f"{path} (sample {raw.get('id')!r} epoch {raw.get('epoch')!r})"
        sample = _sample(raw, where)
        samples.setdefault(sample.id, sample)
        results.append(_result(raw, model, where))
    if not results:
        raise ImportFileError(
            "the log holds no samples (was it written with --no-log-samples, or is the run "
            "still starting?)",
            where=str(path),
            fix="import a log that kept its samples",
        )
    ordered_ids = [str(i) for i in (ev.get("dataset") or {}).get("sample_ids") or []]
    order = {sid: i for i, sid in enumerate(ordered_ids)}
    ordered = sorted(samples.values(), key=lambda s: (order.get(s.id, len(order)), s.id))
    packages = ev.get("packages") or {}
    version = packages.get("inspect_ai")
    scorer_names: dict[str, ScorerManifest] = {}
    for entry in (log.get("results") or {}).get("scores") or []:
        scorer_names[entry["name"]] = ScorerManifest(
            name=entry["name"],
            version=f"inspect_ai {version or 'unknown'}",
            kind=f"inspect:{entry.get('scorer', entry['name'])}",
            config={"params": entry.get("params") or {}, "reducer": entry.get("reducer")},
        )
    for result in results:
        for score in result.scores:
            base = score.scorer.split("/")[0]
            if score.scorer not in scorer_names:
                known = scorer_names.get(base)
                scorer_names[score.scorer] = ScorerManifest(
                    name=score.scorer,
                    version=f"inspect_ai {version or 'unknown'}",
                    kind=known.kind if known else f"inspect:{base}",
                    config=known.config if known else {},
                )
    for base in [n for n in scorer_names if any(k.startswith(n + "/") for k in scorer_names)]:
        del scorer_names[base]  # a dict-valued scorer is stored per key
    revision = ev.get("revision") or {}
    config = ev.get("config") or {}
    subject = SubjectManifest(
        name=model,
        kind="imported",
        provider=model.split("/")[0] if "/" in model else None,
        requested_model=model,
        resolved_models=list(
            dict.fromkeys(r.output.model for r in results if r.output and r.output.model)
        ),
        prompt_template=template,
        prompt_hash=content_hash(steps),
        params=params,
        config={
            "tool": "inspect_ai",
            "task": task,
            "task_version": ev.get("task_version"),
            "task_file": ev.get("task_file"),
            "task_args": ev.get("task_args") or {},
            "plan": steps,
            "model_args": ev.get("model_args") or {},
            "model_base_url": ev.get("model_base_url"),
            "inspect_status": log.get("status"),
            "inspect_run_id": ev.get("run_id"),
            "inspect_eval_id": ev.get("eval_id"),
            "source_file": path.name,
            "source_sha256": sha256,
        },
    )
    stats = log.get("stats") or {}
    epochs = config.get("epochs") or max(r.epoch for r in results) + 1
    dataset = ev.get("dataset") or {}
    return ImportedRun(
        kind=KIND,
        name=name or task,
        tool="inspect_ai",
        tool_version=version,
        source=path,
        source_sha256=sha256,
        dataset_name=str(dataset.get("name") or task),
        samples=ordered,
        subjects=[subject],
        scorers=list(scorer_names.values()),
        results=results,
        epochs=int(epochs),
        seed=int(config.get("seed") or 0),
        slices=choose_slices([s.metadata for s in ordered]),
        started_at=parse_time(stats.get("started_at")) or parse_time(ev.get("created")),
        finished_at=parse_time(stats.get("completed_at")),
        git_sha=revision.get("commit"),
        tool_versions={k: str(v) for k, v in packages.items() if k != "inspect_ai"},
    )


def read(path: Path, sha256: str, name: str | None = None) -> ImportedRun:
    """Read an Inspect AI log into an :class:`ImportedRun`."""
    return convert(path, read_log(path), sha256, name)
