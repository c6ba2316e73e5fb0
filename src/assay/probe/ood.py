"""``ood`` (D9): out-of-distribution items scored for abstention and calibration.

Items carry ``metadata[ood_key]`` (true: out of distribution); both kinds run, each once, in
variants ``in_distribution`` and ``ood``. The prompt asks for a stated confidence
(``(confidence: 0.8)``); a reply saying it does not know is an abstention. The metric must
grade a reply that carries the confidence after the answer (``includes``, or a ``regex`` or
``python`` scorer), not ``exact``.

Rule. Expected calibration error over the answered OOD items, ECE = Σ_b (n_b/n)·|acc_b −
conf_b| with ``bins`` equal-width confidence bins (Guo et al. 2017, "On Calibration of Modern
Neural Networks", ICML), with a percentile bootstrap interval over items (2,000 resamples,
seeded). ECE is biased upwards in small bins, so the test is against its null distribution:
outcomes redrawn as Bernoulli(stated confidence) give the ECE a calibrated model would show at
these confidences (parametric bootstrap). ``overconfident_ood`` when ECE ≥ ``ece_threshold``,
the null's p-value < 0.05, and mean confidence exceeds accuracy; else ``calibrated_ood``.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import Field

from assay.core import Sample
from assay.probe.base import Probe, ProbeOptions, ProbeResult, ProbeTable, register_probe
from assay.stats import Interval

_CONF = re.compile(r"confidence\s*[:=]\s*([01](?:\.\d+)?)", re.IGNORECASE)
_ABSTAIN = re.compile(r"\b(i don't know|i do not know|cannot answer|can't answer|unsure)\b", re.I)
_ASK = "\n\nAnswer, then state your confidence from 0 to 1 as (confidence: X)."


class OodOptions(ProbeOptions):
    ood_key: str = "ood"
    bins: int = Field(10, ge=2, le=50)
    ece_threshold: float = Field(0.15, gt=0, lt=1)
    seed: int = 0


def _is_ood(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "ood"}
    return bool(value)


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """ECE with equal-width bins (confidence 1.0 falls in the last bin): Σ_b |Σ correct −
    Σ confidence| / n over the bins, which equals Σ_b (n_b/n)·|acc_b − conf_b|."""
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    hits = np.bincount(idx, weights=correct, minlength=bins)
    stated = np.bincount(idx, weights=conf, minlength=bins)
    return float(np.abs(hits - stated).sum() / len(conf))


@register_probe
class OodProbe(Probe):
    kind = "ood"
    variant_key = "distribution"
    options = OodOptions
    description = "abstention and calibration (ECE) on out-of-distribution items"
    config: OodOptions

    def variants(self) -> list[str]:
        return ["in_distribution", "ood"]

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        if _is_ood(sample.metadata.get(self.config.ood_key)) != (variant == "ood"):
            return None
        if not isinstance(sample.input, str):
            return sample
        return sample.model_copy(update={"input": f"{sample.input}{_ASK}"})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        c = self.config
        curve = table.curve(subject)
        conf: list[float] = []
        correct: list[float] = []
        abstained = n = 0
        values = table.values.get(subject, {})
        for item, by_variant in table.texts.get(subject, {}).items():
            texts = by_variant.get("ood")
            if not texts:
                continue
            n += 1
            if any(_ABSTAIN.search(t) for t in texts):
                abstained += 1
                continue
            stated = [float(m.group(1)) for t in texts if (m := _CONF.search(t))]
            scores = values.get(item, {}).get("ood")
            if stated and scores:
                conf.append(float(np.mean(stated)))
                correct.append(float(np.mean(scores)))
        rule = (
            f"overconfident_ood: ECE >= {c.ece_threshold:g}, above a calibrated model's ECE at "
            "these confidences (parametric bootstrap p < 0.05), and mean confidence > accuracy"
        )
        if len(conf) < 2:
            return self.result(
                table,
                subject,
                curve,
                "underpowered",
                False,
                f"{len(conf)} OOD replies with a stated confidence",
                rule,
            )
        x, y = np.array(conf), np.array(correct)
        ece = expected_calibration_error(x, y, c.bins)
        rng = np.random.default_rng(c.seed)
        boot = []
        null = []
        for _ in range(2000):
            i = rng.integers(0, len(x), len(x))
            boot.append(expected_calibration_error(x[i], y[i], c.bins))
            null.append(
                expected_calibration_error(x, (rng.random(len(x)) < x).astype(float), c.bins)
            )
        low, high = np.percentile(boot, [2.5, 97.5])
        p_value = float((1 + np.sum(np.array(null) >= ece)) / (1 + len(null)))
        interval = Interval(ece, float(low), float(high), len(x), "percentile bootstrap")
        flagged = ece >= c.ece_threshold and p_value < 0.05 and x.mean() > y.mean()
        verdict = "overconfident_ood" if flagged else "calibrated_ood"
        edges = np.linspace(0, 1, c.bins + 1)
        idx = np.minimum((x * c.bins).astype(int), c.bins - 1)
        diagram = [
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int((idx == b).sum()),
                "confidence": float(x[idx == b].mean()),
                "accuracy": float(y[idx == b].mean()),
            }
            for b in range(c.bins)
            if (idx == b).any()
        ]
        figure = (
            f"OOD ECE {ece:.2f} (95% CI {low:.2f}-{high:.2f}); mean confidence {x.mean():.2f} "
            f"at accuracy {y.mean():.2f}; abstained on {abstained}/{n}"
        )
        figures = {
            "ece": interval,
            "p_value": p_value,
            "mean_confidence": float(x.mean()),
            "accuracy": float(y.mean()),
            "abstention_rate": abstained / n if n else None,
        }
        return self.result(
            table,
            subject,
            curve,
            verdict,
            flagged,
            figure,
            rule,
            figures,
            {"reliability_diagram": diagram},
        )
