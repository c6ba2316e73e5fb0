"""promptfoo results (``promptfoo eval -o results.json``) as assay runs.

The output file (promptfoo's ``OutputFile``, ``src/types/index.ts``) is
``{"evalId", "results": {"version", "timestamp", "prompts", "results": [...], "stats"},
"config", "metadata": {"promptfooVersion", ...}}``; output schema versions 3 and 4 share the
per-row shape read here (``EvaluateResult``): ``testIdx``, ``testCase`` (``vars``,
``metadata``, ``description``, ``assert``), ``vars``, ``prompt`` (``raw``, ``label``),
``promptId``, ``provider`` (``id``, ``label``), ``response`` (``output``, ``tokenUsage``,
``cached``), ``success``, ``score``, ``namedScores``, ``gradingResult``
(``componentResults``), ``latencyMs``, ``error`` and ``failureReason`` (0 none, 1 a failed
assertion, 2 an error).

Each promptfoo test is a sample (its id: the test's description when unique, else a hash of
its vars), each provider × prompt a subject. Scores: ``pass`` (the row's ``success``, pass/fail),
``score`` (promptfoo's weighted score, numeric as promptfoo has it) and one scorer per named
metric (``namedScores``). A row that errored (``failureReason`` 2) is a failed result, never a
zero. ``--repeat`` rows of the same test and subject become epochs.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, SampleResult, Score, ScorerManifest, SubjectManifest, Usage
from assay.core.hashing import content_hash, text_hash
from assay.importers._model import (
    ImportedRun,
    ImportFileError,
    as_float,
    choose_slices,
    parse_time,
    read_json,
    require,
)

KIND = "promptfoo"
WHAT = "a promptfoo results file (promptfoo eval -o results.json)"
_VERSIONS = (3, 4)


def looks_like(path: Path, head: bytes) -> bool:
    """A JSON document with promptfoo's ``evalId``/``results`` shape."""
    text = head.decode("utf-8", "ignore")
    return '"results"' in text and ('"evalId"' in text or '"promptfooVersion"' in text)


def _provider(row: dict[str, Any]) -> tuple[str, str | None]:
    provider = row.get("provider")
    if isinstance(provider, str):
        return provider, None
    if isinstance(provider, dict):
        ident = str(provider.get("id") or "unknown")
        return str(provider.get("label") or ident), ident
    return "unknown", None


def _sample_ids(rows: list[dict[str, Any]]) -> dict[int, str]:
    """testIdx → sample id: a unique description, else ``v-`` and a hash of the vars (so the
    same test in another results file gets the same id), else ``test-<idx>``."""
    tests: dict[int, dict[str, Any]] = {}
    for row in rows:
        tests.setdefault(int(row.get("testIdx", 0)), row.get("testCase") or {})
    descriptions = Counter(t.get("description") for t in tests.values() if t.get("description"))
    var_ids = Counter(content_hash(t.get("vars") or {}, length=12) for t in tests.values())
    out = {}
    for idx, test in tests.items():
        description = test.get("description")
        vars_id = content_hash(test.get("vars") or {}, length=12)
        if description and descriptions[description] == 1:
            out[idx] = str(description)
        elif var_ids[vars_id] == 1:
            out[idx] = f"v-{vars_id}"
        else:
            out[idx] = f"test-{idx}"
    return out


def _scores(row: dict[str, Any]) -> list[Score]:
    grading = row.get("gradingResult") or {}
    components = grading.get("componentResults") or []
    reason = grading.get("reason") or row.get("error")
    scores = [
        Score(
            scorer="pass",
            value=1.0 if row.get("success") else 0.0,
            explanation=None if reason is None else str(reason),
            metadata={"componentResults": components} if components else {},
        )
    ]
    score = as_float(row.get("score"))
    scores.append(
        Score(
            scorer="score",
            value=score,
            error=None if score is not None else f"promptfoo score {row.get('score')!r}",
        )
    )
    for metric, value in (row.get("namedScores") or {}).items():
        number = as_float(value)
        name = metric if metric not in ("pass", "score") else f"metric:{metric}"
        scores.append(
            Score(
                scorer=name,
                value=number,
                error=None if number is not None else f"named score {value!r} is not a number",
            )
        )
    return scores


def convert(path: Path, doc: Any, sha256: str, name: str | None) -> ImportedRun:
    """Map a promptfoo output file to an :class:`ImportedRun`."""
    where = str(path)
    body = require(doc, "results", dict, where)
    version = body.get("version")
    if version not in _VERSIONS:
        raise ImportFileError(
            f"results.version is {version!r}; this importer reads promptfoo output schema "
            f"versions {', '.join(map(str, _VERSIONS))}",
            where=f"{where} (results.version)",
            fix="re-export with a current promptfoo: promptfoo export EVAL_ID -o results.json",
        )
    rows = require(body, "results", list, f"{where} (results)")
    if not rows:
        raise ImportFileError("results.results is empty", where=where, fix=WHAT)
    for index, row in enumerate(rows):
        require(row, "testIdx", int, f"{where} (results.results[{index}])")
        require(row, "success", bool, f"{where} (results.results[{index}])")
    ids = _sample_ids(rows)
    prompts = {p.get("id"): p for p in body.get("prompts") or [] if isinstance(p, dict)}
    several_prompts = len({row.get("promptId") for row in rows}) > 1
    config = doc.get("config") or {}
    provider_configs = {
        p.get("id"): p for p in config.get("providers") or [] if isinstance(p, dict)
    }
    samples: dict[str, Sample] = {}
    subjects: dict[str, SubjectManifest] = {}
    results = []
    epochs: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        test = row.get("testCase") or {}
        sample_id = ids[int(row["testIdx"])]
        metadata = {k: v for k, v in (test.get("metadata") or {}).items() if not k.startswith("_")}
        variables = test.get("vars") or row.get("vars") or {}
        samples.setdefault(
            sample_id,
            Sample(
                id=sample_id,
                input=json.dumps(variables, sort_keys=True, ensure_ascii=False),
                metadata={**metadata, "vars": variables},
            ),
        )
        label, ident = _provider(row)
        prompt = row.get("prompt") or {}
        template = str(prompt.get("label") or prompts.get(row.get("promptId"), {}).get("raw", ""))
        subject = f"{label} | {template}" if several_prompts else label
        if subject not in subjects:
            provider_config = provider_configs.get(ident) or {}
            subjects[subject] = SubjectManifest(
                name=subject,
                kind="imported",
                provider=ident.split(":")[0] if ident else None,
                requested_model=ident or label,
                prompt_template=template or None,
                prompt_hash=str(row.get("promptId") or text_hash(template)),
                params=dict(provider_config.get("config") or {}),
                config={
                    "tool": "promptfoo",
                    "provider": row.get("provider"),
                    "description": config.get("description"),
                    "eval_id": doc.get("evalId"),
                    "source_file": path.name,
                    "source_sha256": sha256,
                },
            )
        key = (subject, sample_id)
        epoch = epochs[key]
        epochs[key] += 1
        response = row.get("response") or {}
        if row.get("failureReason") == 2 or (response.get("error") and "output" not in response):
            results.append(
                SampleResult(
                    subject=subject,
                    sample_id=sample_id,
                    epoch=epoch,
                    error=str(row.get("error") or response.get("error") or "error"),
                    error_class="promptfoo_error",
                )
            )
            continue
        tokens = response.get("tokenUsage") or row.get("tokenUsage") or {}
        text = response.get("output")
        output = Output(
            text=text if isinstance(text, str) else json.dumps(text, ensure_ascii=False),
            usage=Usage(
                input_tokens=tokens.get("prompt"),
                output_tokens=tokens.get("completion"),
                total_tokens=tokens.get("total"),
            ),
            latency_ms=as_float(row.get("latencyMs")),
            metadata={"prompt": prompt.get("raw"), "cached": response.get("cached")},
        )
        results.append(
            SampleResult(
                subject=subject,
                sample_id=sample_id,
                epoch=epoch,
                output=output,
                scores=_scores(row),
                cached=bool(response.get("cached")),
            )
        )
    meta = doc.get("metadata") or {}
    tool_version = meta.get("promptfooVersion")
    scorer_names = list(dict.fromkeys(s.scorer for r in results for s in r.scores))
    assertion_types = sorted(
        {
            str(a.get("type"))
            for row in rows
            for a in (row.get("testCase") or {}).get("assert") or []
            if isinstance(a, dict)
        }
    )
    scorers = [
        ScorerManifest(
            name=scorer,
            version=f"promptfoo {tool_version or 'unknown'}",
            kind=f"promptfoo:{scorer}",
            config={"assertions": assertion_types} if scorer in ("pass", "score") else {},
        )
        for scorer in scorer_names
    ]
    ordered = list(samples.values())
    started = parse_time(meta.get("evaluationCreatedAt")) or parse_time(body.get("timestamp"))
    return ImportedRun(
        kind=KIND,
        name=name or str(config.get("description") or path.stem),
        tool="promptfoo",
        tool_version=tool_version,
        source=path,
        source_sha256=sha256,
        dataset_name=str(config.get("description") or path.stem),
        samples=ordered,
        subjects=list(subjects.values()),
        scorers=scorers,
        results=results,
        epochs=max(epochs.values()),
        slices=choose_slices(
            [{k: v for k, v in s.metadata.items() if k != "vars"} for s in ordered]
        ),
        started_at=started,
        finished_at=parse_time(meta.get("exportedAt")),
        platform=meta.get("platform"),
        tool_versions={"node": str(meta["nodeVersion"])} if meta.get("nodeVersion") else {},
    )


def read(path: Path, sha256: str, name: str | None = None) -> ImportedRun:
    """Read a promptfoo results file into an :class:`ImportedRun`."""
    return convert(path, read_json(path, WHAT), sha256, name)
