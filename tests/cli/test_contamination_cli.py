"""`assay data contamination` end to end, as a user runs it."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from contamination_testutil import store_run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(5000)]
    words = lambda n: [rng.choice(vocab) for _ in range(n)]  # noqa: E731
    samples = {f"q{i}": words(100) for i in range(12)}
    with open(tmp_path / "eval.jsonl", "w") as out:
        for sid, w in samples.items():
            out.write(json.dumps({"id": sid, "input": " ".join(w)}) + "\n")
    (tmp_path / "train").mkdir()
    with open(tmp_path / "train" / "a.jsonl", "w") as out:
        for i in range(100):
            out.write(json.dumps({"id": f"a{i}", "text": " ".join(words(80))}) + "\n")
        out.write(json.dumps({"id": "leak85", "text": " ".join(samples["q4"][:85])}) + "\n")
    with open(tmp_path / "train" / "b.txt", "w") as out:
        out.write(" ".join(words(50)) + "\n")
        out.write(" ".join(samples["q7"][10:40]) + "\n")  # 30%
        out.write(" ".join(samples["q9"]) + "\n")
    return tmp_path


def test_reports_bands_and_the_rows_that_match(cli, project: Path) -> None:
    proc = cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train/a.jsonl",
        "train/b.txt",
        cwd=project,
        check=0,
    )
    out = proc.stdout
    assert "dirty" in out and "leak85 (85%)" in out and "train/b.txt:3 (100%)" in out
    assert "train/b.txt:2 (30%)" in out
    assert "scanned 2 file(s), 104 documents" in proc.stderr


def test_json_output_has_every_sample(cli, project: Path) -> None:
    proc = cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train",
        "--json",
        "--jobs",
        "2",
        cwd=project,
        check=0,
    )
    data = json.loads(proc.stdout)
    bands = {s["sample_id"]: s["band"] for s in data["samples"]}
    assert len(bands) == 12
    assert (bands["q4"], bands["q7"], bands["q9"]) == ("dirty", "not_clean", "dirty")
    assert data["bands"] == {
        "clean": 9,
        "not_clean": 3,
        "not_dirty": 10,
        "dirty": 2,
        "ngram_hit": 3,
        "too_short": 0,
    }
    assert {(r["doc_id"], r["sample_id"]) for r in data["dirty_rows"]} == {
        ("leak85", "q4"),
        ("train/b.txt:3", "q9"),
    }


def test_gate_fails_naming_both_ids_and_waivers_let_it_pass(cli, project: Path) -> None:
    failed = cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train",
        "--gate",
        cwd=project,
        check=1,
    )
    error = failed.stderr.strip().splitlines()[-1]
    assert error.startswith("error:") and "'q4'" in error and "'leak85'" in error
    assert "'q9'" in error and "Traceback" not in failed.stderr
    cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train",
        "--gate",
        "--waive",
        "q4",
        "--waive",
        "train/b.txt:3",
        cwd=project,
        check=0,
    )
    # 30% overlap alone is not flagged
    cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train/b.txt",
        "--gate",
        "--waive",
        "q9",
        cwd=project,
        check=0,
    )


def test_scores_of_a_stored_run_per_band(cli, project: Path) -> None:
    scores = {f"q{i}": [0.0] for i in range(12)} | {"q4": [1.0], "q7": [1.0], "q9": [1.0]}
    store_run(str(project / "runs.db"), scores)
    proc = cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train",
        "--run",
        "latest",
        "--db",
        "runs.db",
        "--json",
        cwd=project,
        check=0,
    )
    (effect,) = json.loads(proc.stdout)["effects"]
    rows = {r["subset"]: r for r in effect["rows"]}
    assert effect["mu"] == pytest.approx(3 / 12)
    assert rows["dirty"]["n"] == 2 and rows["dirty"]["mean"] == 1.0
    assert rows["dirty"]["z"] == pytest.approx((1 - 0.25) / ((0.25 * 0.75 / 2) ** 0.5))
    text = cli(
        "data",
        "contamination",
        "--eval",
        "eval.jsonl",
        "--train",
        "train",
        "--run",
        "latest",
        "--db",
        "runs.db",
        cwd=project,
        check=0,
    ).stdout
    assert "Score by subset: alpha / exact" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--eval", "missing.jsonl", "--train", "train"], "missing.jsonl: dataset file not found"),
        (
            ["--eval", "eval.jsonl", "--train", "nowhere.jsonl"],
            "nowhere.jsonl: training file not found",
        ),
        (["--eval", "eval.jsonl", "--train", "train", "--text-field", "body"], "no field 'body'"),
        (["--eval", "eval.jsonl", "--train", "train", "--run", "nope"], "nope"),
        (["--eval", "eval.jsonl", "--train", "train", "--waive", "q1"], "--waive only applies"),
    ],
)
def test_mistakes_print_one_line_and_exit_2(
    cli, project: Path, args: list[str], expected: str
) -> None:
    proc = cli("data", "contamination", *args, cwd=project, check=2)
    assert expected in proc.stderr and "Traceback" not in proc.stderr
