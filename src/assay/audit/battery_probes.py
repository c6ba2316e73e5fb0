"""The audit battery's pairwise probes: the sides' stored outputs, the probe samples built
from them, and what the judge said about each probe.

The probe kinds (``canary:<name>``, ``real:<k>``, ``identical``, ``verbosity``, ``matched``)
are described in :mod:`assay.audit.battery`, which runs them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.core import Output, Sample, SubjectManifest
from assay.store import Store

#: Probe kinds (see the module docstring).
CANARY, REAL, IDENTICAL, VERBOSITY = "canary", "real", "identical", "verbosity"
MATCHED = "matched"


@dataclass(frozen=True)
class _Side:
    ref: str
    run_id: str
    subject: str
    manifest: SubjectManifest


# -- loading the sides ---------------------------------------------------------------------------


def _resolve(store: Store, ref: str) -> _Side:
    from assay.run.pairwise import resolve_side

    side = resolve_side(store, ref)
    return _Side(ref, side.run_id, side.subject, side.manifest)


def _first_outputs(store: Store, side: _Side) -> dict[str, Output]:
    """The side's output per sample id (the lowest epoch that answered)."""
    outputs: dict[str, tuple[int, Output]] = {}
    for result in store.iter_results(side.run_id, side.subject):
        if result.output is None:
            continue
        held = outputs.get(result.sample_id)
        if held is None or result.epoch < held[0]:
            outputs[result.sample_id] = (result.epoch, result.output)
    return {sid: out for sid, (_, out) in outputs.items()}


def _choose(ids: Sequence[str], n: int, seed: int) -> list[str]:
    """Up to ``n`` ids, a seeded pseudo-random subset (hash order), returned sorted."""
    if len(ids) <= n:
        return sorted(ids)
    ranked = sorted(ids, key=lambda i: hashlib.blake2b(f"{seed}|{i}".encode()).digest())
    return sorted(ranked[:n])


def _unit(key: str) -> float:
    """A uniform draw on [0, 1) hashed from ``key`` (deterministic)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def _item(output: Output | None, text: str | None = None) -> dict[str, Any]:
    sim = output.metadata.get("sim") if output is not None else None
    return {
        "text": text if text is not None else (output.text if output is not None else ""),
        "model": output.model if output is not None else None,
        "sim": sim,
    }


# -- the pairwise probes ---------------------------------------------------------------------------


def build_probes(
    samples: dict[str, Sample],
    outputs: list[dict[str, Output]],
    ids: Sequence[str],
    canaries: Sequence[str] | None,
) -> list[Sample]:
    """The pairwise probe samples (see the module docstring) for the chosen sample ids."""
    from assay.audit.canaries import canary_outputs, pad_text

    probes: list[Sample] = []

    def probe(sample: Sample, kind: str, name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        metadata = {
            **sample.metadata,
            "probe": kind,
            "probe_name": name,
            "source_sample_id": sample.id,
            "pair": {"a": a, "b": b},
        }
        probes.append(sample.model_copy(update={"id": f"{name}/{sample.id}", "metadata": metadata}))

    base = outputs[0]
    # How much to pad each verbosity probe. With a real comparison, the sizes of its length
    # gaps (shuffled across samples): the padded copies then differ from the baseline as the
    # compared system does, so the length model fitted on them (AlpacaEval's gamed-baseline
    # rows) is on the same standardised scale as the real comparison. Without one, 40 to 600
    # characters.
    if len(outputs) > 1:
        gaps = [max(40, abs(len(outputs[1][sid].text) - len(base[sid].text))) for sid in ids]
        shuffled = sorted(range(len(ids)), key=lambda i: _unit(f"pad|{ids[i]}"))
        pad_by = {sid: gaps[shuffled[i]] for i, sid in enumerate(ids)}
    else:
        pad_by = {sid: 40 + int(560 * _unit(f"pad|{sid}")) for sid in ids}
    for sid in ids:
        sample = samples[sid]
        out = base[sid]
        reference = sample.targets[0] if sample.targets else out.text
        made = canary_outputs(sample.input_text, reference)
        for name, text in made.items():
            if canaries is not None and name not in canaries:
                continue
            probe(sample, CANARY, f"canary:{name}", _item(out), _item(None, text))
        for k, other in enumerate(outputs[1:], start=1):
            probe(sample, REAL, f"real:{k}", _item(out), _item(other[sid]))
        probe(sample, IDENTICAL, "identical", _item(out), _item(out))
        padded = pad_text(out.text, 1.0, minimum=len(out.text) + pad_by[sid])
        probe(sample, VERBOSITY, "verbosity", _item(out), _item(out, padded))
        if len(outputs) > 1:
            other_out = outputs[1][sid]
            a_text, b_text = out.text, other_out.text
            if len(b_text) > len(a_text):
                pair = (_item(out, pad_text(a_text, 1.0, minimum=len(b_text))), _item(other_out))
            else:
                pair = (_item(out), _item(other_out, pad_text(b_text, 1.0, minimum=len(a_text))))
            probe(sample, MATCHED, "matched", *pair)
    return probes


@dataclass
class _Verdicts:
    """What the judge said about one probe."""

    kind: str
    name: str
    source: str
    preference: float  # b over a, both orders combined; NaN when the judge failed
    first: list[str | None]  # per judge member: verdict with a shown first ("a"/"b"/"tie")
    second: list[str | None]  # per judge member: verdict with b shown first
    first_label: list[str | None]  # per member, the slot label picked with a first
    len_a: int
    len_b: int


def _read_probes(store: Store, run_id: str, subject: str, probes: list[Sample]) -> list[_Verdicts]:
    by_id = {p.id: p for p in probes}
    found: list[_Verdicts] = []
    for result in store.iter_results(run_id, subject):
        probe = by_id.get(result.sample_id)
        if probe is None:
            continue
        pair = probe.metadata["pair"]
        verdict = result.output.metadata.get("pairwise") if result.output is not None else None
        first: list[str | None] = []
        second: list[str | None] = []
        first_label: list[str | None] = []
        preference = math.nan
        if isinstance(verdict, dict):
            if "error" not in verdict:
                preference = float(verdict["preference"])
            for member in verdict.get("judges", []):
                orders = {v.get("order"): v for v in member.get("verdicts", [])}
                ab, ba = orders.get("ab", {}), orders.get("ba", {})
                first.append(ab.get("winner") if "error" not in ab else None)
                second.append(ba.get("winner") if "error" not in ba else None)
                first_label.append(ab.get("label") if "error" not in ab else None)
        found.append(
            _Verdicts(
                kind=probe.metadata["probe"],
                name=probe.metadata["probe_name"],
                source=probe.metadata["source_sample_id"],
                preference=preference,
                first=first,
                second=second,
                first_label=first_label,
                len_a=len(str(pair["a"].get("text", ""))),
                len_b=len(str(pair["b"].get("text", ""))),
            )
        )
    return found
