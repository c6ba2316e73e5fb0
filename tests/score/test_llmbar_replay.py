"""Pairwise judging on LLMBar (Zeng et al. 2024), replaying GPT-4's published verdicts.

The mock server answers each judge request with the verdict GPT-4 gave for that pair in that
presentation order (``results`` in ``GPT-4/result.json``), so assay's whole pairwise path runs
for real — stored runs of the two outputs, pairing by id, both orders, prompts, HTTP, verdict
parsing, combination — and its position-consistency and accuracy must reproduce the published
``statistics.json`` numbers exactly. The data is read in place from ../shared/data/llmbar.
"""

import ast
import json
import re

import pytest

from assay.run import eval_from_spec, run_async
from assay.run.pairwise import pairwise_eval
from assay.testing import MockOpenAIServer

_BLOCKS = re.compile(
    r"## Request\n(.*)\n\n## Response A\n<response>\n(.*)\n</response>\n\n"
    r"## Response B\n<response>\n(.*)\n</response>\Z",
    re.DOTALL,
)


def _count(text):
    return int(text.split(" / ")[0])


def _subsets(root):
    return sorted(p.parent for p in root.glob("**/dataset.json") if (p.parent / "GPT-4").is_dir())


@pytest.mark.slow
async def test_llmbar_gpt4_verdicts_replayed_through_both_orders(shared_data, tmp_path, store):
    subsets = _subsets(shared_data / "llmbar")
    if not subsets:
        pytest.skip("no LLMBar subsets with GPT-4 results under ../shared/data/llmbar")
    verdicts = {}  # (input, first shown, second shown) -> "A" or "B"
    rows, expected = [], {}
    for subset in subsets:
        name = subset.relative_to(shared_data / "llmbar").as_posix()
        data = json.loads((subset / "dataset.json").read_text())
        results = json.loads((subset / "GPT-4" / "result.json").read_text())
        stats = json.loads((subset / "GPT-4" / "statistics.json").read_text())
        expected[name] = (_count(stats["equal"]), _count(stats["correct_both"]), len(data))
        for i, (item, result) in enumerate(zip(data, results, strict=True)):
            assert item["input"] == result["input"]
            runs = result["results"]
            [both] = ast.literal_eval(runs) if isinstance(runs, str) else runs
            one, two = item["output_1"], item["output_2"]
            for swap, (first, second) in (
                ("swap = False", (one, two)),
                ("swap = True", (two, one)),
            ):
                winner_text = one if both[swap]["winner"] == "1" else two
                verdicts[(item["input"], first, second)] = "A" if winner_text == first else "B"
            rows.append({"id": f"{name}/{i}", "input": item["input"], "label": item["label"],
                         "subset": name, "output_1": one, "output_2": two})  # fmt: skip

    def answer(body):
        user = body["messages"][-1]["content"]
        request, first, second = _BLOCKS.search(user).groups()
        return json.dumps({"rationale": "replayed", "winner": verdicts[(request, first, second)]})

    for side in ("output_1", "output_2"):
        with (tmp_path / f"{side}.jsonl").open("w") as fh:
            for row in rows:
                fh.write(json.dumps({"id": row["id"], "output": row[side]}) + "\n")
    samples = [
        {"id": r["id"], "input": r["input"], "subset": r["subset"], "label": r["label"]}
        for r in rows
    ]
    async with MockOpenAIServer(model="gpt-4-0613", answer=answer) as server:
        spec = {
            "name": "llmbar",
            "dataset": {"samples": samples},
            "providers": {
                "replay": {
                    "type": "openai_compat",
                    "base_url": server.base_url,
                    "api_key_env": None,
                }
            },
            "subjects": [
                {"name": "one", "outputs": "output_1.jsonl"},
                {"name": "two", "outputs": "output_2.jsonl"},
            ],
            "slices": ["subset"],
            "concurrency": 32,
        }
        ev = eval_from_spec(spec, base_dir=tmp_path)
        base = await run_async(ev, db=store)
        pairs, pairing = pairwise_eval(
            store, f"{base.run_id}:one", f"{base.run_id}:two", judge="replay/gpt-4",
            context=ev.scorer_context, concurrency=32,
        )  # fmt: skip
        assert pairing.n_pairs == len(rows)
        outcome = await run_async(pairs, db=store)
    assert outcome.n_errors == 0
    got = {name: [0, 0, 0] for name in expected}
    labels = {r["id"]: r["label"] for r in rows}
    for result in store.iter_results(outcome.run_id):
        subset = result.sample_id.rsplit("/", 1)[0]
        ab, ba = result.output.metadata["pairwise"]["judges"][0]["verdicts"]
        right = "a" if str(labels[result.sample_id]) == "1" else "b"
        got[subset][0] += ab["winner"] == ba["winner"]
        got[subset][1] += ab["winner"] == ba["winner"] == right
        got[subset][2] += 1
        assert result.scores[1].value == float(ab["winner"] == ba["winner"])
    assert {k: tuple(v) for k, v in got.items()} == expected
