"""The example project written by ``assay demo``.

Everything here is generated (no third-party text): short-answer questions in three slices —
arithmetic, unit conversions and number sequences — with a difficulty per item, two prompt
versions, two specs that differ only in the prompt, and a simulated pairwise judge
(``judge.yaml``) that compares the two versions' answers. The models are simulated.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

from assay.core import AssayError

if TYPE_CHECKING:
    from assay.analyse import GroupComparison, RunComparison

#: Samples the demo's judge audit draws (``assay audit judge --max-samples``; the command's
#: default is 200). Each sample makes eleven probes (seven canaries, the real pair, the identical
#: pair, the padded copy, the length-matched pair), each judged in both orders, so this sets most
#: of the audit's cost. At 100 the certificate reaches the same verdicts on the demo's planted
#: defects (position bias, length bias, gameable by padding) in half the time; each check
#: prints the n it rests on, and its interval is as wide as that n makes it.
DEMO_AUDIT_SAMPLES = 100

SPEC = """\
# An assay eval spec. The `sim` provider is a SIMULATED world (no real model is called):
# its systems answer correctly with a probability set by their ability, the item's
# difficulty, a per-slice skill and the prompt. Swap `model:` for e.g. `openai/gpt-4o-mini`
# (and set OPENAI_API_KEY) to evaluate a real model on the same data.
name: demo-qa
description: Short-answer maths and reasoning questions, prompt {version}.
dataset:
  path: data/qa.jsonl
slices: [slice]
cluster: template
seed: 7
providers:
  sim:
    type: sim
    systems:
      helper-1:
        family: atlas
        ability: 0.9
        slice_skill: {{arithmetic: -0.3, units: 0.3, sequences: 0.5}}
        prompt_effects:
          - contains: "step by step"
            delta: 0.15
            slices: {{arithmetic: 0.7, sequences: -0.4}}
subjects:
  - name: assistant
    model: sim/helper-1
    prompt: prompts/{version}.txt
    params: {{temperature: 0}}
scorers:
  - exact: {{ignore_punctuation: true}}
  - includes
"""

JUDGE_SPEC = """\
# Providers for `assay judge --spec judge.yaml` and `assay audit judge --spec judge.yaml`: a
# SIMULATED judge (the `sim` provider). It sees the true quality the simulated systems recorded
# and adds planted defects: some noise, a mild preference for whichever answer is shown first
# when it is unsure (each pair is judged in both orders, so that preference turns into ties
# instead of wins), and a liking for long answers, which `assay audit judge` measures.
seed: 7
providers:
  sim:
    type: sim
    judges:
      demo-judge:
        family: arbiter
        noise: 0.5
        position_bias: 0.15
        length_bias: 1.5
"""

WORDY_SPEC = """\
# A second, wordier system answering the same questions, so that `assay audit judge` can
# compare raw and length-controlled win rates on a real comparison. SIMULATED (see eval_v1.yaml).
name: demo-qa-wordy
description: The same questions, answered by a chattier simulated system.
dataset:
  path: data/qa.jsonl
slices: [slice]
cluster: template
seed: 7
providers:
  sim:
    type: sim
    systems:
      chatty-1:
        family: boreal
        ability: 0.6
        verbosity: 30
subjects:
  - name: assistant
    model: sim/chatty-1
    prompt: prompts/v1.txt
    params: {temperature: 0}
scorers:
  - exact: {ignore_punctuation: true}
  - includes
"""

PROMPTS = {
    "v1": "Answer the question with the final answer only.\n\nQuestion: {{ input }}\nAnswer:",
    "v2": (
        "Work through the question step by step in your head, then reply with the final "
        "answer only.\n\nQuestion: {{ input }}\nAnswer:"
    ),
}

_UNITS = [
    ("metres", "centimetres", 100),
    ("kilometres", "metres", 1000),
    ("kilograms", "grams", 1000),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("litres", "millilitres", 1000),
    ("days", "hours", 24),
    ("weeks", "days", 7),
]


def _arithmetic(rng: random.Random, i: int) -> dict[str, object]:
    op = rng.choice(["+", "-", "*"])
    hard = rng.random() < 0.4
    a = rng.randint(10, 999 if hard else 99)
    b = rng.randint(2, 99 if op != "*" else (29 if hard else 9))
    answer = {"+": a + b, "-": a - b, "*": a * b}[op]
    words = {"+": "plus", "-": "minus", "*": "times"}[op]
    difficulty = (0.8 if hard else -0.6) + (0.5 if op == "*" else 0.0) + rng.gauss(0, 0.3)
    return {
        "input": f"What is {a} {words} {b}?",
        "target": str(answer),
        "template": f"arithmetic:{op}",
        "difficulty": round(difficulty, 3),
    }


def _units(rng: random.Random, i: int) -> dict[str, object]:
    big, small, factor = rng.choice(_UNITS)
    if rng.random() < 0.5:
        n = rng.randint(2, 1000)
        q, answer, difficulty = f"How many {small} are in {n} {big}?", n * factor, -0.4
    else:
        n = rng.randint(2, 1000)
        q, answer, difficulty = f"How many {big} are {n * factor} {small}?", n, 0.3
    return {
        "input": q,
        "target": str(answer),
        "template": f"units:{big}",
        "difficulty": round(difficulty + rng.gauss(0, 0.4), 3),
    }


def _sequences(rng: random.Random, i: int) -> dict[str, object]:
    kind = rng.choice(["arith", "arith", "geom", "square", "fib"])
    if kind == "arith":
        start, step = rng.randint(1, 500), rng.choice([-1, 1]) * rng.randint(2, 15)
        seq = [start + step * k for k in range(5)]
        difficulty = -0.7
    elif kind == "geom":
        start, ratio = rng.randint(1, 12), rng.randint(2, 4)
        seq = [start * ratio**k for k in range(5)]
        difficulty = 0.2
    elif kind == "square":
        offset = rng.randint(0, 30)
        seq = [(offset + k) ** 2 for k in range(1, 6)]
        difficulty = 0.9
    else:
        seq = [rng.randint(1, 60), rng.randint(1, 60)]
        while len(seq) < 5:
            seq.append(seq[-1] + seq[-2])
        difficulty = 0.6
    shown = ", ".join(str(x) for x in seq[:4])
    return {
        "input": f"What number comes next: {shown}, ?",
        "target": str(seq[4]),
        "template": f"sequences:{kind}",
        "difficulty": round(difficulty + rng.gauss(0, 0.3), 3),
    }


def demo_rows(n_samples: int = 400, seed: int = 2026) -> list[dict[str, object]]:
    """Generate ``n_samples`` unique questions, spread evenly over three slices."""
    rng = random.Random(seed)
    makers = {"arithmetic": _arithmetic, "units": _units, "sequences": _sequences}
    quotas = {name: n_samples // 3 + (k < n_samples % 3) for k, name in enumerate(makers)}
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for slice_name, quota in quotas.items():
        made = tries = 0
        while made < quota:
            tries += 1
            if tries > 50 * quota + 1000:  # a generator ran out of distinct questions
                raise AssayError(
                    f"cannot generate {quota} distinct {slice_name} questions",
                    where="--samples",
                    fix="ask for fewer samples (the demo supports up to 20,000)",
                )
            row = makers[slice_name](rng, made)
            if row["input"] in seen:
                continue
            seen.add(str(row["input"]))
            rows.append({"slice": slice_name, **row})
            made += 1
    # Interleave the slices so the file reads naturally, then number the rows.
    rng.shuffle(rows)
    return [{"id": f"q{i + 1:04d}", **row} for i, row in enumerate(rows)]


def write_demo_project(directory: Path, n_samples: int = 400) -> list[Path]:
    """Write dataset, prompts and specs; return the two spec paths (v1, v2). The project also
    holds ``judge.yaml`` (the sim judge) and ``eval_wordy.yaml`` (a wordier system, for the
    judge audit)."""
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "prompts").mkdir(exist_ok=True)
    with (directory / "data" / "qa.jsonl").open("w", encoding="utf-8") as fh:
        for row in demo_rows(n_samples):
            fh.write(json.dumps(row) + "\n")
    (directory / "judge.yaml").write_text(JUDGE_SPEC, encoding="utf-8")
    (directory / "eval_wordy.yaml").write_text(WORDY_SPEC, encoding="utf-8")
    specs = []
    for version, text in PROMPTS.items():
        (directory / "prompts" / f"{version}.txt").write_text(text + "\n", encoding="utf-8")
        spec = directory / f"eval_{version}.yaml"
        spec.write_text(SPEC.format(version=version), encoding="utf-8")
        specs.append(spec)
    return specs


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def _overall(g: GroupComparison) -> str:
    ci = f"[{100 * g.interval.low:+.1f}, {100 * g.interval.high:+.1f}]"
    return f"{_pts(g.difference)} {ci} on {g.n} samples"


def demo_conclusion(comparison: RunComparison) -> str:
    """One sentence on what to conclude from the demo's comparison of prompt v1 and v2
    (its first metric, exact match), from the verdicts ``assay compare`` printed."""
    from assay.stats import IMPROVED, MIXED, NO_DIFFERENCE, REGRESSED

    m = comparison.metrics[0]
    agg = m.aggregate
    better = [s for s in m.slices if s.verdict == IMPROVED]
    worse = m.regressed_slices

    def named(groups: list[GroupComparison]) -> str:
        return ", ".join(f"{g.slice_value} ({_pts(g.difference)})" for g in groups)

    overall = (
        f"overall it is better ({_overall(agg)})"
        if agg.verdict == IMPROVED
        else f"overall ({_overall(agg)}) the difference is within the noise "
        f"(MDE {100 * agg.mde:.1f} pts)"
    )
    if m.verdict == MIXED:
        return (
            f"Not simply. It lifts {named(better) or 'no slice'} but costs {named(worse)}, "
            f"and {overall}. Ship v2 only where {', '.join(str(g.slice_value) for g in worse)} "
            "matter less, or fix that regression first."
        )
    if m.verdict == IMPROVED:
        return f"Yes: {_overall(agg)}, and no slice got worse."
    if m.verdict == REGRESSED:
        return f"No, it is worse: {_overall(agg)}. Keep v1."
    if m.verdict == NO_DIFFERENCE:
        return (
            f"No detectable difference ({_overall(agg)}): a change as large as "
            f"{100 * m.min_effect:.0f} pts would have shown. Either prompt will do."
        )
    return (
        f"Not known yet: {_overall(agg)} is smaller than this n can detect "
        f"(MDE {100 * agg.mde:.1f} pts); `assay plan --pairs-from` says how many samples it "
        "would take."
    )
