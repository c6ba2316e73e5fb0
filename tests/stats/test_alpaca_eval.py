"""AlpacaEval 2.0: raw and length-controlled win rates reproduced from the reference data.

Reads ../shared/data/alpaca_eval in place (skips when absent). Per-item rows are joined to
item covariates by instruction id: six systems have 802-804 of the 805 rows.
"""

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from assay.stats import (
    GamedBaseline,
    GlmWeights,
    alpaca_eval_preference,
    length_controlled_win_rate,
    lookup_by_id,
    paired_difference,
    predict_length_controlled_win_rate,
    win_rate,
)

BASELINE = "gpt4_1106_preview"
GAMED = ("gpt4_1106_preview_verbose", "gpt4_1106_preview_concise")


class AlpacaEval:
    def __init__(self, folder):
        self.rows = defaultdict(list)
        with (folder / "per_item_preferences.csv").open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                self.rows[r["model"]].append(r)
        with (folder / "published_subset.csv").open(encoding="utf-8") as fh:
            self.published = {r["model"]: r for r in csv.DictReader(fh)}
        self.weights = {}
        with (folder / "lc_glm_weights.csv").open(encoding="utf-8") as fh:
            for r in csv.reader(fh):
                if r[0]:
                    self.weights[r[0]] = GlmWeights(*(float(x) for x in r[1:]))
        with (folder / "instruction_difficulty_reconstructed.csv").open(encoding="utf-8") as fh:
            self.difficulty = {
                int(r["index"]): float(r["instruction_difficulty_reconstructed"])
                for r in csv.DictReader(fh)
            }

    def column(self, model, name, kind=float):
        return [kind(r[name]) if r[name] != "" else math.nan for r in self.rows[model]]

    def preferences(self, model):
        return alpaca_eval_preference(self.column(model, "preference"))

    def ids(self, model):
        return self.column(model, "instruction_index", int)

    def gamed_features(self, name):
        """[tanh(Δ/sd(Δ)), γ, 1] for a gamed set, Δ = len_1 − len_2 standardised over its rows."""
        gap = np.array(self.column(name, "len_1")) - np.array(self.column(name, "len_2"))
        gamma = lookup_by_id(self.ids(name), self.difficulty)
        return np.column_stack([np.tanh(gap / gap.std(ddof=1)), gamma, np.ones(gap.size)])

    def gamed_baselines(self):
        """The two gamed baselines, their missing judge preferences rebuilt from published weights.

        The reference data hold only their lengths. Each gamed system's published weights θ_s
        came from AlpacaEval's own fit: its rows (weight 1, model term 1) plus both gamed sets
        as the regulariser (weight λ/2 = 0.1 each, model term 0). So its soft labels are not
        simply sigmoid(x·θ_s) (that ignores the regulariser's pull and over-states the length
        slope). Instead each set's labels are taken as sigmoid(x·β_s) with β_s solving the six
        score equations that make AlpacaEval's fit of *both* gamed systems return exactly their
        published weights (the L1 penalty is negligible at the chosen C).
        """
        from scipy.optimize import root
        from scipy.special import expit

        features = {name: self.gamed_features(name) for name in GAMED}
        published = {
            name: np.array([w.length, w.difficulty, w.model])
            for name, w in ((n, self.weights[n]) for n in GAMED)
        }
        prior = {name: x * np.array([1.0, 1.0, 0.0]) for name, x in features.items()}

        def score(beta):
            labels = {n: expit(features[n] @ beta[3 * k : 3 * k + 3]) for k, n in enumerate(GAMED)}
            out = []
            for own in GAMED:
                theta = published[own]
                s = features[own].T @ (labels[own] - expit(features[own] @ theta))
                for n in GAMED:
                    s = s + 0.1 * prior[n].T @ (labels[n] - expit(prior[n] @ theta))
                out.append(s)
            return np.concatenate(out)

        solution = root(score, np.concatenate([published[n] for n in GAMED]))
        assert solution.success and np.abs(score(solution.x)).max() < 1e-6
        return [
            GamedBaseline(
                preference=expit(features[name] @ solution.x[3 * k : 3 * k + 3]),
                baseline_length=self.column(name, "len_1"),
                gamed_length=self.column(name, "len_2"),
                item_ids=self.ids(name),
                name=name,
            )
            for k, name in enumerate(GAMED)
        ]

    def complete_systems(self):
        """The 50 systems with all 805 items and published weights (not the baseline or its
        gamed versions, which have no judged rows here)."""
        return [
            m
            for m in sorted(self.rows)
            if len(self.rows[m]) == 805 and m not in (BASELINE, *GAMED) and m in self.weights
        ]

    def model_features(self, model, positional=False):
        """[tanh(Δ/sd(Δ)), γ, 1] for a system's own rows, γ joined by id; with ``positional``
        the rows' γ are those of their position in the annotation file instead, as
        ``glm_winrate.py`` joins them (``df_annotations.reset_index()["index"]``)."""
        gap = np.array(self.column(model, "len_1")) - np.array(self.column(model, "len_2"))
        if positional:
            rows = self.column(model, "row_in_file", int)
            gamma = np.array([self.difficulty[r] for r in rows])
        else:
            gamma = lookup_by_id(self.ids(model), self.difficulty)
        return np.column_stack([np.tanh(gap / gap.std(ddof=1)), gamma, np.ones(gap.size)])

    def implied_gamed_sums(self, model, positional=False):
        """The gamed rows' label sums S = Σ_gamed (tanh, γ)·q that ``model``'s published fit implies.

        AlpacaEval fits θ on the model's rows (weight 1) and both gamed sets (weight 0.1, model
        term 0); at its optimum Σ_own x(p − σ(x·θ)) + 0.1·Σ_gamed x̃(q − σ(x̃·θ)) = sign(θ)/C.
        The gamed labels q enter every system's fit only through S (x̃'s model term is 0), so
        the published θ give S = Σ_gamed x̃·σ(x̃·θ) − 10·Σ_own x(p − σ(x·θ)). The L1 term
        (≤ 10/C ≈ 3.6 at the usual C ≈ 2.8, against S ≈ (−173, 413)) is left out: AlpacaEval's
        C is not published.
        """
        from scipy.special import expit

        w = self.weights[model]
        theta = np.array([w.length, w.difficulty, w.model])
        x, p = self.model_features(model, positional), self.preferences(model)
        own = x.T @ (p - expit(x @ theta))
        gamed = sum(
            (f := self.gamed_features(n) * np.array([1.0, 1.0, 0.0])).T @ expit(f @ theta)
            for n in GAMED
        )
        return (gamed - 10 * own)[:2]

    def pooled_gamed_baselines(self, implied, exclude):
        """Gamed preferences whose sums S are the median that the *other* systems' fits imply.

        ``implied`` maps system → :meth:`implied_gamed_sums`; ``exclude`` (the system about to
        be refitted) is left out, so its own published weights do not inform its refit. The
        labels of :meth:`gamed_baselines` are tilted, logit q' = logit q + a·tanh + b·γ, with
        (a, b) solving Σ_gamed (tanh, γ)·q' = S. The two gamed systems' six score equations
        alone put S_len 11 lower than this median (−184 against −173): through the errors of
        the reconstructed difficulty on their rows, which the median over 49 systems averages.
        """
        from scipy.optimize import root
        from scipy.special import expit, logit

        target = np.median([s for m, s in implied.items() if m != exclude], axis=0)
        if not hasattr(self, "_gamed"):
            self._gamed = self.gamed_baselines()
        base = self._gamed
        x = np.vstack([self.gamed_features(n)[:, :2] for n in GAMED])
        q0 = np.concatenate([np.asarray(g.preference) for g in base])
        z = logit(np.clip(q0, 1e-12, 1 - 1e-12))
        solution = root(lambda ab: x.T @ expit(z + x @ ab) - target, np.zeros(2))
        assert solution.success
        q = expit(z + x @ solution.x)
        split = np.cumsum([len(g.preference) for g in base])[:-1]
        return [
            GamedBaseline(part, g.baseline_length, g.gamed_length, g.item_ids, g.name)
            for part, g in zip(np.split(q, split), base, strict=True)
        ]


SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def alpaca():
    # A module-scoped twin of the shared_data fixture: the files are read once for all tests.
    folder = SHARED_DATA / "alpaca_eval"
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder} (it sits beside the project in CI)")
    return AlpacaEval(folder)


def _systems(alpaca):
    return sorted(alpaca.published)


def test_raw_win_rate_standard_error_and_discrete_win_rate_are_exact(alpaca):
    for model in _systems(alpaca):
        pub = alpaca.published[model]
        wr = win_rate(alpaca.preferences(model))
        assert 100 * wr.win_rate == pytest.approx(float(pub["win_rate"]), rel=1e-9, abs=1e-9), model
        assert 100 * wr.standard_error == pytest.approx(
            float(pub["standard_error"]), rel=1e-9, abs=1e-12
        ), model
        assert 100 * wr.discrete_win_rate == pytest.approx(
            float(pub["discrete_win_rate"]), rel=1e-12
        ), model
        assert (wr.n_wins, wr.n_wins_base, wr.n_draws, wr.n_total) == (
            int(pub["n_wins"]),
            int(pub["n_wins_base"]),
            int(pub["n_draws"]),
            int(pub["n_total"]),
        ), model


def test_lc_win_rate_from_published_weights_is_within_a_point(alpaca):
    baseline = alpaca.weights[BASELINE]
    for model in _systems(alpaca):
        gamma = lookup_by_id(alpaca.ids(model), alpaca.difficulty, what="difficulty")
        lc = predict_length_controlled_win_rate(alpaca.weights[model], gamma, baseline)
        published = float(alpaca.published[model]["length_controlled_winrate"])
        assert 100 * lc == pytest.approx(published, abs=1.0), model


def test_alpaca_eval_lc_standard_error_is_the_spread_of_fitted_values(alpaca):
    # AlpacaEval's lc_standard_error (published only for NullModel) is sem(fitted preferences),
    # not a sampling error: reproduce it (to the precision the reconstructed difficulties allow).
    w = alpaca.weights["NullModel"]
    gamma = lookup_by_id(alpaca.ids("NullModel"), alpaca.difficulty)
    fitted = 1 / (1 + np.exp(-(w.model + w.difficulty * gamma)))
    sem = fitted.std(ddof=1) / math.sqrt(fitted.size)
    assert 100 * sem == pytest.approx(
        float(alpaca.published["NullModel"]["lc_standard_error"]), abs=0.01
    )


def test_systems_with_missing_rows_are_joined_by_instruction_id(alpaca):
    short = {m: len(r) for m, r in alpaca.rows.items() if len(r) < 805}
    assert sorted(short.values()) == [802, 803, 803, 804, 804, 804]
    table = [alpaca.difficulty[i] for i in range(805)]
    for model in short:
        ids = alpaca.ids(model)
        by_id = lookup_by_id(ids, alpaca.difficulty)
        assert by_id.tolist() == [alpaca.difficulty[i] for i in ids]
        positional = np.array(table[: len(ids)])
        assert np.any(by_id != positional), model  # the bug a positional join would make
        lc_by_id = predict_length_controlled_win_rate(alpaca.weights[model], by_id)
        lc_positional = predict_length_controlled_win_rate(alpaca.weights[model], positional)
        assert lc_by_id != lc_positional
    with pytest.raises(ValueError, match="no difficulty for item id 9999"):
        lookup_by_id([1, 9999], alpaca.difficulty, what="difficulty")


def test_alpaca_eval_joined_difficulty_by_row_position_for_systems_with_missing_rows(alpaca):
    # The deliberate difference from glm_winrate.py (module docstring of length_control): there
    # the difficulty is joined by row position. The published weights show it: the gamed
    # difficulty sum each fit implies sits near the complete systems' median only with the
    # positional join, for five of the six systems with 802-804 rows.
    complete = np.median([alpaca.implied_gamed_sums(m)[1] for m in alpaca.complete_systems()])
    assert 380 < complete < 450
    short = sorted(m for m, rows in alpaca.rows.items() if len(rows) < 805)
    by_id = {m: alpaca.implied_gamed_sums(m)[1] for m in short}
    by_position = {m: alpaca.implied_gamed_sums(m, positional=True)[1] for m in short}
    fits_position = {m for m in short if abs(by_position[m] - complete) < 120}
    fits_id = {m for m in short if abs(by_id[m] - complete) < 120}
    assert fits_position == set(short)
    assert fits_id == {"alpaca-7b_concise"}  # missing item 689: only its last 115 rows shift


@pytest.mark.slow
def test_lc_refit_from_per_item_preferences_is_close_to_published(alpaca):
    """Refit AlpacaEval's GLM on the 50 systems with all 805 items (issue 20, item 1).

    The fit matches ``glm_winrate.py`` term by term (module docstring of
    ``assay.stats.length_control``). Two inputs are reconstructions: the instruction
    difficulty γ (the official file is not in the reference data), and the gamed baselines'
    judge preferences (``df_gamed.csv``, not in it either), which enter every fit only through
    two sums S (``AlpacaEval.implied_gamed_sums``). S is the median that the other 49 systems'
    published fits imply (``pooled_gamed_baselines``, leave-one-out). Figures (scikit-learn
    1.9, 2026-12-04):

    - refit vs the published-weights prediction with the same γ, 50 systems: median 0.20, max
      1.20 points (the issue's targets, 0.3 / 1.5, are met). With S from the two gamed
      systems' score equations alone: 0.29 / 1.46, and a length slope 0.08 steeper on average
      (now 0.01);
    - refit vs published LC: the 11 systems of published_subset.csv, median 0.36, max 1.54;
      the 45 of them on AlpacaEval's leaderboard file (read once by hand, not stored here),
      median 0.29, max 1.54. The max target (1.5) is missed by claude-2 alone;
    - the share of γ: the published weights with the reconstructed γ miss the published LC by
      median 0.15, max 0.33 (11 systems; 0.13 / 0.33 on the 45). And the refit error tracks,
      with correlation 0.95, the error that re-solving only the model term of the published
      weights (so that they match the system's own mean preference under the reconstructed γ)
      produces: a share that involves neither the gamed rows nor the fit, so it is γ's.
      Subtracting it leaves median 0.11, max 0.82. The worst systems (claude, claude-2,
      claude-2.1, gpt-3.5-turbo-1106_verbose, Mixtral concise) are those whose own mean
      preference the published weights under-predict by 1.5–2.4 items with this γ; the five
      FuseChat systems over-predict it by 4–7 items and come out 0.6–1.0 points low.

    So against the published LC the remaining gap is the reconstructed difficulty's, not the
    fit's. Re-estimating γ per item (MAP around the reconstruction, prior sd 0.5) from the
    other systems' preferences and published weights gave 0.17 / 1.40 on the 45, but it leaks
    through sibling systems (the three Claudes share their items' pattern), moves the
    published-weights prediction away from the published LC (median 0.45) and needs a prior
    width picked by hand, so it is not used. Nor is re-deriving γ the way AlpacaEval made it
    (``notebooks/instruction_difficulty.ipynb``: one joint fit with a length slope and a bias
    per system and a term per instruction, on the leaderboard's systems of early 2024): fitted
    on this file's 58 systems with the notebook's ``LogisticRegressionCV`` (L1, GroupKFold 5),
    it correlates 0.99 with the reconstruction, yet the refit then misses the published LC by
    median 0.39, max 2.04 even after an affine rescaling (2026-12-05). The notebook itself finds
    two model sets' γ correlate 0.958: the official γ depends on systems not in this data.
    The thresholds are the measured figures plus a small margin (and the targets where they
    are met).
    """
    from scipy.optimize import brentq
    from scipy.special import expit

    systems = alpaca.complete_systems()
    implied = {m: alpaca.implied_gamed_sums(m) for m in systems}
    baseline = alpaca.weights[BASELINE]
    vs_weights, slope_gap, gamma_share = [], [], []
    vs_published, difficulty_part = [], []
    for model in systems:
        fit = length_controlled_win_rate(
            alpaca.preferences(model),
            alpaca.column(model, "len_2"),
            alpaca.column(model, "len_1"),
            item_ids=alpaca.ids(model),
            difficulty=alpaca.difficulty,
            gamed=alpaca.pooled_gamed_baselines(implied, exclude=model),
        )
        x, p, w = alpaca.model_features(model), alpaca.preferences(model), alpaca.weights[model]
        from_weights = 100 * predict_length_controlled_win_rate(w, x[:, 1], baseline)
        vs_weights.append(100 * fit.win_rate - from_weights)
        slope_gap.append(fit.weights.length - w.length)
        assert fit.weights.length < 0, model  # longer answers win against this judge
        # γ's share: the published weights with only the model term re-solved to match the
        # system's own mean preference under the reconstructed γ (no gamed rows, no fit).
        tilt = w.length * x[:, 0] + w.difficulty * x[:, 1]
        model_term = brentq(
            lambda b, p, tilt: np.sum(p - expit(tilt + b)),
            w.model - 5,
            w.model + 5,
            args=(p, tilt),
        )
        gamma_share.append(100 * expit(w.difficulty * x[:, 1] + model_term).mean() - from_weights)
        if model in alpaca.published:
            published = float(alpaca.published[model]["length_controlled_winrate"])
            vs_published.append(100 * fit.win_rate - published)
            difficulty_part.append(from_weights - published)
            assert 100 * fit.raw.win_rate == pytest.approx(
                float(alpaca.published[model]["win_rate"]), rel=1e-9
            )
    fit_gap, published_gap = np.abs(vs_weights), np.abs(vs_published)
    diff_gap = np.abs(difficulty_part)
    rest = np.abs(np.subtract(vs_weights, gamma_share))
    correlation = float(np.corrcoef(vs_weights, gamma_share)[0, 1])
    print(
        f"\nLC refit vs published-weights prediction, {fit_gap.size} systems: median "
        f"{np.median(fit_gap):.2f}, max {fit_gap.max():.2f} pt (length slope {np.mean(slope_gap):+.3f}"
        f" vs published); vs published LC, {published_gap.size} systems: median "
        f"{np.median(published_gap):.2f}, max {published_gap.max():.2f} pt. Reconstructed "
        f"difficulty: published weights vs published LC median {np.median(diff_gap):.2f}, max "
        f"{diff_gap.max():.2f} pt; its model-term share correlates {correlation:.2f} with the refit "
        f"error, which leaves median {np.median(rest):.2f}, max {rest.max():.2f} pt without it"
    )
    assert fit_gap.size == 50 and published_gap.size == 11
    assert np.median(fit_gap) <= 0.3 and fit_gap.max() <= 1.5  # the targets
    assert abs(np.mean(slope_gap)) <= 0.03  # no steeper length slope left
    assert np.median(published_gap) <= 0.4 and published_gap.max() <= 1.6
    assert diff_gap.max() <= 0.35
    assert correlation >= 0.9 and np.median(rest) <= 0.15 and rest.max() <= 0.9


def test_lc_refit_interval_is_a_real_sampling_interval(alpaca):
    model = "gpt-3.5-turbo-1106"
    fit = length_controlled_win_rate(
        alpaca.preferences(model),
        alpaca.column(model, "len_2"),
        alpaca.column(model, "len_1"),
        item_ids=alpaca.ids(model),
        difficulty=alpaca.difficulty,
        gamed=alpaca.gamed_baselines(),
        n_resamples=100,
        seed=0,
    )
    ci = fit.interval
    assert ci is not None and ci.low < fit.win_rate < ci.high
    # Comparable to the raw win rate's own sampling error (±1.96 SE ≈ ±1.7 points), and many
    # times wider than the spread-of-fitted-values "standard error" AlpacaEval reports.
    raw_half = 1.96 * fit.raw.standard_error
    assert 0.4 * raw_half < (ci.high - ci.low) / 2 < 2.5 * raw_half
    fitted_sem = fit.predicted.std(ddof=1) / math.sqrt(fit.predicted.size)
    assert (ci.high - ci.low) / 2 > 3 * fitted_sem


def test_pairing_two_systems_on_the_same_instructions_shrinks_the_standard_error(alpaca):
    a_ids, b_ids = alpaca.ids("claude-2"), alpaca.ids("claude-2.1")
    a = dict(zip(a_ids, alpaca.preferences("claude-2"), strict=True))
    b = dict(zip(b_ids, alpaca.preferences("claude-2.1"), strict=True))
    shared = sorted(set(a) & set(b))
    groups = {int(r["instruction_index"]): r["dataset"] for r in alpaca.rows["claude-2"]}
    result = paired_difference(
        [a[i] for i in shared], [b[i] for i in shared], clusters=[groups[i] for i in shared]
    )
    assert 0.6 < result.correlation < 0.75
    assert 0.5 < result.se_paired / result.se_unpaired < 0.65
    assert result.n_clusters == 5
    assert 100 * result.difference == pytest.approx(
        float(alpaca.published["claude-2.1"]["win_rate"])
        - float(alpaca.published["claude-2"]["win_rate"]),
        abs=1e-9,
    )
