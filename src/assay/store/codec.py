"""Conversions between the core models and table rows.

JSON columns are written with pydantic's serialiser (fast, and it handles dates and other values
``json`` does not); they are read back through the core models, so what comes out validates
exactly like what went in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pydantic_core

from assay.core import Output, Provenance, Sample, SampleResult, Score, content_hash


def dumps(value: Any) -> str:
    """``value`` as JSON text."""
    return pydantic_core.to_json(value).decode("utf-8")


def loads(text: str | None) -> Any:
    """The value of JSON ``text`` (``None`` for SQL ``NULL``)."""
    return None if text is None else pydantic_core.from_json(text)


#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``: the encoder that call
#: builds each time, built once (that construction was half the cost of a result id).
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def result_id(run_id: str, subject: str, sample_id: str, epoch: int) -> str:
    """The client-side primary key of a result: a hash of its natural key.

    Equal to ``content_hash([run_id, subject, sample_id, epoch], length=32)``, computed without
    the generic normalisation pass (strings and an int are already canonical); hot path.
    """
    key = _compact_json([run_id, subject, sample_id, epoch])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


# -- samples -----------------------------------------------------------------------------------


def sample_rows(run_id: str, start: int, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Rows for ``samples``, the first at dataset position ``start``.

    Each sample's content is built once (for its hash and its JSON columns), and a provenance
    shared by several samples (usually all of them share one) is serialised once: the memo is
    keyed by identity and holds each provenance it keys, so an id cannot be reused meanwhile.
    """
    provenance_json: dict[int, tuple[Provenance, str]] = {}
    rows = []
    for position, sample in enumerate(samples, start):
        content = sample.content()
        provenance = sample.provenance
        memo = provenance_json.get(id(provenance))
        if memo is None:
            memo = provenance_json[id(provenance)] = (provenance, provenance.model_dump_json())
        rows.append(
            {
                "run_id": run_id,
                "id": sample.id,
                "position": position,
                "content_hash": content_hash(content),
                "input_json": dumps(content["input"]),
                "target_json": None if sample.target is None else dumps(content["target"]),
                "metadata_json": dumps(sample.metadata),
                "cluster": sample.cluster,
                "provenance_json": memo[1],
            }
        )
    return rows


def sample_from_row(row: Any) -> Sample:
    return Sample(
        id=row.id,
        input=loads(row.input_json),
        target=loads(row.target_json),
        metadata=loads(row.metadata_json),
        cluster=row.cluster,
        provenance=Provenance.model_validate_json(row.provenance_json),
    )


# -- results and scores ------------------------------------------------------------------------


def result_rows(
    run_id: str, results: Sequence[SampleResult], created_at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for ``results`` and their scores. Within the batch the first result of a key wins."""
    rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for result in results:
        rid = result_id(run_id, result.subject, result.sample_id, result.epoch)
        if rid in seen:
            continue
        seen.add(rid)
        out = result.output
        usage = out.usage if out is not None else None
        rows.append(
            {
                "id": rid,
                "run_id": run_id,
                "subject": result.subject,
                "sample_id": result.sample_id,
                "epoch": result.epoch,
                "output_text": out.text if out is not None else None,
                "resolved_model": out.model if out is not None else None,
                "system_fingerprint": out.system_fingerprint if out is not None else None,
                "finish_reason": out.finish_reason if out is not None else None,
                "input_tokens": usage.input_tokens if usage is not None else None,
                "output_tokens": usage.output_tokens if usage is not None else None,
                "latency_ms": out.latency_ms if out is not None else None,
                "output_json": out.model_dump_json() if out is not None else None,
                "error": result.error,
                "error_class": result.error_class,
                "attempts": result.attempts,
                "cached": result.cached,
                "created_at": created_at,
            }
        )
        for position, score in enumerate(result.scores):
            score_rows.append(
                {
                    "result_id": rid,
                    "position": position,
                    "run_id": run_id,
                    "scorer": score.scorer,
                    "value": score.value,
                    "answer": score.answer,
                    "explanation": score.explanation,
                    "error": score.error,
                    "metadata_json": dumps(score.metadata) if score.metadata else None,
                }
            )
    return rows, score_rows


def score_from_row(row: Any) -> Score:
    return Score(
        scorer=row.scorer,
        value=row.value,
        answer=row.answer,
        explanation=row.explanation,
        error=row.error,
        metadata=loads(row.metadata_json) or {},
    )


def result_from_row(row: Any, scores: list[Score]) -> SampleResult:
    output_json = row.output_json
    return SampleResult(
        subject=row.subject,
        sample_id=row.sample_id,
        epoch=row.epoch,
        output=Output.model_validate_json(output_json) if output_json is not None else None,
        scores=scores,
        error=row.error,
        error_class=row.error_class,
        attempts=row.attempts,
        cached=bool(row.cached),
    )
