"""assay.stats against the published reference values in ../shared/data/published_vectors.json."""

import json

import pytest

from assay.stats import (
    cohens_kappa_table,
    effective_sample_size,
    fleiss_kappa,
    krippendorff_alpha,
    mcnemar_exact_counts,
    paired_sample_size,
    subset_z_score,
    two_proportion_mde,
    two_proportion_sample_size,
)


@pytest.fixture
def vectors(shared_data):
    return json.loads((shared_data / "published_vectors.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_alpha_matches_krippendorff_2011_example_c(vectors, level):
    case = vectors["krippendorff_2011_example_c"]
    alpha = krippendorff_alpha(case["reliability_data"], level)
    assert alpha == pytest.approx(case["expected_alpha"][level], abs=case["tolerance"])


def test_fleiss_kappa_matches_worked_example(vectors):
    case = vectors["fleiss_wikipedia_example"]
    assert fleiss_kappa(case["counts"]) == pytest.approx(
        case["expected_kappa"], abs=case["tolerance"]
    )
    assert fleiss_kappa(case["counts"], method="randolph") == pytest.approx(
        case["expected_randolph_free_marginal"], abs=case["tolerance"]
    )


def test_cohens_kappa_matches_sas_proc_freq(vectors):
    case = vectors["cohen_sas_example"]
    k = cohens_kappa_table(case["table"])
    tol = case["tolerance"]
    assert k.kappa == pytest.approx(case["expected_kappa"], abs=tol)
    assert k.standard_error == pytest.approx(case["expected_ase"], abs=tol)
    assert (k.low, k.high) == pytest.approx(case["expected_ci95"], abs=tol)
    weighted = cohens_kappa_table(case["table"], weights="linear")
    assert weighted.kappa == pytest.approx(case["expected_weighted_kappa_linear"], abs=tol)


def test_cohens_kappa_matches_textbook_2x2(vectors):
    case = vectors["cohen_2x2_textbook"]
    k = cohens_kappa_table(case["table"])
    assert k.observed == pytest.approx(case["expected_po"])
    assert k.expected == pytest.approx(case["expected_pe"])
    assert k.kappa == pytest.approx(case["expected_kappa"])


def test_paired_sample_size_matches_miller_2024_example(vectors):
    case = vectors["miller_2024_power_example"]
    n = paired_sample_size(case["delta"], case["omega2"], alpha=case["alpha"], power=case["power"])
    assert n == case["expected_n"] == 969


def test_two_proportion_sample_size_matches_published_example(vectors):
    case = vectors["two_proportion_power_example"]
    n = two_proportion_sample_size(case["p0"], case["p1"], alpha=case["alpha"], power=case["power"])
    assert n == pytest.approx(case["expected_n_per_arm_approx"], rel=case["relative_tolerance"])
    # REQUIREMENTS B1 states the figure more tightly: 2,402 per arm (±1%).
    assert n == pytest.approx(2402, rel=0.01)


def test_two_proportion_mde_at_100_is_about_12_6_points():
    # REQUIREMENTS B1: n = 100, p0 = 0.82 -> MDE ≈ 12.6 points.
    assert 100 * two_proportion_mde(0.82, 100) == pytest.approx(12.6, abs=0.05)


def test_llama2_contamination_z_scores(vectors):
    for case in vectors["llama2_table51_zscores"]["cases"]:
        z = subset_z_score(case["xbar"], case["mu"], case["n"])
        assert z == pytest.approx(case["expected_z"], abs=case["tolerance"]), case["subset"]


def test_mcnemar_exact_requirement_b3():
    # 10 discordant pairs all favouring B -> p ≈ 0.002; a 6-4 split -> p ≈ 0.75.
    assert mcnemar_exact_counts(a_only=0, b_only=10).p_value == pytest.approx(0.001953125)
    assert mcnemar_exact_counts(a_only=4, b_only=6).p_value == pytest.approx(0.75390625)


def test_effective_sample_size_requirement_b5():
    assert effective_sample_size(3, 0.6) == pytest.approx(1.3636, abs=1e-4)
