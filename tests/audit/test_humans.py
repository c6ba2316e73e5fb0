"""Human agreement over time (C8): loading labels, agreement per period and rater,
drift attribution, and the judge-human agreement check."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from assay.audit import (
    HumanLabel,
    agreement_by_period,
    agreement_by_rater,
    attribute_drift,
    human_agreement_check,
    labels_by_period,
    load_human_labels,
    period_of,
)
from assay.audit.humans import _agreement_weights, _kappa_of_tables
from assay.core.errors import DatasetError
from assay.stats import cohens_kappa, cohens_kappa_table

# -- loading --------------------------------------------------------------------------------


def test_load_csv_and_jsonl_give_the_same_labels(tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text(
        "sample,rater,label,time,period,notes\n"
        "q1,ann,1,2024-05-01,spring,ok\n"
        "q2,bob,pass,2024-05-02T09:30:00Z,,\n"
        "q3,ann,4.5,2024-06-01T10:00:00+02:00,summer,\n"
        "q4,bob,true,2024-06-02,,\n"
    )
    jsonl = tmp_path / "labels.jsonl"
    rows = [
        {"sample": "q1", "rater": "ann", "label": 1, "time": "2024-05-01", "period": "spring"},
        {"sample": "q2", "rater": "bob", "label": "pass", "time": "2024-05-02T09:30:00Z"},
        {
            "sample": "q3",
            "rater": "ann",
            "label": "4.5",
            "time": "2024-06-01T10:00:00+02:00",
            "period": "summer",
        },
        {"sample": "q4", "rater": "bob", "label": True, "time": "2024-06-02"},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    from_csv, from_jsonl = load_human_labels(csv_file), load_human_labels(jsonl)
    strip = [(x.sample, x.rater, x.label, x.time, x.period) for x in from_csv]
    assert strip == [(x.sample, x.rater, x.label, x.time, x.period) for x in from_jsonl]
    assert [x.label for x in from_csv] == [1, "pass", 4.5, 1]
    assert from_csv[0].time == datetime(2024, 5, 1, tzinfo=UTC)
    assert from_csv[2].time.utcoffset() is not None
    assert from_csv[1].period is None
    assert from_csv[0].where == f"{csv_file}:2"
    assert from_jsonl[3].where == f"{jsonl}:4"


def test_load_with_renamed_columns(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text('{"item": 7, "who": "ann", "label": 0, "time": 1714521600}\n')
    [label] = load_human_labels(path, columns={"sample": "item", "rater": "who"})
    assert label.sample == "7"
    assert label.time == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "line", "field", "fix"),
    [
        (
            "sample,rater,label,time\nq1,ann,1,2024-05-01\nq2,ann,1,yesterday\n",
            3,
            "'time'",
            "ISO 8601",
        ),
        ("sample,rater,label,time\nq1,,1,2024-05-01\n", 2, "'rater'", "give every row"),
        ("sample,rater,label,time\nq1,ann,,2024-05-01\n", 2, "'label'", "category"),
        ("sample,rater,score,time\nq1,ann,1,2024-05-01\n", 2, "'label'", "columns="),
    ],
)
def test_csv_errors_name_line_field_and_fix(
    tmp_path: Path, content: str, line: int, field: str, fix: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError) as info:
        load_human_labels(path)
    error = info.value
    assert error.where == f"{path}:{line}"
    assert field in error.message
    assert error.fix and fix in error.fix


def test_jsonl_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sample": "q1", "rater": "a", "label": 1, "time": "2024-01-01"}\n[1, 2]\n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: a label row must be an object"):
        load_human_labels(path)
    path.write_text('{"sample": "q1", "rater": "a", "label": [1], "time": "2024-01-01"}\n')
    with pytest.raises(DatasetError, match="field 'label' holds a list"):
        load_human_labels(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DatasetError, match="no labels"):
        load_human_labels(empty)
    with pytest.raises(DatasetError, match="not found"):
        load_human_labels(tmp_path / "missing.csv")


# -- periods and agreement ------------------------------------------------------------------


def _label(
    sample: str, rater: str, label: object, day: str, period: str | None = None
) -> HumanLabel:
    return HumanLabel(sample, rater, label, datetime.fromisoformat(day).replace(tzinfo=UTC), period)


def test_period_names() -> None:
    x = _label("s", "r", 1, "2024-05-01T12:00:00", "wave-1")
    assert period_of(x, "month") == "2024-05"
    assert period_of(x, "day") == "2024-05-01"
    assert period_of(x, "week") == "2024-W18"
    assert period_of(x, "quarter") == "2024-Q2"
    assert period_of(x, "label") == "wave-1"
    assert period_of(x, lambda lab: lab.rater.upper()) == "R"
    with pytest.raises(DatasetError, match="no period"):
        period_of(_label("s", "r", 1, "2024-05-01"), "label")


def _cohort(
    rng: np.random.Generator,
    truth: dict[str, int],
    month: str,
    raters: list[str],
    *,
    accuracy: float = 0.9,
    lenient: float = 0.0,
) -> list[HumanLabel]:
    """Each rater labels every sample: right with ``accuracy``; a ``lenient`` share of the
    remaining fails become passes."""
    out = []
    for rater in raters:
        for sample, value in truth.items():
            label = value if rng.random() < accuracy else 1 - value
            if label == 0 and rng.random() < lenient:
                label = 1
            out.append(_label(sample, rater, label, f"{month}-15"))
    return out


def _truth(n: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    return {f"s{i}": int(rng.random() < 0.6) for i in range(n)}


def test_agreement_by_period_kappa_alpha_and_means() -> None:
    rng = np.random.default_rng(0)
    truth = _truth(200, 1)
    labels = _cohort(rng, truth, "2024-03", ["ann", "bob"], accuracy=0.95)
    labels += _cohort(rng, truth, "2024-01", ["cat", "dan"], accuracy=0.7)
    rows = agreement_by_period(labels, truth)
    assert [r.period for r in rows] == ["2024-01", "2024-03"]  # time order, not input order
    early, late = rows
    assert early.n_pairs == 400 and early.n_raters == 2 and early.n_shared == 200
    assert late.kappa > early.kappa
    assert late.human_alpha > early.human_alpha
    assert late.kappa_low < late.kappa < late.kappa_high
    # the kappa is the stats module's, over every human-judge pair
    human = [x.label for x in labels if x.time.month == 3]
    judge = [truth[x.sample] for x in labels if x.time.month == 3]
    assert late.kappa == pytest.approx(cohens_kappa(human, judge).kappa)
    assert late.judge_mean == pytest.approx(np.mean(judge))
    assert late.as_dict()["start"].startswith("2024-03-15")


def test_agreement_by_period_single_rater_has_no_alpha_and_judge_by_period() -> None:
    labels = [_label(f"s{i}", "ann", i % 2, "2024-02-01") for i in range(10)]
    [row] = agreement_by_period(labels, {f"s{i}": i % 2 for i in range(10)})
    assert row.human_alpha is None and row.kappa == pytest.approx(1.0)
    flipped = {"2024-02": {f"s{i}": 1 - i % 2 for i in range(10)}}
    [row] = agreement_by_period(labels, {}, judge_by_period=flipped)
    assert row.kappa == pytest.approx(-1.0)


def test_agreement_by_rater_catches_a_rater_turning_lenient() -> None:
    rng = np.random.default_rng(3)
    truth = _truth(300, 2)
    labels = _cohort(rng, truth, "2024-01", ["ann", "bob"])
    labels += _cohort(rng, truth, "2024-02", ["ann"])
    labels += _cohort(rng, truth, "2024-02", ["bob"], lenient=0.8)
    rows = {r.rater: r for r in agreement_by_rater(labels, truth)}
    ann, bob = rows["ann"], rows["bob"]
    assert [p.period for p in bob.periods] == ["2024-01", "2024-02"]
    assert bob.periods[1].mean_label > bob.periods[0].mean_label + 0.2
    assert bob.offset_shift_low > 0  # bob's leniency relative to the judge rose
    assert ann.offset_shift_low <= 0 <= ann.offset_shift_high
    assert bob.periods[1].kappa < ann.periods[1].kappa
    assert bob.as_dict()["periods"][0]["n"] == 300


# -- attribution ----------------------------------------------------------------------------


def _two_periods(
    *, human_lenient: float, judge_lenient: float, system_gain: float, seed: int
) -> tuple[dict, dict, dict]:
    """Anchors (frozen) and fresh production samples in two periods. Humans label the
    anchors (three per anchor), the judge re-scores them; composites on production are the
    mean of a human and a judge label. ``*_lenient``: share of fails labelled passes in
    period 2; ``system_gain``: rise of the production pass rate in period 2."""
    rng = np.random.default_rng(seed)
    ids = [f"a{i}" for i in range(400)]
    anchors = (rng.random(len(ids)) < 0.6).astype(int)
    human_by, judge_by, system_by = {}, {}, {}
    for period, (h_len, j_len, gain) in {
        "2024-Q1": (0.0, 0.0, 0.0),
        "2024-Q2": (human_lenient, judge_lenient, system_gain),
    }.items():

        def rate(value: np.ndarray, noise: float, lenient: float) -> np.ndarray:
            label = np.where(rng.random(value.shape) < noise, 1 - value, value)
            return np.where((label == 0) & (rng.random(value.shape) < lenient), 1, label)

        humans = rate(np.repeat(anchors[:, None], 3, axis=1), 0.1, h_len)
        human_by[period] = dict(zip(ids, humans.tolist(), strict=True))
        judge_by[period] = dict(zip(ids, rate(anchors, 0.0, j_len).tolist(), strict=True))
        fresh = (rng.random(1500) < 0.6 + gain).astype(int)
        system_by[period] = ((rate(fresh, 0.1, h_len) + rate(fresh, 0.0, j_len)) / 2).tolist()
    return human_by, judge_by, system_by


def test_c8_lenient_human_cohort_is_the_cause() -> None:
    humans, judge, system = _two_periods(
        human_lenient=0.25, judge_lenient=0.0, system_gain=0.0, seed=4
    )
    result = attribute_drift(humans, judge, system)
    assert result.periods == ("2024-Q1", "2024-Q2")
    # about 10 points more lenient: a quarter of the ~40% fails
    assert result.human.estimate == pytest.approx(0.10, abs=0.03)
    assert result.human.significant
    assert result.judge.estimate == 0.0 and not result.judge.significant
    assert result.composite is not None and result.composite.significant
    assert result.system is not None and not result.system.significant
    assert result.dominant == "human_cohort"
    assert "human cohort" in result.message
    check = result.to_check()
    assert check.verdict == "warn"
    assert check.details["dominant"] == "human_cohort"
    assert "NaN" not in check.model_dump_json()


def test_c8_lenient_judge_is_the_cause() -> None:
    humans, judge, system = _two_periods(
        human_lenient=0.0, judge_lenient=0.25, system_gain=0.0, seed=2
    )
    result = attribute_drift(humans, judge, system)
    assert result.judge.significant and not result.human.significant
    assert result.dominant == "judge"
    check = result.to_check()
    assert check.verdict == "fail" and check.flag == "drifted"


def test_c8_real_system_change_is_the_system() -> None:
    humans, judge, system = _two_periods(
        human_lenient=0.0, judge_lenient=0.0, system_gain=0.15, seed=3
    )
    result = attribute_drift(humans, judge, system)
    assert result.dominant == "system"
    assert result.system is not None
    assert result.system.low <= 0.15 <= result.system.high
    assert result.to_check().verdict == "pass"


def test_c8_attribution_is_right_in_most_seeded_worlds() -> None:
    # The acceptance scenarios over 40 worlds each: the named cause is the planted one in
    # at least 90% of them (the system's interval is a 95% one, so some worlds err).
    worlds = 40
    human = judge = 0
    for seed in range(100, 100 + worlds):
        lenient_humans = _two_periods(
            human_lenient=0.25, judge_lenient=0.0, system_gain=0.0, seed=seed
        )
        human += attribute_drift(*lenient_humans).dominant == "human_cohort"
        lenient_judge = _two_periods(
            human_lenient=0.0, judge_lenient=0.25, system_gain=0.0, seed=seed
        )
        judge += attribute_drift(*lenient_judge).dominant == "judge"
    assert human / worlds >= 0.9
    assert judge / worlds >= 0.9


def test_attribution_without_production_data_and_from_labels() -> None:
    rng = np.random.default_rng(5)
    truth = _truth(200, 9)
    labels = _cohort(rng, truth, "2024-01", ["ann", "bob"])
    labels += _cohort(rng, truth, "2024-02", ["ann", "bob"], lenient=0.5)
    humans = labels_by_period(labels)
    assert set(humans) == {"2024-01", "2024-02"}
    assert len(humans["2024-01"]["s0"]) == 2
    judge = {"2024-01": truth, "2024-02": truth}
    result = attribute_drift(humans, judge)
    assert result.system is None and result.composite is None
    assert result.dominant == "human_cohort"
    nothing = attribute_drift({"a": truth, "b": truth}, {"a": truth, "b": truth})
    assert nothing.dominant == "none"
    with pytest.raises(ValueError, match="no anchor scores"):
        attribute_drift(humans, judge, periods=("2024-01", "2024-05"))
    words = {"a": {"x": ["pass"], "y": ["fail"]}, "b": {"x": ["pass"], "y": ["pass"]}}
    with pytest.raises(ValueError, match="non-numeric score"):
        attribute_drift(words, words)


# -- the check ------------------------------------------------------------------------------


def test_human_agreement_check_pass_and_fail() -> None:
    rng = np.random.default_rng(11)
    truth = _truth(300, 4)
    good = _cohort(rng, truth, "2024-01", ["ann", "bob"], accuracy=0.92)
    check = human_agreement_check(good, truth)
    assert check.verdict == "pass"
    assert check.low < check.figure < check.high
    assert check.n == 300 and check.details["n_pairs"] == 600
    assert check.details["human_alpha"] > 0.5
    assert "NaN" not in check.model_dump_json()

    poor = _cohort(rng, truth, "2024-01", ["ann", "bob"], accuracy=0.6)
    check = human_agreement_check(poor, truth)
    assert check.verdict == "fail"
    assert check.flag == "low_human_agreement"
    assert check.high < 0.4


def test_human_agreement_check_warns_when_undecided_and_skips_when_empty() -> None:
    rng = np.random.default_rng(12)
    truth = _truth(30, 5)
    labels = _cohort(rng, truth, "2024-01", ["ann"], accuracy=0.7)
    check = human_agreement_check(labels, truth, bound=0.45)
    assert check.low < 0.45 <= check.high
    assert check.verdict == ("warn" if check.figure < 0.45 else "pass")
    assert human_agreement_check(labels, {}).verdict == "skipped"
    same = [_label(f"s{i}", "ann", 1, "2024-01-01") for i in range(5)]
    assert human_agreement_check(same, {f"s{i}": 1 for i in range(5)}).verdict == "skipped"


def test_vectorised_kappa_matches_the_stats_module() -> None:
    table = np.array([[20.0, 5, 1], [4, 15, 6], [2, 3, 30]])
    for weights in (None, "linear", "quadratic"):
        ours = _kappa_of_tables(table[None], _agreement_weights(3, weights))[0]
        assert ours == pytest.approx(cohens_kappa_table(table, weights=weights).kappa)


def test_mixed_label_kinds_are_refused() -> None:
    labels = [_label("a", "r", "pass", "2024-01-01"), _label("b", "r", 1, "2024-01-01")]
    with pytest.raises(ValueError, match="mix numbers and text"):
        human_agreement_check(labels, {"a": 1, "b": 0})
