"""AlpacaEval annotations (``annotations.json``) as a pairwise judge run.

AlpacaEval writes one annotation per instruction (``alpaca_eval/annotators/base.py``;
``results/<model>/<annotator>/annotations.json`` in its repository): ``instruction``,
``output_1`` and ``generator_1`` (the baseline), ``output_2`` and ``generator_2`` (the model),
``annotator``, ``preference`` (1 = output_1 preferred, 2 = output_2; AlpacaEval 2's weighted
annotators give the expected value between them from the judge's logprobs; 0 or 1.5 a draw),
and optionally ``dataset``, ``datasplit``, ``raw_completion``, ``price_per_example``,
``time_per_example``.

The run is stored the way ``assay judge --pairwise`` stores one: side A the baseline, side B
the model, the judge (the annotator) the subject, each instruction a sample carrying the pair
in ``metadata["pair"]`` and its source ``dataset`` as a slice, and the verdict in the output's
``metadata["pairwise"]``. The ``preference`` score is AlpacaEval's preference on [0, 1]
(``assay.stats.alpaca_eval_preference``): its mean is the raw win rate exactly as AlpacaEval
computes it. :func:`win_rates` adds the length-controlled win rate from assay's own GLM
(``assay.stats.length_controlled_win_rate``), with the lengths of the stored outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core import (
    JudgeManifest,
    Output,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
)
from assay.core.hashing import text_hash
from assay.importers._model import ImportedRun, ImportFileError, as_float, read_json, require

KIND = "alpaca-eval"
WHAT = "AlpacaEval annotations (a JSON list of annotations with output_1, output_2, preference)"
JUDGE = "judge"


def looks_like(path: Path, head: bytes) -> bool:
    """A JSON list whose first object has AlpacaEval's ``instruction`` and ``output_1`` (an
    answer can be long, so ``output_2`` may lie beyond the bytes looked at)."""
    text = head.decode("utf-8", "ignore").lstrip()
    return text.startswith("[") and all(f'"{key}"' in text for key in ("instruction", "output_1"))


def _preference(raw: Any, where: str) -> float | None:
    """AlpacaEval's preference (1 … 2, 0 or 1.5 a draw) on [0, 1]; ``None`` when missing."""
    value = as_float(raw)
    if value is None:
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        raise ImportFileError(f"preference {raw!r} is not a number", where=where)
    if value == 0:
        return 0.5
    if not 1 <= value <= 2:
        raise ImportFileError(
            f"preference {value} is outside AlpacaEval's range 1 … 2 (or 0 for a draw)",
            where=where,
        )
    return value - 1


def _verdict(preference: float | None, annotator: str) -> dict[str, Any]:
    if preference is None:
        return {
            "error": "no_preference",
            "detail": "the annotator gave no preference",
            "judges": [],
        }
    winner = "b" if preference > 0.5 else "a" if preference < 0.5 else "tie"
    judge = {"judge": annotator, "verdicts": [], "winner": winner, "preference": preference}
    return {"judges": [judge], "aggregate": "mean", "winner": winner, "preference": preference}


def convert(path: Path, doc: Any, sha256: str, name: str | None) -> ImportedRun:
    """Map AlpacaEval annotations to a pairwise :class:`ImportedRun`."""
    if not isinstance(doc, list) or not doc:
        raise ImportFileError("expected a non-empty JSON list of annotations", where=str(path))
    pairs = {
        (str(a.get("generator_1")), str(a.get("generator_2"))) for a in doc if isinstance(a, dict)
    }
    if len(pairs) > 1:
        shown = ", ".join(f"{a} vs {b}" for a, b in sorted(pairs)[:5])
        raise ImportFileError(
            f"the file compares {len(pairs)} pairs of generators ({shown}); a run holds one",
            where=str(path),
            fix="split the annotations by generator_2 and import each file",
        )
    samples, results = [], []
    seen: dict[str, int] = {}
    annotators: list[str] = []
    for index, item in enumerate(doc):
        where = f"{path} (annotation [{index}])"
        instruction = require(item, "instruction", str, where)
        output_1 = require(item, "output_1", str, where)
        output_2 = require(item, "output_2", str, where)
        if "preference" not in item:
            raise ImportFileError("missing field 'preference'", where=where, fix=WHAT)
        preference = _preference(item["preference"], f"{where}.preference")
        annotator = str(item.get("annotator") or "unknown_annotator")
        annotators.append(annotator)
        # Ids from the instruction's text: the same item gets the same id in every system's
        # annotations, so two imported systems pair on it.
        sample_id = text_hash(instruction, length=12)
        seen[sample_id] = seen.get(sample_id, 0) + 1
        if seen[sample_id] > 1:
            sample_id = f"{sample_id}-{seen[sample_id]}"
        pair = {
            "a": {
                "text": output_1,
                "model": item.get("generator_1"),
                "subject": item.get("generator_1"),
                "run": None,
            },
            "b": {
                "text": output_2,
                "model": item.get("generator_2"),
                "subject": item.get("generator_2"),
                "run": None,
            },
        }
        metadata = {"pair": pair, "row_in_file": index}
        if item.get("dataset") is not None:
            metadata["dataset"] = str(item["dataset"])
        samples.append(Sample(id=sample_id, input=instruction, metadata=metadata))
        verdict = _verdict(preference, annotator)
        score = Score(
            scorer="preference",
            value=preference,
            answer=verdict.get("winner"),
            error=None if preference is not None else "judge_error: no_preference",
            metadata={"alpaca_eval_preference": item["preference"]},
        )
        raw_completion = item.get("raw_completion")
        results.append(
            SampleResult(
                subject=JUDGE,
                sample_id=sample_id,
                output=Output(
                    text=verdict.get("winner") or "error",
                    model=annotator,
                    metadata={
                        "pairwise": verdict,
                        "price_per_example": item.get("price_per_example"),
                        "time_per_example": item.get("time_per_example"),
                        "raw_completion": raw_completion
                        if isinstance(raw_completion, (str, dict))
                        else None,
                    },
                ),
                scores=[score],
            )
        )
    generator_1, generator_2 = next(iter(pairs))
    annotator = max(set(annotators), key=annotators.count)
    subject = SubjectManifest(
        name=JUDGE,
        kind="pairwise_judge",
        provider="alpaca_eval",
        requested_model=annotator,
        resolved_models=list(dict.fromkeys(annotators)),
        prompt_hash=text_hash(annotator),
        config={
            "sides": {"a": generator_1, "b": generator_2},
            "tool": "alpaca_eval",
            "annotator": annotator,
            "source_file": path.name,
            "source_sha256": sha256,
        },
    )
    judge = JudgeManifest(
        name=JUDGE,
        model=annotator,
        provider="alpaca_eval",
        kind="pairwise",
        resolved_models=list(dict.fromkeys(annotators)),
        prompt_hash=text_hash(annotator),
    )
    scorer = ScorerManifest(
        name="preference",
        version="alpaca_eval preference on [0, 1]",
        kind="pairwise_preference",
    )
    slices = ["dataset"] if all("dataset" in s.metadata for s in samples) else []
    return ImportedRun(
        kind=KIND,
        name=name or f"alpaca_eval:{generator_2}",
        tool="alpaca_eval",
        tool_version=None,
        source=path,
        source_sha256=sha256,
        dataset_name="alpaca_eval",
        samples=samples,
        subjects=[subject],
        scorers=[scorer],
        results=results,
        slices=slices,
        judges=[judge],
    )


def read(path: Path, sha256: str, name: str | None = None) -> ImportedRun:
    """Read AlpacaEval annotations into a pairwise :class:`ImportedRun`."""
    return convert(path, read_json(path, WHAT), sha256, name)


@dataclass(frozen=True)
class WinRates:
    """A pairwise run's win rate of B over A: raw (AlpacaEval's ``WinRate``) and length
    controlled (``LengthControlledFit``; ``None`` with fewer than two judged pairs)."""

    run_id: str
    a: str
    b: str
    raw: Any
    length_controlled: Any | None

    def as_dict(self) -> dict[str, Any]:
        raw = self.raw
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "a": self.a,
            "b": self.b,
            "win_rate": raw.win_rate,
            "standard_error": raw.standard_error,
            "discrete_win_rate": raw.discrete_win_rate,
            "n_wins": raw.n_wins,
            "n_wins_base": raw.n_wins_base,
            "n_draws": raw.n_draws,
            "n_total": raw.n_total,
        }
        if self.length_controlled is not None:
            fit = self.length_controlled
            out["length_controlled_win_rate"] = fit.win_rate
            out["glm_weights"] = {
                "length": fit.weights.length,
                "difficulty": fit.weights.difficulty,
                "model": fit.weights.model,
            }
        return out


def win_rates(
    store: Any, run_id: str, *, difficulty: Mapping[str, float] | None = None
) -> WinRates:
    """Raw and length-controlled win rate of side B over side A in a stored pairwise run.

    Raw: ``assay.stats.win_rate`` of the stored ``preference`` scores (AlpacaEval's
    ``metrics/helpers.py``). LC: ``assay.stats.length_controlled_win_rate`` on the same
    preferences with the stored outputs' lengths in characters, items joined by sample id; with
    ``difficulty`` (sample id → γ) the GLM has AlpacaEval's difficulty term, otherwise only the
    length term and the model's intercept. Without AlpacaEval's gamed-baseline rows (not in an
    annotations file) the fit has no length-gamed prior, so it can differ from the leaderboard's
    LC; the raw rate is exact.
    """
    import numpy as np

    from assay.stats import length_controlled_win_rate, win_rate

    manifest = store.get_manifest(run_id)
    subject = next((s for s in manifest.subjects if s.kind == "pairwise_judge"), None)
    if subject is None:
        raise ImportFileError(f"run {run_id} is not a pairwise run", where=run_id)
    samples = {s.id: s for s in store.get_samples(run_id)}
    ids, prefs, len_a, len_b = [], [], [], []
    for result in store.iter_results(run_id, subject.name):
        value = next((s.value for s in result.scores if s.scorer == "preference"), None)
        pair = samples[result.sample_id].metadata.get("pair") or {}
        ids.append(result.sample_id)
        prefs.append(math.nan if value is None else float(value))
        len_a.append(len(str((pair.get("a") or {}).get("text", ""))))
        len_b.append(len(str((pair.get("b") or {}).get("text", ""))))
    raw = win_rate(prefs)
    fit = None
    if int(np.sum(~np.isnan(np.asarray(prefs)))) >= 2:
        fit = length_controlled_win_rate(
            prefs, len_b, len_a, item_ids=ids, difficulty=dict(difficulty) if difficulty else None
        )
    sides = subject.config.get("sides", {})
    return WinRates(run_id, str(sides.get("a", "a")), str(sides.get("b", "b")), raw, fit)
