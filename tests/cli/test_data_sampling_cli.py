"""``assay data sample`` and ``assay data composition`` end to end, in a subprocess."""

import json
import random
from datetime import UTC, datetime, timedelta


def _population(path, size=3_000):
    rng = random.Random(5)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with open(path, "w") as out:
        for i in range(size):
            night = i % 10 == 0
            segment = rng.choice(["consumer", "smb"] if night else ["consumer", "enterprise"])
            hour = 3 if night else rng.choice([h for h in range(24) if h != 3])
            ts = start + timedelta(days=rng.randrange(7), hours=hour, minutes=rng.randrange(60))
            row = {"id": i, "ts": ts.isoformat(), "segment": segment, "revenue": 1 + i % 3}
            out.write(json.dumps(row) + "\n")
    return path


def test_sample_writes_a_stratified_sample_and_composition_reads_it(cli, tmp_path):
    population = _population(tmp_path / "traffic.jsonl")
    out = tmp_path / "sample.jsonl"
    proc = cli(
        "data", "sample", population, "--n", "300", "--strata", "hour_of_week,segment",
        "--time-column", "ts", "--seed", "4", "--out", out, "--json", cwd=tmp_path, check=0,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["sample_size"] == 300 and report["flags"] == []
    assert all(abs(a["drawn"] - a["quota"]) < 1 for a in report["allocation"])
    assert len(out.read_text().splitlines()) == 300

    proc = cli(
        "data", "composition", out, "--population", population,
        "--strata", "hour_of_week,segment", "--time-column", "ts", cwd=tmp_path, check=0,
    )  # fmt: skip
    assert "temporal_window_bias" not in proc.stdout
    assert "segment: sample vs population" in proc.stdout


def test_composition_of_a_night_only_sample_flags_bias_and_enterprise_zero(cli, tmp_path):
    population = _population(tmp_path / "traffic.jsonl")
    night = [line for line in population.read_text().splitlines() if "T03:" in line]
    sample = tmp_path / "night.jsonl"
    sample.write_text("\n".join(night) + "\n")
    proc = cli(
        "data", "composition", sample, "--population", population,
        "--strata", "hour_of_week,segment", "--time-column", "ts", cwd=tmp_path, check=0,
    )  # fmt: skip
    assert "temporal_window_bias" in proc.stdout
    assert "enterprise: 0.0%" in proc.stdout


def test_sample_usage_errors_name_the_place(cli, tmp_path):
    population = _population(tmp_path / "traffic.jsonl", size=50)
    proc = cli(
        "data", "sample", population, "--n", "10", "--strata", "hour_of_week,intent",
        "--time-column", "ts", cwd=tmp_path, check=2,
    )  # fmt: skip
    assert "traffic.jsonl:1" in proc.stderr and "intent" in proc.stderr
    proc = cli(
        "data", "sample", population, "--n", "10", "--strata", "hour_of_week",
        "--time-column", "ts", "--timezone", "Nowhere/Land", cwd=tmp_path, check=2,
    )  # fmt: skip
    assert "--timezone" in proc.stderr
