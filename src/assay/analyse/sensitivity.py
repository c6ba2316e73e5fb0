"""Prompt sensitivity and variance decomposition of stored runs (issue 13, items 4 and 5).

Prompt sensitivity: give runs whose subjects are the same models under several paraphrased
templates (one subject per model × template, e.g. ``gpt@p1``, ``gpt@p2``). A subject's model
is its requested model (else the part of its name before ``@``) and its template is its prompt
hash; two models are compared on the templates both used, joined by sample id
(:func:`assay.stats.paraphrase.paraphrase_sensitivity`).

Variance decomposition: one run with epochs and, where a judge panel graded it, every judge's
vote (kept in the score's ``panel`` metadata); :func:`assay.stats.variance.variance_components`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.analyse.scores import load_scores
from assay.core import AssayError
from assay.stats.paraphrase import ParaphraseSensitivity, paraphrase_sensitivity
from assay.stats.variance import VarianceComponents, variance_components
from assay.store import Store


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


@dataclass(frozen=True)
class ModelPairSensitivity:
    scorer: str
    model_a: str
    model_b: str
    templates: list[str]
    n_items: int
    result: ParaphraseSensitivity

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "scorer": self.scorer,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "templates": self.templates,
            "n_items": self.n_items,
            "marginal": {
                "difference": _num(r.marginal.estimate),
                "low": _num(r.marginal.low),
                "high": _num(r.marginal.high),
            },
            "per_template": [
                {
                    "template": t,
                    "difference": _num(i.estimate),
                    "low": _num(i.low),
                    "high": _num(i.high),
                }
                for t, i in zip(self.templates, r.per_template, strict=True)
            ],
            "interaction_p": _num(r.interaction_p),
            "prompt_variance": {
                self.model_a: r.prompt_variance_a,
                self.model_b: r.prompt_variance_b,
            },
            "flags": r.flags,
        }


def prompt_sensitivity(
    store: Store, runs: Sequence[str], *, scorers: Sequence[str] | None = None, alpha: float = 0.05
) -> list[ModelPairSensitivity]:
    """Every pair of models × scorer (see the module docstring)."""
    cells: dict[tuple[str, str, str], dict[str, float]] = {}  # (scorer, model, template)
    labels: dict[str, str] = {}
    for ref in runs:
        scores = load_scores(store, store.resolve_run_id(ref))
        for subject in scores.manifest.subjects:
            model = subject.requested_model or subject.name.split("@")[0]
            template = subject.prompt_hash or subject.name
            labels.setdefault(template, subject.name.split("@")[-1])
            for scorer in scorers or scores.scorers:
                per = scores.per_sample(subject.name, scorer)
                if per:
                    cells[(scorer, model, template)] = {
                        k: float(np.mean(v)) for k, v in per.items()
                    }
    out = []
    for scorer in sorted({c[0] for c in cells}):
        models = sorted({c[1] for c in cells if c[0] == scorer})
        for i, ma in enumerate(models):
            for mb in models[i + 1 :]:
                ta = {c[2] for c in cells if c[0] == scorer and c[1] == ma}
                tb = {c[2] for c in cells if c[0] == scorer and c[1] == mb}
                templates = sorted(ta & tb)
                if len(templates) < 2:
                    continue
                frames = [cells[(scorer, m, t)] for m in (ma, mb) for t in templates]
                items = sorted(set.intersection(*(set(f) for f in frames)))
                if len(items) < 3:
                    continue
                a = np.array([[cells[(scorer, ma, t)][i] for t in templates] for i in items])
                b = np.array([[cells[(scorer, mb, t)][i] for t in templates] for i in items])
                out.append(
                    ModelPairSensitivity(
                        scorer, ma, mb, [labels[t] for t in templates], len(items),
                        paraphrase_sensitivity(a, b, alpha=alpha),
                    )
                )  # fmt: skip
    if not out:
        raise AssayError(
            "no two models share two or more prompt templates over common samples",
            fix="run each model under each paraphrase (one subject per model × template)",
        )
    return out


@dataclass(frozen=True)
class SubjectVariance:
    subject: str
    scorer: str
    judges: list[str]
    n_dropped: int
    components: VarianceComponents

    def as_dict(self) -> dict[str, Any]:
        c = self.components
        return {
            "subject": self.subject,
            "scorer": self.scorer,
            "judges": self.judges,
            "n_items": c.n_items,
            "n_epochs": c.n_epochs,
            "n_judges": c.n_judges,
            "n_incomplete_items_dropped": self.n_dropped,
            "components": {
                k: {
                    "estimate": _num(c.estimates[k]),
                    "low": _num(c.low[k]),
                    "high": _num(c.high[k]),
                }
                for k in c.estimates
            },
            "standard_error": _num(c.standard_error),
            "standard_error_if_doubled": {
                k: _num(v) for k, v in c.standard_error_if_doubled.items()
            },
            "advice": c.advice,
        }


def run_variance(
    store: Store, run_id: str, *, scorers: Sequence[str] | None = None, seed: int = 0
) -> list[SubjectVariance]:
    """Variance components per subject × scorer of one run (complete items only)."""
    manifest = store.get_manifest(run_id)
    wanted = list(scorers or [s.name for s in manifest.scorers])
    votes: dict[tuple[str, str], dict[str, dict[int, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for result in store.iter_results(run_id):
        if result.error_class:
            continue
        for score in result.scores:
            if score.scorer not in wanted or score.value is None:
                continue
            panel = (score.metadata or {}).get("panel")
            judged: dict[str, float] = {}
            if isinstance(panel, list):
                for vote in panel:
                    if isinstance(vote, dict) and "error" not in vote:
                        value = vote.get("expected", vote.get("value"))
                        if isinstance(value, (int, float)):
                            judged[str(vote.get("judge"))] = float(value)
            if not judged:
                judged = {"(scorer)": float(score.value)}
            votes[(result.subject, score.scorer)][result.sample_id][result.epoch] = judged
    out = []
    for (subject, scorer), per_sample in sorted(votes.items()):
        judges = sorted({j for epochs in per_sample.values() for v in epochs.values() for j in v})
        n_epochs = max(len(e) for e in per_sample.values())
        rows, dropped = [], 0
        for epochs in per_sample.values():
            if len(epochs) != n_epochs or any(set(v) != set(judges) for v in epochs.values()):
                dropped += 1
                continue
            rows.append([[epochs[e][j] for j in judges] for e in sorted(epochs)])
        if len(rows) < 2:
            continue
        out.append(
            SubjectVariance(
                subject, scorer, judges, dropped, variance_components(np.array(rows), seed=seed)
            )
        )
    if not out:
        raise AssayError(f"run {run_id} has too few complete samples to decompose")
    return out
