"""openai/evals logs, and OpenAI hosted Evals run output items, as assay runs.

**openai/evals** (the open-source framework): ``oaieval`` records a JSON Lines log through
``evals/record.py``'s ``LocalRecorder``: a first line ``{"spec": RunSpec}`` (``completion_fns``,
``eval_name``, ``base_eval``, ``split``, ``run_config`` with the ``eval_spec`` and ``seed``,
``run_id``, ``created_at``), then one line per ``Event`` (``run_id``, ``event_id``,
``sample_id``, ``type``, ``data``, ``created_by``, ``created_at``), and a last line
``{"final_report": {...}, "run_id"}``. Event types read here: ``sampling`` (``data.prompt``,
``data.sampled``), ``match`` (``data.correct``, ``expected``, ``picked``), ``metrics`` (any
keys, e.g. a model-graded ``choice`` and ``score``) and ``error``. The k-th sampling of a
sample is its k-th epoch, as are its k-th match and metrics events.

**OpenAI hosted Evals** (shut down on 2026-11-30): an exported run's output items, as listed
by ``GET /v1/evals/{eval_id}/runs/{run_id}/output_items`` (the API reference's
``eval.run.output_item``: ``id``, ``datasource_item_id``, ``datasource_item``, ``status``,
``results`` (one per grader: ``name``, ``passed``, ``score``), ``sample`` (``input``, ``output``
messages, ``model``, ``usage``, ``error``, ``temperature``, ``max_completion_tokens``,
``top_p``, ``seed``)), either the list page (``{"object": "list", "data": [...]}``) or one
item per line.
"""

from __future__ import annotations

import json
from collections import defaultdict
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
    read_jsonl,
    require,
)

KIND = "openai-evals"
WHAT = (
    "an openai/evals log (JSON Lines: a spec line, events, a final_report line) or an OpenAI "
    "Evals run's output items"
)
_ROLES = ("system", "user", "assistant", "tool")


def looks_like(path: Path, head: bytes) -> bool:
    """A ``{"spec": ...}`` first line, or ``eval.run.output_item`` objects."""
    text = head.decode("utf-8", "ignore")
    first = text.split("\n", 1)[0]
    return first.lstrip().startswith('{"spec"') or '"eval.run.output_item"' in text


def _messages(prompt: Any) -> str | tuple[Message, ...]:
    if isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt):
        return tuple(
            Message(
                role=m.get("role") if m.get("role") in _ROLES else "user",
                content=message_text(m.get("content")),
            )
            for m in prompt
        )
    return prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)


def _target(expected: Any) -> str | tuple[str, ...] | None:
    if isinstance(expected, list):
        return tuple(str(e) for e in expected)
    return None if expected is None else str(expected)


def _convert_log(
    path: Path, lines: list[tuple[int, Any]], sha256: str, name: str | None
) -> ImportedRun:
    number, first = lines[0]
    spec = require(first, "spec", dict, f"{path}:{number}")
    final: dict[str, Any] = {}
    events: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    order: list[str] = []
    for number, line in lines[1:]:
        where = f"{path}:{number}"
        if isinstance(line, dict) and "final_report" in line:
            final = line["final_report"] if isinstance(line["final_report"], dict) else {}
            continue
        kind = require(line, "type", str, where)
        sample_id = line.get("sample_id")
        if sample_id is None:
            continue  # run-level events carry no sample
        require(line, "data", dict, where)
        sid = str(sample_id)
        if sid not in events:
            order.append(sid)
        events[sid][kind].append(line["data"])
    if not order:
        raise ImportFileError("the log holds no sample events", where=str(path), fix=WHAT)
    fns = [str(f) for f in spec.get("completion_fns") or []] or ["unknown"]
    subject_name = ",".join(fns)
    samples, results = [], []
    scorer_names: dict[str, None] = {}
    epochs = 1
    for sid in order:
        kinds = events[sid]
        sampling, matches, metrics = (
            kinds.get("sampling", []),
            kinds.get("match", []),
            kinds.get("metrics", []),
        )
        prompt = (
            sampling[0].get("prompt") if sampling else (matches[0].get("prompt") if matches else "")
        )
        expected = matches[0].get("expected") if matches else None
        samples.append(Sample(id=sid, input=_messages(prompt) or "", target=_target(expected)))
        n = max(len(sampling), len(matches), len(metrics), 1)
        epochs = max(epochs, n)
        errors = kinds.get("error", [])
        for epoch in range(n):
            if not sampling[epoch : epoch + 1] and errors:
                error = errors[min(epoch, len(errors) - 1)]
                results.append(
                    SampleResult(
                        subject=subject_name,
                        sample_id=sid,
                        epoch=epoch,
                        error=str(error.get("message") or error),
                        error_class=str(error.get("type") or "error"),
                    )
                )
                continue
            event = sampling[epoch] if epoch < len(sampling) else {}
            # Completion fns that record no sampling event still leave the text on the match.
            sampled = event.get(
                "sampled", (matches[epoch] if epoch < len(matches) else {}).get("sampled", "")
            )
            text = sampled[0] if isinstance(sampled, list) and sampled else sampled
            scores = []
            if epoch < len(matches):
                match = matches[epoch]
                scores.append(
                    Score(
                        scorer="match",
                        value=1.0 if match.get("correct") else 0.0,
                        answer=None if match.get("picked") is None else str(match["picked"]),
                        metadata={k: v for k, v in match.items() if k not in ("correct", "picked")},
                    )
                )
            if epoch < len(metrics):
                labels = {k: v for k, v in metrics[epoch].items() if as_float(v) is None}
                for key, value in metrics[epoch].items():
                    numeric = as_float(value)
                    if numeric is not None:
                        scores.append(Score(scorer=key, value=numeric, metadata=labels))
            scorer_names.update(dict.fromkeys(s.scorer for s in scores))
            results.append(
                SampleResult(
                    subject=subject_name,
                    sample_id=sid,
                    epoch=epoch,
                    output=Output(
                        text=str(text or ""),
                        model=event.get("model"),
                        metadata={"sampled": sampled},
                    ),
                    scores=scores,
                )
            )
    run_config = spec.get("run_config") or {}
    eval_spec = run_config.get("eval_spec") or {}
    eval_name = str(spec.get("eval_name") or spec.get("base_eval") or path.stem)
    subject = SubjectManifest(
        name=subject_name,
        kind="imported",
        provider="openai-evals",
        requested_model=subject_name,
        resolved_models=list(
            dict.fromkeys(r.output.model for r in results if r.output and r.output.model)
        ),
        prompt_hash=content_hash({"eval_spec": eval_spec}),
        config={
            "tool": "openai/evals",
            "eval_name": eval_name,
            "base_eval": spec.get("base_eval"),
            "split": spec.get("split"),
            "eval_spec": eval_spec,
            "completion_fns": fns,
            "run_id": spec.get("run_id"),
            "final_report": final,
            "source_file": path.name,
            "source_sha256": sha256,
        },
    )
    version = f"openai/evals {eval_spec.get('cls', 'unknown')}"
    return ImportedRun(
        kind=KIND,
        name=name or eval_name,
        tool="openai-evals",
        tool_version=None,
        source=path,
        source_sha256=sha256,
        dataset_name=str(spec.get("base_eval") or eval_name),
        samples=samples,
        subjects=[subject],
        scorers=[
            ScorerManifest(name=s, version=version, kind=f"openai-evals:{s}") for s in scorer_names
        ],
        results=results,
        epochs=epochs,
        seed=int(run_config.get("seed") or 0),
        started_at=parse_time(spec.get("created_at")),
    )


def _convert_items(
    path: Path, items: list[tuple[str, Any]], sha256: str, name: str | None
) -> ImportedRun:
    samples: dict[str, Sample] = {}
    results = []
    subjects: dict[str, SubjectManifest] = {}
    scorer_names: dict[str, None] = {}
    eval_ids: set[str] = set()
    epochs: dict[tuple[str, str], int] = defaultdict(int)
    for where, item in items:
        require(item, "results", list, where)
        sample_part = require(item, "sample", dict, where)
        source = item.get("datasource_item") or {}
        sid = str(item.get("datasource_item_id", item.get("id")))
        eval_ids.add(str(item.get("eval_id") or ""))
        if sid not in samples:
            scalars = (
                {k: v for k, v in source.items() if isinstance(v, (str, int, bool))}
                if isinstance(source, dict)
                else {}
            )
            samples[sid] = Sample(
                id=sid,
                input=_messages(sample_part.get("input") or source.get("input") or ""),
                target=_target(
                    source.get("ideal") or source.get("expected") or source.get("reference")
                ),
                metadata={**scalars, "datasource_item": source},
            )
        model = str(sample_part.get("model") or "unknown")
        subjects.setdefault(
            model,
            SubjectManifest(
                name=model,
                kind="imported",
                provider="openai",
                requested_model=model,
                resolved_models=[model],
                params={
                    k: sample_part[k]
                    for k in ("temperature", "max_completion_tokens", "top_p", "seed")
                    if sample_part.get(k) is not None
                },
                config={
                    "tool": "openai-hosted-evals",
                    "eval_id": item.get("eval_id"),
                    "run_id": item.get("run_id"),
                    "source_file": path.name,
                    "source_sha256": sha256,
                },
            ),
        )
        epoch = epochs[(model, sid)]
        epochs[(model, sid)] += 1
        error = sample_part.get("error")
        if isinstance(error, dict) and (error.get("code") or error.get("message")):
            results.append(
                SampleResult(
                    subject=model,
                    sample_id=sid,
                    epoch=epoch,
                    error=str(error.get("message") or error.get("code")),
                    error_class=str(error.get("code") or "error"),
                )
            )
            continue
        outputs = sample_part.get("output") or []
        text = "\n".join(message_text(m.get("content")) for m in outputs if isinstance(m, dict))
        usage = sample_part.get("usage") or {}
        scores = []
        for grader in item["results"]:
            if not isinstance(grader, dict):
                continue
            grader_name = str(grader.get("name") or grader.get("type") or "grader")
            score = as_float(grader.get("score"))
            if score is None and "passed" in grader:
                score = 1.0 if grader.get("passed") else 0.0
            scores.append(
                Score(
                    scorer=grader_name,
                    value=score,
                    metadata={"passed": grader.get("passed")},
                    error=None if score is not None else "grader gave no score",
                )
            )
            scorer_names[grader_name] = None
        results.append(
            SampleResult(
                subject=model,
                sample_id=sid,
                epoch=epoch,
                output=Output(
                    text=text,
                    model=model,
                    finish_reason=sample_part.get("finish_reason"),
                    usage=Usage(
                        input_tokens=usage.get("prompt_tokens"),
                        output_tokens=usage.get("completion_tokens"),
                        total_tokens=usage.get("total_tokens"),
                    ),
                ),
                scores=scores,
            )
        )
    ordered = list(samples.values())
    label = name or next(iter(sorted(eval_ids - {""})), path.stem)
    return ImportedRun(
        kind=KIND,
        name=label,
        tool="openai-hosted-evals",
        tool_version=None,
        source=path,
        source_sha256=sha256,
        dataset_name=label,
        samples=ordered,
        subjects=list(subjects.values()),
        scorers=[
            ScorerManifest(name=s, version="openai hosted evals", kind=f"openai-grader:{s}")
            for s in scorer_names
        ],
        results=results,
        epochs=max(epochs.values()),
        slices=choose_slices(
            [{k: v for k, v in s.metadata.items() if k != "datasource_item"} for s in ordered]
        ),
    )


def read(path: Path, sha256: str, name: str | None = None) -> ImportedRun:
    """Read an openai/evals log or exported hosted-Evals output items."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"{") and b'"object": "list"' in head.replace(b'":"', b'": "'):
        doc = read_json(path, WHAT)
        data = require(doc, "data", list, str(path))
        return _convert_items(
            path, [(f"{path} (data[{i}])", x) for i, x in enumerate(data)], sha256, name
        )
    lines = list(read_jsonl(path, WHAT))
    if not lines:
        raise ImportFileError("the file is empty", where=str(path), fix=WHAT)
    if isinstance(lines[0][1], dict) and "spec" in lines[0][1]:
        return _convert_log(path, lines, sha256, name)
    if isinstance(lines[0][1], dict) and lines[0][1].get("object") == "eval.run.output_item":
        return _convert_items(path, [(f"{path}:{n}", x) for n, x in lines], sha256, name)
    raise ImportFileError(
        'the first line is neither {"spec": ...} (an openai/evals log) nor an eval.run.output_item',
        where=f"{path}:{lines[0][0]}",
        fix=f"give {WHAT}",
    )
