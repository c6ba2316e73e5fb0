"""lm-evaluation-harness ``--log_samples`` output as assay runs.

``lm_eval --output_path DIR --log_samples`` writes, per model folder, one
``samples_<task>_<date_id>.jsonl`` per task and one ``results_<date_id>.json``
(``lm_eval/loggers/evaluation_tracker.py``; ``date_id`` is ``datetime.now().isoformat()`` with
``:`` replaced by ``-``). Each samples line (``lm_eval/evaluator.py``) has ``doc_id``,
``doc``, ``target`` (as text), ``arguments`` (``{"gen_args_0": {"arg_0": context, "arg_1":
continuation or generation kwargs}, ...}``), ``resps`` and ``filtered_resps`` (nested lists
turned into strings), ``filter``, ``metrics`` (the metric names), ``doc_hash``,
``prompt_hash``, ``target_hash``, and one field per metric with its value for that document.
A task with several filters (``strict-match``, ``flexible-extract``) logs each document once
per filter.

One samples file is one run: the documents are its samples (id ``doc_id``), the model its
subject, and every ``metric`` (``metric,filter`` when the filter is not ``none``, as in
lm-eval's results keys) a scorer, numeric or pass/fail as lm-eval logged it. Metrics whose
per-document value is not a number (``bleu`` logs a (reference, prediction) pair to aggregate
corpus-wide) are kept in the output's metadata, not scored. The ``results_<date_id>.json``
beside the file, when present, gives the manifest: model and ``model_args``, the task's
config (few-shot count, generation kwargs), task version, seeds, lm-eval and transformers
versions and git hash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, SampleResult, Score, ScorerManifest, SubjectManifest
from assay.core.hashing import content_hash
from assay.importers._model import (
    ImportedRun,
    ImportFileError,
    as_float,
    choose_slices,
    parse_time,
    read_json,
    read_jsonl,
    require,
)

KIND = "lm-eval"
WHAT = "an lm-evaluation-harness samples_<task>_<date>.jsonl file (--log_samples)"
_NAME = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)")
_ANSWER_FIELDS = {"answer", "answerkey", "answer_key", "label", "gold", "target", "ideal"}
_STANDARD = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
}


def looks_like(path: Path, head: bytes) -> bool:
    """lm-eval's file name (``samples_<task>_<date>.jsonl``), or a first line that starts
    with ``doc_id`` and ``doc`` as lm-eval writes it (a long document can push the other
    fields beyond the bytes looked at)."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "ignore")
    starts = re.match(r'\s*\{\s*"doc_id"\s*:\s*[^,]+,\s*"doc"\s*:', first) is not None
    return starts or _NAME.fullmatch(path.stem) is not None


def _results_file(path: Path, date: str | None) -> Path | None:
    if date is None:
        return None
    candidate = path.with_name(f"results_{date}.json")
    return candidate if candidate.is_file() else None


def _argument(arguments: Any, index: int, part: int) -> Any:
    """``arg_<part>`` of request ``index``, from the dict form or the older list form."""
    if isinstance(arguments, dict):
        return (arguments.get(f"gen_args_{index}") or {}).get(f"arg_{part}")
    if isinstance(arguments, list) and index < len(arguments):
        request = arguments[index]
        if isinstance(request, list) and part < len(request):
            return request[part]
    return None


def _output_text(line: dict[str, Any]) -> str:
    """The model's answer: the generated text, or for a multiple-choice (loglikelihood) task
    the continuation with the highest filtered log-likelihood."""
    resps = line.get("resps") or []
    filtered = line.get("filtered_resps") or []
    generation = isinstance(_argument(line.get("arguments"), 0, 1), dict)
    if generation:
        first = filtered[0] if filtered else (resps[0] if resps else "")
        while isinstance(first, list) and first:
            first = first[0]
        raw = resps[0] if resps else first
        while isinstance(raw, list) and raw:
            raw = raw[0]
        return str(raw if raw not in (None, "") else first)
    loglikelihoods = []
    for item in filtered:
        value = item[0] if isinstance(item, list) and item else item
        loglikelihoods.append(as_float(value))
    known = [(v, i) for i, v in enumerate(loglikelihoods) if v is not None]
    if not known:
        return ""
    best = max(known)[1]
    continuation = _argument(line.get("arguments"), best, 1)
    return str(continuation).strip() if continuation is not None else str(best)


def convert(
    path: Path, lines: list[tuple[int, Any]], results: Any, sha256: str, name: str | None
) -> ImportedRun:
    """Map a samples file (and its results file, or ``None``) to an :class:`ImportedRun`."""
    match = _NAME.fullmatch(path.stem)
    task = match.group("task") if match else path.stem
    results = results if isinstance(results, dict) else {}
    config = results.get("config") or {}
    model = str(
        results.get("model_name") or config.get("model_args") or config.get("model") or "model"
    )
    model = model if isinstance(model, str) else "model"
    samples: dict[str, Sample] = {}
    by_doc: dict[str, dict[str, Any]] = {}
    scorer_kinds: dict[str, set[str]] = {}
    for number, line in lines:
        where = f"{path}:{number}"
        doc_id = str(require(line, "doc_id", (int, str), where))
        require(line, "metrics", list, where)
        require(line, "arguments", (dict, list), where)
        doc = line.get("doc") if isinstance(line.get("doc"), dict) else {}
        if doc_id not in samples:
            context = _argument(line["arguments"], 0, 0)
            # Document fields become metadata (and slices when few-valued), but never the
            # answer: a slice by the gold label is not a slice of the task.
            scalars = {
                k: v
                for k, v in doc.items()
                if isinstance(v, (str, int, bool)) and k.lower() not in _ANSWER_FIELDS
            }
            samples[doc_id] = Sample(
                id=doc_id,
                input=str(context if context is not None else line.get("doc")),
                target=None if line.get("target") is None else str(line["target"]),
                metadata={**scalars, "doc_hash": line.get("doc_hash")},
            )
        entry = by_doc.setdefault(doc_id, {"line": line, "scores": [], "other": {}})
        filter_key = str(line.get("filter") or "none")
        for metric in line["metrics"]:
            scorer = str(metric) if filter_key == "none" else f"{metric},{filter_key}"
            value = line.get(metric)
            numeric = as_float(value)
            if numeric is None or isinstance(value, str):
                entry["other"][scorer] = value
                continue
            scorer_kinds.setdefault(scorer, set()).add(type(value).__name__)
            entry["scores"].append(Score(scorer=scorer, value=numeric))
    if not samples:
        raise ImportFileError("the file holds no samples", where=str(path), fix=WHAT)
    out = []
    for doc_id, entry in by_doc.items():
        line = entry["line"]
        extra = {k: v for k, v in line.items() if k not in _STANDARD and k not in line["metrics"]}
        out.append(
            SampleResult(
                subject=model,
                sample_id=doc_id,
                output=Output(
                    text=_output_text(line),
                    model=model,
                    metadata={
                        "resps": line.get("resps"),
                        "filtered_resps": line.get("filtered_resps"),
                        "prompt_hash": line.get("prompt_hash"),
                        **({"unscored_metrics": entry["other"]} if entry["other"] else {}),
                        **extra,
                    },
                ),
                scores=entry["scores"],
            )
        )
    task_config = (results.get("configs") or {}).get(task) or {}
    version = results.get("lm_eval_version")
    task_version = (results.get("versions") or {}).get(task)
    gen_kwargs = task_config.get("generation_kwargs") or {}
    first_line = lines[0][1]
    if not gen_kwargs:
        candidate = _argument(first_line.get("arguments"), 0, 1)
        gen_kwargs = candidate if isinstance(candidate, dict) else {}
    scorers = [
        ScorerManifest(
            name=scorer,
            version=f"lm-eval {version or 'unknown'} task v{task_version}",
            kind=f"lm-eval:{scorer.split(',')[0]}",
            config={
                "higher_is_better": (results.get("higher_is_better") or {})
                .get(task, {})
                .get(scorer.split(",")[0])
            },
        )
        for scorer in scorer_kinds
    ]
    template = task_config.get("doc_to_text")
    subject = SubjectManifest(
        name=model,
        kind="imported",
        provider=config.get("model"),
        requested_model=model,
        resolved_models=[str(config["model_sha"])] if config.get("model_sha") else [],
        prompt_template=template if isinstance(template, str) else None,
        prompt_hash=content_hash(
            {
                "task_hash": (results.get("task_hashes") or {}).get(task),
                "doc_to_text": task_config.get("doc_to_text"),
                "num_fewshot": (results.get("n-shot") or {}).get(task),
                "system_instruction_sha": results.get("system_instruction_sha"),
                "chat_template_sha": results.get("chat_template_sha"),
            }
        ),
        params=dict(gen_kwargs),
        config={
            "tool": "lm-evaluation-harness",
            "task": task,
            "task_version": task_version,
            "num_fewshot": (results.get("n-shot") or {}).get(task),
            "model_args": config.get("model_args"),
            "batch_size": config.get("batch_size"),
            "limit": config.get("limit"),
            "fewshot_as_multiturn": results.get("fewshot_as_multiturn"),
            "system_instruction": results.get("system_instruction"),
            "chat_template_sha": results.get("chat_template_sha"),
            "task_config": task_config,
            "source_file": path.name,
            "source_sha256": sha256,
            "results_file": None if not results else "results_*.json beside it",
        },
    )
    ordered = sorted(samples.values(), key=lambda s: (len(s.id), s.id))
    transformers = results.get("transformers_version")
    seed = config.get("random_seed")
    started = parse_time(results.get("date"))
    elapsed = as_float(results.get("total_evaluation_time_seconds"))
    return ImportedRun(
        kind=KIND,
        name=name or task,
        tool="lm-eval",
        tool_version=version,
        source=path,
        source_sha256=sha256,
        dataset_name=str(task_config.get("dataset_path") or task),
        samples=ordered,
        subjects=[subject],
        scorers=scorers,
        results=out,
        seed=int(seed) if isinstance(seed, int) else 0,
        slices=choose_slices(
            [{k: v for k, v in s.metadata.items() if k != "doc_hash"} for s in ordered]
        ),
        started_at=started,
        finished_at=None
        if started is None or elapsed is None
        else parse_time(started.timestamp() + elapsed),
        git_sha=results.get("git_hash"),
        tool_versions={"transformers": str(transformers)} if transformers else {},
    )


def read(path: Path, sha256: str, name: str | None = None) -> ImportedRun:
    """Read an lm-eval samples file (and the results file beside it) into an
    :class:`ImportedRun`."""
    match = _NAME.fullmatch(path.stem)
    results_path = _results_file(path, match.group("date") if match else None)
    results = read_json(results_path, "lm-eval's results_<date>.json") if results_path else None
    lines = list(read_jsonl(path, WHAT))
    return convert(path, lines, results, sha256, name)
