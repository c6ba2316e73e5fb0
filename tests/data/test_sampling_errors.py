"""Sampling reads JSONL/CSV/Parquet tables and names the file:line or option of a mistake."""

import pytest
from data_testutil import write_csv, write_jsonl, write_parquet

from assay.core import AssayError, DatasetError
from assay.data.sampling import SamplingError, StrataSpec, draw_stratified, read_records

ROWS = [
    {"ts": f"2024-01-0{1 + i % 7}T0{i % 10}:00:00Z", "segment": "ab"[i % 2], "revenue": i}
    for i in range(40)
]
SPEC = StrataSpec(("hour_of_week", "segment"), time_column="ts", weight="revenue")


def test_jsonl_csv_and_parquet_give_the_same_sample(tmp_path):
    header = list(ROWS[0])
    paths = [
        write_jsonl(tmp_path / "t.jsonl", ROWS),
        write_csv(tmp_path / "t.csv", header, [[str(r[h]) for h in header] for r in ROWS]),
        write_parquet(tmp_path / "t.parquet", ROWS),
    ]
    drawn = [
        sorted(int(r.values["revenue"]) for r in draw_stratified(read_records(p), SPEC, 10).records)
        for p in paths
    ]
    assert drawn[0] == drawn[1] == drawn[2]
    assert len(drawn[0]) == 10
    # By revenue weight the high-revenue rows dominate: no zero-revenue row is drawn.
    assert 0 not in drawn[0]


def test_missing_stratum_column_names_file_and_line(tmp_path):
    rows = [*ROWS[:3], {"ts": "2024-01-01T00:00:00Z", "revenue": 1}]
    records = read_records(write_jsonl(tmp_path / "t.jsonl", rows))
    with pytest.raises(DatasetError) as info:
        draw_stratified(records, SPEC, 2)
    assert info.value.where.endswith("t.jsonl:4")
    assert "segment" in info.value.message and info.value.fix


def test_bad_timestamp_and_negative_weight_name_the_row(tmp_path):
    bad_ts = read_records(write_jsonl(tmp_path / "a.jsonl", [*ROWS[:2], {**ROWS[2], "ts": "x"}]))
    with pytest.raises(DatasetError, match="timestamp") as info:
        draw_stratified(bad_ts, SPEC, 2)
    assert info.value.where.endswith("a.jsonl:3")
    bad_w = read_records(write_jsonl(tmp_path / "b.jsonl", [{**ROWS[0], "revenue": -1}]))
    with pytest.raises(DatasetError, match="revenue") as info:
        draw_stratified(bad_w, SPEC, 1)
    assert info.value.where.endswith("b.jsonl:1")


def test_impossible_requests_name_the_option(tmp_path):
    records = read_records(write_jsonl(tmp_path / "t.jsonl", ROWS))
    with pytest.raises(SamplingError) as info:
        draw_stratified(records, SPEC, 41)
    assert info.value.where == "--n"
    with pytest.raises(SamplingError) as info:
        draw_stratified(records, StrataSpec(("hour_of_week",), "ts", tz="Mars/Olympus"), 2)
    assert info.value.where == "--timezone"
    assert isinstance(info.value, AssayError)
