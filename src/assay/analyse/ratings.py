"""Bradley-Terry ratings from stored pairwise judge runs (issue 13, item 3): ``assay ratings``.

Every single-order verdict of every judge in the given pairwise runs (each run compares two
systems, its ``sides``) becomes one comparison: the system shown first, the one shown second,
and the outcome (1 first won, 0 second won, ½ tie). Both orders of one pair of outputs form one
bootstrap group. With ``length=True`` the covariate is the difference in log characters (first
− second), standardised, so the ratings are style-controlled for length.
See :mod:`assay.stats.bradley_terry` for the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.analyse.judges import is_pairwise_run
from assay.core import AssayError
from assay.stats.bradley_terry import BradleyTerryFit, fit_bradley_terry
from assay.store import Store


@dataclass(frozen=True)
class RatingsReport:
    runs: list[str]
    fit: BradleyTerryFit
    length_controlled: bool
    n_errors: int

    def to_dict(self) -> dict[str, Any]:
        f = self.fit

        def num(x: float) -> float | None:
            return None if not math.isfinite(float(x)) else float(x)

        order = np.argsort(-f.theta)
        return {
            "runs": self.runs,
            "length_controlled": self.length_controlled,
            "n_verdicts": f.n_verdicts,
            "n_errors": self.n_errors,
            "position": num(f.position),
            "position_interval": [num(v) for v in f.position_interval],
            "length_coefficient": num(f.covariates[0]) if f.covariates.size else None,
            "tie_weight": num(f.tie_weight),
            "confidence": f.confidence,
            "n_resamples": f.n_resamples,
            "systems": [
                {
                    "name": f.names[i],
                    "theta": num(f.theta[i]),
                    "elo": num(f.elo[i]),
                    "low": num(f.theta_low[i]),
                    "high": num(f.theta_high[i]),
                }
                for i in order
            ],
        }


def pairwise_verdicts(store: Store, run_ids: Sequence[str]) -> tuple[dict[str, list[Any]], int]:
    """The single-order verdicts of stored pairwise judge runs: lists ``first``, ``second``,
    ``outcome``, ``group``, ``length`` (log-length difference), and the count of errors."""
    out: dict[str, list[Any]] = {k: [] for k in ("first", "second", "outcome", "group", "length")}
    errors = 0
    for run_id in run_ids:
        manifest = store.get_manifest(run_id)
        if not is_pairwise_run(manifest):
            raise AssayError(
                f"run {run_id} is not a pairwise judge run",
                fix="rate the runs `assay judge --pairwise` stored",
            )
        subject = next(s for s in manifest.subjects if s.kind == "pairwise_judge")
        sides = {k: str(v) for k, v in subject.config.get("sides", {}).items()}
        samples = {s.id: s for s in store.get_samples(run_id)}
        for result in store.iter_results(run_id, subject.name):
            verdict = result.output.metadata.get("pairwise") if result.output is not None else None
            if not isinstance(verdict, dict) or "error" in verdict:
                errors += 1
                continue
            pair = samples[result.sample_id].metadata.get("pair", {})
            lengths = {
                k: math.log1p(len(str((pair.get(k) or {}).get("text", "")))) for k in ("a", "b")
            }
            for judge in verdict.get("judges", []):
                for single in judge.get("verdicts", []):
                    order, winner = single.get("order"), single.get("winner")
                    if order not in ("ab", "ba") or winner not in ("a", "b", "tie"):
                        continue
                    out["first"].append(_side(pair, order[0], sides))
                    out["second"].append(_side(pair, order[1], sides))
                    out["outcome"].append(
                        0.5 if winner == "tie" else 1.0 if winner == order[0] else 0.0
                    )
                    out["group"].append(f"{run_id}/{result.sample_id}/{judge.get('judge')}")
                    out["length"].append(lengths[order[0]] - lengths[order[1]])
    return out, errors


def _side(pair: dict[str, Any], key: str, sides: dict[str, str]) -> str:
    """A side's system: ``RUN:SUBJECT`` from the pair's own record (an arena round mixes
    pairs of systems), else the run's ``sides``."""
    item = pair.get(key) or {}
    if item.get("run") and item.get("subject"):
        return f"{item['run']}:{item['subject']}"
    return sides.get(key, key)


def rate_systems(
    store: Store,
    run_ids: Sequence[str],
    *,
    length: bool = False,
    confidence: float = 0.95,
    n_resamples: int = 500,
    seed: int = 0,
) -> RatingsReport:
    """Bradley-Terry ratings (with ties and a position term) of the systems compared in the
    given pairwise judge runs; ``length`` adds the length covariate."""
    v, errors = pairwise_verdicts(store, run_ids)
    if len(set(v["first"]) | set(v["second"])) < 2 or not v["outcome"]:
        raise AssayError("no usable pairwise verdicts in these runs", fix="check `assay show RUN`")
    covariates = None
    if length:
        z = np.asarray(v["length"], dtype=float)
        sd = float(z.std()) or 1.0
        covariates = (z / sd)[:, None]
    fit = fit_bradley_terry(
        v["first"], v["second"], v["outcome"], groups=v["group"], covariates=covariates,
        confidence=confidence, n_resamples=n_resamples, seed=seed,
    )  # fmt: skip
    return RatingsReport(list(run_ids), fit, length, errors)
