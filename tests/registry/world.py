"""A small simulated world for the registry tests: a QA dataset and a spec whose sim system
loses accuracy when its prompt contains a trigger phrase (planted in one edit)."""

from __future__ import annotations

import json
from pathlib import Path

TRIGGER = "from memory alone"

#: 17 clauses of a good prompt and their 17 rewrites; only rewrite #11 contains the trigger.
GOOD_CLAUSES = [f"Rule {i}: keep answer style {i} plain." for i in range(1, 18)]
BAD_CLAUSES = [
    f"Rule {i}: answer {TRIGGER} and skip lookups." if i == 11 else f"Rule {i}: use style {i}b."
    for i in range(1, 18)
]


def prompt(clauses: list[str]) -> str:
    return "\n".join(clauses) + "\nQuestion: {{ input }}\n"


def write_world(
    folder: Path,
    *,
    n: int = 200,
    prompt_line: str = "prompt: prompt.txt",
    effects: list[dict[str, object]] | None = None,
    model: str = "sim/atlas-large",
) -> Path:
    """Write qa.jsonl and eval.yaml in ``folder``; return the spec path."""
    rows = [{"id": f"q{i}", "input": f"question {i}", "target": f"answer {i}"} for i in range(n)]
    (folder / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "prompt.txt").write_text(prompt(GOOD_CLAUSES))
    effects = effects if effects is not None else [{"contains": TRIGGER, "delta": -2.5}]
    spec = folder / "eval.yaml"
    spec.write_text(
        "name: registry-world\n"
        "dataset: {path: qa.jsonl}\n"
        "providers:\n"
        "  sim: {type: sim, systems: {atlas-large: {prompt_effects: "
        + json.dumps(effects)
        + "}}}\n"
        "subjects:\n"
        f"  - name: bot\n    model: {model}\n    {prompt_line}\n"
        "scorers: [exact]\n"
    )
    return spec
