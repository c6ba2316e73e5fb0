"""Helpers for judge tests: simulated evals built from spec dicts."""

from assay.run import eval_from_spec


def qa_rows(n, *, slices=("math", "facts")):
    return [
        {
            "id": f"q{i:04d}",
            "input": f"question {i}",
            "target": f"answer {i}",
            "slice": slices[i % len(slices)],
        }
        for i in range(n)
    ]


def sim_eval(tmp_path, *, n=200, subjects=None, scorers=None, judges=None, systems=None, **extra):
    spec = {
        "name": extra.pop("name", "judged"),
        "seed": extra.pop("seed", 11),
        "dataset": {"samples": qa_rows(n)},
        "providers": {"sim": {"type": "sim", "judges": judges or {}, "systems": systems or {}}},
        "subjects": subjects or [{"name": "big", "model": "sim/atlas-large"}],
        "scorers": scorers or ["exact"],
        "concurrency": 32,
        "slices": extra.pop("slices", ["slice"]),
        **extra,
    }
    return eval_from_spec(spec, base_dir=tmp_path)
