"""Conversions between the core models and table rows.

JSON columns are written with pydantic's serialiser (fast, and it handles dates and other values
``json`` does not); they are read back through the core models, so what comes out validates
exactly like what went in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pydantic_core

from assay.core import Output, Provenance, Sample, SampleResult, Score
from assay.core.sample import SampleValues, sample_content, sample_hash


def dumps(value: Any) -> str:
    """``value`` as JSON text."""
    return pydantic_core.to_json(value).decode("utf-8")


def loads(text: str | None) -> Any:
    """The value of JSON ``text`` (``None`` for SQL ``NULL``)."""
    return None if text is None else pydantic_core.from_json(text)


#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``: the encoder that call
#: builds each time, built once (that construction was half the cost of a result id).
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


#: A string as JSON: what ``_compact_json`` (``ensure_ascii=False``) writes for a ``str``.
_json_str = json.encoder.encode_basestring


def result_id(run_id: str, subject: str, sample_id: str, epoch: int) -> str:
    """The client-side primary key of a result: a hash of its natural key.

    Equal to ``content_hash([run_id, subject, sample_id, epoch], length=32)``, computed without
    the generic normalisation pass (strings and an int are already canonical); hot path.
    """
    return _result_id(f"[{_json_str(run_id)},", run_id, subject, sample_id, epoch)


def _result_id(prefix: str, run_id: str, subject: str, sample_id: str, epoch: int) -> str:
    """:func:`result_id`, given ``prefix``: the JSON text of ``[run_id,`` (written once a batch).

    The key's JSON is written by hand, as the encoder writes it (strings by
    ``json.encoder.encode_basestring``, an int by its ``repr``): building the encoder's list
    pass cost more than the hash. Anything else (an epoch assigned a bool after validation,
    JSON ``true``; a key that is not a string) goes through the encoder."""
    if type(epoch) is int and type(subject) is str and type(sample_id) is str:
        key = f"{prefix}{_json_str(subject)},{_json_str(sample_id)},{epoch}]"
    else:
        key = _compact_json([run_id, subject, sample_id, epoch])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


# -- samples -----------------------------------------------------------------------------------


def sample_rows(run_id: str, start: int, samples: Sequence[SampleValues]) -> list[dict[str, Any]]:
    """Rows for samples given by their fields (``(id, input, target, metadata, cluster,
    provenance)``, see :meth:`Dataset.sample_values <assay.data.Dataset.sample_values>`), the
    first at dataset position ``start``.

    Each sample's content is built once (for its JSON columns; its hash is
    :func:`~assay.core.sample.sample_hash` of its fields, ``Sample.content_hash()``), and a
    provenance shared by several samples (usually all of them share one) is serialised once:
    the memo is keyed by identity and holds each provenance it keys, so an id cannot be reused
    meanwhile.
    """
    provenance_json: dict[int, tuple[Provenance, str]] = {}
    rows = []
    for position, (sample_id, input_, target, metadata, cluster, provenance) in enumerate(
        samples, start
    ):
        content = sample_content(sample_id, input_, target, metadata, cluster)
        memo = provenance_json.get(id(provenance))
        if memo is None:
            memo = provenance_json[id(provenance)] = (provenance, provenance.model_dump_json())
        rows.append(
            {
                "run_id": run_id,
                "id": sample_id,
                "position": position,
                "content_hash": sample_hash(sample_id, input_, target, metadata, cluster),
                "input_json": dumps(content["input"]),
                "target_json": None if target is None else dumps(content["target"]),
                "metadata_json": dumps(metadata),
                "cluster": cluster,
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


#: The columns of the rows :func:`result_rows` builds, in their order.
RESULT_COLUMNS = (
    "id",
    "run_id",
    "subject",
    "sample_id",
    "epoch",
    "output_text",
    "resolved_model",
    "system_fingerprint",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "output_json",
    "error",
    "error_class",
    "attempts",
    "cached",
    "created_at",
)
#: The columns of the score rows :func:`result_rows` builds, in their order.
SCORE_COLUMNS = (
    "result_id",
    "position",
    "run_id",
    "scorer",
    "value",
    "answer",
    "explanation",
    "error",
    "metadata_json",
)
#: The output columns (``output_text`` to ``output_json``) of a result without an output.
_NO_OUTPUT = (None,) * 8


def output_json(output: Output) -> str:
    """``output.model_dump_json()``: its serialiser called with the same defaults, without
    that method's pass over a dozen keyword arguments (a third of its cost)."""
    return output.__pydantic_serializer__.to_json(output).decode()


def result_rows(
    run_id: str,
    results: Sequence[SampleResult],
    created_at: Any,
    outputs_json: dict[int, str] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for ``results`` and their scores: tuples in the order of :data:`RESULT_COLUMNS`
    and :data:`SCORE_COLUMNS` (built directly: dicts cost a third of building them).

    ``created_at`` goes into every row as given (the caller converts it for its database).
    Results are not deduplicated: one whose key repeats gets the same id (the store keeps the
    first). ``outputs_json``, when given, receives each output's JSON by the output's ``id``
    (for the caller to reuse while the results are alive)."""
    rows: list[tuple[Any, ...]] = []
    score_rows: list[tuple[Any, ...]] = []
    prefix = f"[{_json_str(run_id)},"
    for result in results:
        # The models' fields are read from their instance dicts, where pydantic keeps them: a
        # model's attribute lookup passes through its __getattr__ hook (~200 instructions).
        r = result.__dict__
        rid = _result_id(prefix, run_id, r["subject"], r["sample_id"], r["epoch"])
        out = r["output"]
        if out is None:
            output: tuple[Any, ...] = _NO_OUTPUT
        else:
            o = out.__dict__
            usage = o["usage"]
            output = (
                o["text"],
                o["model"],
                o["system_fingerprint"],
                o["finish_reason"],
                None if usage is None else usage.input_tokens,
                None if usage is None else usage.output_tokens,
                o["latency_ms"],
                out.__pydantic_serializer__.to_json(out).decode(),  # output_json(out), inlined
            )
            if outputs_json is not None:
                outputs_json[id(out)] = output[7]
        rows.append(
            (
                rid,
                run_id,
                r["subject"],
                r["sample_id"],
                r["epoch"],
                *output,
                r["error"],
                r["error_class"],
                r["attempts"],
                r["cached"],
                created_at,
            )
        )
        for position, score in enumerate(r["scores"]):
            s = score.__dict__
            metadata = s["metadata"]
            score_rows.append(
                (
                    rid,
                    position,
                    run_id,
                    s["scorer"],
                    s["value"],
                    s["answer"],
                    s["explanation"],
                    s["error"],
                    dumps(metadata) if metadata else None,
                )
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
