"""C6 in `compare` and `gate`: a lift of the same size in every slice, a control set included, is
reported as `instrument drift suspected`, not `improved`; a real improvement that leaves the
control set flat is not."""

import json

from assay.analyse import compare_runs, gate
from assay.analyse.compare import INSTRUMENT_DRIFT
from assay.run import load_eval, run
from assay.store import Store

SPEC = """\
name: drift-check
seed: 11
dataset:
  path: qa.jsonl
slices: [slice]
providers:
  sim:
    type: sim
    systems:
      bot:
        family: atlas
        ability: 0.3
        prompt_effects:
          - {{contains: "carefully", delta: 0.0, slices: {{maths: 1.2, units: 1.2}}}}
    judges:
      grader: {{noise: 1.0, leniency: {leniency}}}
subjects:
  - {{name: bot, model: sim/bot, prompt: "{prompt}{{{{ input }}}}"}}
scorers:
  - {{rubric: {{judge: sim/grader, scale: pass_fail}}}}
"""


def _dataset(path, n=1600):
    slices = ["maths", "units", "sequences", "control"]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"s{i}",
                        "input": f"question {i}",
                        "target": f"a{i}",
                        "slice": slices[i % 4],
                        "difficulty": 0.0,
                    }
                )
                + "\n"
            )


def _run(tmp_path, store, name, leniency=-1.0, prompt="Answer: "):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(leniency=leniency, prompt=prompt))
    return run(load_eval(spec), db=store).run_id


def test_uniform_lift_with_control_is_instrument_drift_and_gate_fails(tmp_path):
    _dataset(tmp_path / "qa.jsonl")
    store = Store(str(tmp_path / "assay.db"))
    try:
        a = _run(tmp_path, store, "before", leniency=-1.0)
        b = _run(tmp_path, store, "after", leniency=0.0)  # the judge got more lenient
        comparison = compare_runs(store, a, b)
        metric = comparison.metrics[0]
        assert metric.aggregate.difference > 0.05  # a lift that would read as "improved"
        assert metric.drift is not None and metric.drift["suspected"], metric.drift
        assert metric.verdict == INSTRUMENT_DRIFT == comparison.verdict
        assert comparison.to_dict()["metrics"][0]["instrument_drift"]["suspected"] is True
        result = gate(comparison)
        assert not result.passed and INSTRUMENT_DRIFT in result.failures[0].message
    finally:
        store.close()


def test_real_improvement_with_flat_control_is_not_drift(tmp_path):
    _dataset(tmp_path / "qa.jsonl")
    store = Store(str(tmp_path / "assay.db"))
    try:
        a = _run(tmp_path, store, "before")
        b = _run(tmp_path, store, "after", prompt="Think carefully. Answer: ")
        metric = compare_runs(store, a, b).metrics[0]
        moved = {s.slice_value: s.difference for s in metric.slices}
        assert moved["maths"] > 0.05 and moved["units"] > 0.05 and abs(moved["control"]) < 0.03
        assert metric.drift is not None and not metric.drift["suspected"]
        assert metric.verdict != INSTRUMENT_DRIFT
    finally:
        store.close()
