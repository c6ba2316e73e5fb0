"""Pairwise win rates, raw and length-controlled (AlpacaEval 2.0; REQUIREMENTS C2).

LLM judges prefer longer answers. The length-controlled (LC) win rate of Dubois et al. (2024),
"Length-Controlled AlpacaEval" (arXiv 2404.04475), fits a logistic model of the judge's
preference for the model over the baseline on each item,

    logit P(model wins item i) = θ_len · tanh(Δᵢ / sd(Δ)) + θ_diff · γᵢ + θ_model

where Δᵢ = len(baseline answer) − len(model answer) and γᵢ the item's difficulty, then asks
what the model's win rate would be with the length term set to zero:
LC = mean_i sigmoid(θ_diff·γᵢ + θ_model). The fit is an L1-penalised logistic regression with
soft (probability) labels, its penalty chosen by 5-fold cross-validation, regularised towards
the baseline by adding the baseline's comparisons against length-gamed versions of itself
(weight λ = 0.2 shared between them) — all as in AlpacaEval's ``glm_winrate.py``, in
scikit-learn. sd(Δ) is taken over all the model's rows, judged or not (AlpacaEval
standardises before it drops unjudged rows); the gamed rows are standardised per gamed set.

One deliberate difference: item covariates are joined by item id (:func:`lookup_by_id`),
never by row position, where ``glm_winrate.py`` joins the difficulty by the annotation row's
position (its ``"index"`` column comes from ``df_annotations.reset_index()``). A system with
802 of 805 rows thus gets every later item's difficulty wrong there, and AlpacaEval's published
weights carry it: for five of the six such systems their score equations hold with the
positional join, not with the join by id (checked on the reference data, issue 20). For a
system with all items in order the two joins agree.

Preferences here are on [0, 1]: the probability the *model* beat the baseline (0.5 a tie).
AlpacaEval's files use 1 (baseline) … 2 (model), with 0 for a legacy draw:
:func:`alpaca_eval_preference` converts.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.stats._resample import as_rng
from assay.stats.intervals import Interval

#: AlpacaEval's defaults: λ for the gamed-baseline rows, CV folds, grid of inverse penalties.
REGULARISATION = 0.2
N_SPLITS = 5
CS = tuple(float(c) for c in np.logspace(-4, 4, 10))


def alpaca_eval_preference(raw: ArrayLike) -> NDArray[np.float64]:
    """AlpacaEval preferences (1 = baseline wins … 2 = model wins; 0 or 1.5 = draw) on [0, 1].

    Missing values stay NaN. Values outside {0} ∪ [1, 2] raise ``ValueError``.
    """
    x = np.asarray(raw, dtype=float).reshape(-1)
    known = ~np.isnan(x)
    bad = known & (x != 0) & ((x < 1) | (x > 2))
    if bad.any():
        raise ValueError(f"AlpacaEval preferences lie in [1, 2] (or 0 for a draw); got {x[bad][0]}")
    return np.where(x == 0, 0.5, x - 1)


@dataclass(frozen=True)
class WinRate:
    """A raw pairwise win rate against a baseline, AlpacaEval's way (fractions, not percent).

    ``win_rate``: mean preference; ``standard_error``: its standard error across items
    (sample SD / √n); ``discrete_win_rate``: each preference rounded to win / tie / loss
    first (exactly 0.5 is a tie); counts of wins, baseline wins and draws are of the rounded
    preferences.
    """

    win_rate: float
    standard_error: float
    discrete_win_rate: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int


def win_rate(preferences: ArrayLike) -> WinRate:
    """Raw and discrete win rate of a model over a baseline from per-item preferences on [0, 1].

    As AlpacaEval computes them (``metrics/helpers.py``): win_rate = mean(p),
    standard_error = sd(p)/√n (ddof 1), discrete = mean(round(p)) with p = 0.5 kept as ½.
    NaN preferences (items not judged) are dropped. Reproduces the published AlpacaEval 2.0
    leaderboard values exactly.
    """
    p = np.asarray(preferences, dtype=float).reshape(-1)
    p = p[~np.isnan(p)]
    if p.size == 0:
        raise ValueError("no preferences")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("preferences must lie in [0, 1] (convert with alpaca_eval_preference)")
    draws = p == 0.5
    rounded = np.where(draws, 0.5, np.round(p))
    se = float(p.std(ddof=1)) / math.sqrt(p.size) if p.size > 1 else math.nan
    return WinRate(
        win_rate=float(p.mean()),
        standard_error=se,
        discrete_win_rate=float(rounded.mean()),
        n_wins=int(np.count_nonzero(rounded == 1)),
        n_wins_base=int(np.count_nonzero(rounded == 0)),
        n_draws=int(np.count_nonzero(draws)),
        n_total=int(p.size),
    )


def lookup_by_id(
    ids: ArrayLike, table: Mapping[Any, float] | tuple[ArrayLike, ArrayLike], *, what: str = "value"
) -> NDArray[np.float64]:
    """The values of ``table`` for each id in ``ids``, joined by id (never by position).

    ``table`` is a mapping id → value or a pair (table_ids, table_values). Raises
    ``ValueError`` naming the first id that has no value.
    """
    if isinstance(table, Mapping):
        mapping = table
    else:
        keys, values = table
        mapping = dict(
            zip(np.asarray(keys).tolist(), np.asarray(values, dtype=float).tolist(), strict=True)
        )
    out = np.empty(len(np.asarray(ids).reshape(-1)))
    for i, item in enumerate(np.asarray(ids).reshape(-1).tolist()):
        try:
            out[i] = float(mapping[item])
        except KeyError:
            raise ValueError(f"no {what} for item id {item!r}") from None
    return out


@dataclass(frozen=True)
class GlmWeights:
    """The three GLM coefficients, in AlpacaEval's column order and sign convention.

    ``length`` multiplies tanh((len_baseline − len_model)/sd): negative when longer answers
    win. ``difficulty`` multiplies the item difficulty γ; ``model`` is the model's intercept
    (AlpacaEval's ``not_gamed_baseline``). The baseline's own weights are all zero.
    """

    length: float
    difficulty: float
    model: float


def predict_length_controlled_win_rate(
    weights: GlmWeights, difficulty: ArrayLike | None = None, baseline: GlmWeights | None = None
) -> float:
    """LC win rate from published GLM weights: mean_i sigmoid(Δθ_model + Δθ_diff·γᵢ).

    Δ are the model's weights minus the baseline's (zero for the baseline the weights were
    fitted against), as AlpacaEval's ``predict_winrate``. ``difficulty`` holds γ for the
    items to average over (join them by item id); ``None`` means a model without a difficulty
    term. With AlpacaEval's published weights and a reconstruction of its difficulties this
    reproduces the leaderboard's LC win rates to within 0.35 points.
    """
    base = baseline or GlmWeights(0.0, 0.0, 0.0)
    intercept = weights.model - base.model
    slope = weights.difficulty - base.difficulty
    if difficulty is None:
        return float(_sigmoid(np.array([intercept]))[0])
    gamma = np.asarray(difficulty, dtype=float).reshape(-1)
    if gamma.size == 0 or np.isnan(gamma).any():
        raise ValueError("difficulty must be a non-empty array of numbers")
    return float(_sigmoid(intercept + slope * gamma).mean())


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.exp(-np.logaddexp(0.0, -x))


@dataclass(frozen=True)
class GamedBaseline:
    """The baseline judged against a length-gamed version of itself (e.g. "be verbose").

    Same fields as the model's own comparisons: ``preference`` that the gamed version won,
    answer lengths of the baseline and of the gamed version, and item ids (to join
    difficulties). These rows pin the length coefficient, since the gamed answers differ from
    the baseline's mainly in length. ``name`` (e.g. "gpt4_1106_preview_verbose") names the set
    in errors.
    """

    preference: ArrayLike
    baseline_length: ArrayLike
    gamed_length: ArrayLike
    item_ids: ArrayLike
    name: str = ""


@dataclass(frozen=True)
class LengthControlledFit:
    """A refitted length-controlled win rate.

    ``win_rate``: LC win rate (fraction); ``raw``: the raw win rate of the same items;
    ``predicted``: each item's preference with the length term zeroed (their mean is
    ``win_rate``); ``C``: the inverse L1 penalty cross-validation chose; ``interval``: a
    bootstrap interval over items when ``n_resamples`` > 0. AlpacaEval's
    ``lc_standard_error`` is the standard error of ``predicted`` (spread of fitted values),
    which is not a sampling interval; ``interval`` is one.
    """

    win_rate: float
    raw: WinRate
    weights: GlmWeights
    C: float
    predicted: NDArray[np.float64] = field(repr=False)
    interval: Interval | None = None


def _standardised_length_gap(
    baseline_length: ArrayLike, model_length: ArrayLike, keep: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """tanh(Δ/sd(Δ)) for the rows in ``keep``, sd (ddof 1) over *all* rows with both lengths.

    ``glm_winrate.py`` standardises before it drops rows without a preference, so an
    unjudged item still counts in sd(Δ); ``keep`` selects the rows fitted afterwards.
    """
    gap = np.asarray(baseline_length, dtype=float).reshape(-1) - np.asarray(
        model_length, dtype=float
    ).reshape(-1)
    known = gap[~np.isnan(gap)]
    sd = float(known.std(ddof=1)) if known.size > 1 else 0.0
    if keep is not None:
        gap = gap[keep]
    if np.isnan(gap).any():
        raise ValueError("an answer length is missing for a judged item")
    return np.tanh(gap / sd) if sd > 0 else np.zeros_like(gap)


def _soft_log_loss(
    p: NDArray[np.float64], target: NDArray[np.float64], weight: NDArray[np.float64]
) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -float(np.mean(weight * (target * np.log(p) + (1 - target) * np.log(1 - p))))


def _fit_glm(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    weight: NDArray[np.float64],
    cs: Sequence[float],
    n_splits: int,
) -> tuple[NDArray[np.float64], float]:
    """L1 logistic regression with soft labels; C by grouped K-fold CV (AlpacaEval's scheme).

    Soft labels become two weighted copies of each row (label 1 with weight w·p, label 0
    with weight w·(1−p)); the CV folds keep both copies of a row together and score the
    weighted soft log loss.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    n = y.size
    xd = np.vstack([x, x])
    yd = np.concatenate([np.ones(n), np.zeros(n)])
    wd = np.concatenate([y * weight, (1 - y) * weight])
    target = np.concatenate([y, y])
    row_weight = np.concatenate([weight, weight])

    def model(c: float) -> Any:
        return LogisticRegression(
            C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False, random_state=123
        )

    best_c = float(cs[0])
    if len(cs) > 1 and n_splits > 1:
        folds = list(GroupKFold(n_splits=n_splits).split(xd, yd, np.tile(np.arange(n), 2)))
        scores = []
        for c in cs:
            losses = []
            for train, test in folds:
                fitted = model(c).fit(xd[train], yd[train], sample_weight=wd[train])
                losses.append(
                    _soft_log_loss(
                        fitted.predict_proba(xd[test])[:, 1], target[test], row_weight[test]
                    )
                )
            scores.append(float(np.mean(losses)))
        best_c = float(cs[int(np.argmin(scores))])
    fitted = model(best_c).fit(xd, yd, sample_weight=wd)
    return np.asarray(fitted.coef_[0], dtype=float), best_c


def length_controlled_win_rate(
    preference: ArrayLike,
    model_length: ArrayLike,
    baseline_length: ArrayLike,
    *,
    item_ids: ArrayLike | None = None,
    difficulty: Mapping[Any, float] | tuple[ArrayLike, ArrayLike] | None = None,
    gamed: Sequence[GamedBaseline] = (),
    regularisation: float = REGULARISATION,
    n_splits: int = N_SPLITS,
    cs: Sequence[float] = CS,
    n_resamples: int = 0,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> LengthControlledFit:
    """Refit AlpacaEval 2.0's length-controlled GLM on per-item preferences (see module doc).

    ``preference`` (on [0, 1]), ``model_length`` and ``baseline_length`` have one entry per
    judged item; ``item_ids`` name the items, and ``difficulty`` (a mapping or (ids, values))
    gives each item's γ, joined by id. Without ``difficulty`` the model has no difficulty
    term (AlpacaEval's "minimal" variant). ``gamed`` adds the baseline's comparisons with its
    length-gamed versions, each set weighted λ/len(gamed) (``regularisation`` λ = 0.2).

    With ``n_resamples`` > 0, ``interval`` is a percentile bootstrap over the model's items:
    items are redrawn with replacement (as integer row weights) and the GLM refitted at the
    cross-validated C, which is held fixed (re-running CV in each resample would cost 50×);
    the gamed-baseline rows act as a fixed prior and are not resampled.

    Items with a NaN preference are dropped from the fit but still count in sd(Δ). Raises
    ``ValueError`` on mismatched lengths, a judged item without an answer length, an item id
    missing from ``difficulty``, or a gamed baseline with no usable (non-NaN) row,
    which would otherwise turn the fit into the unregularised one without a word; fitting
    without the prior is asked for by passing no ``gamed``.
    """
    p = np.asarray(preference, dtype=float).reshape(-1)
    lm = np.asarray(model_length, dtype=float).reshape(-1)
    lb = np.asarray(baseline_length, dtype=float).reshape(-1)
    if not p.size == lm.size == lb.size:
        raise ValueError("preference, model_length and baseline_length differ in length")
    ids = None if item_ids is None else np.asarray(item_ids).reshape(-1)
    if ids is not None and ids.size != p.size:
        raise ValueError("item_ids must have one id per preference")
    if difficulty is not None and ids is None:
        raise ValueError("difficulty is joined by item id: pass item_ids too")
    keep = ~np.isnan(p)
    if np.any((p[keep] < 0) | (p[keep] > 1)):
        raise ValueError("preferences must lie in [0, 1] (convert with alpaca_eval_preference)")
    columns = [_standardised_length_gap(lb, lm, keep)]
    if difficulty is not None:
        assert ids is not None
        gamma = lookup_by_id(ids[keep], difficulty, what="difficulty")
        columns.append(gamma)
    x_model = np.column_stack([*columns, np.ones(int(keep.sum()))])
    y_model = p[keep]
    blocks_x, blocks_y, blocks_w = [], [], []
    for index, g in enumerate(gamed):
        gp = np.asarray(g.preference, dtype=float).reshape(-1)
        gkeep = ~np.isnan(gp)
        if not gkeep.any():
            # Without usable rows the set would silently drop out and the fit would become the
            # unregularised one (17 points off on a system with very short answers, issue 20).
            raise ValueError(
                f"gamed baseline {g.name or index} has no usable rows: all {gp.size} of its "
                "preferences "
                "are NaN. Give its judged preferences (or preferences predicted from its "
                "published GLM weights), or pass gamed=() to fit without the gamed-baseline "
                "prior on purpose"
            )
        gcols = [
            # Per set, over its judged rows only: AlpacaEval's df_gamed.csv was built from
            # annotations filtered to judged rows before sd(Δ) was taken (notebook_helpers.py).
            _standardised_length_gap(
                np.asarray(g.baseline_length, float)[gkeep],
                np.asarray(g.gamed_length, float)[gkeep],
            )
        ]
        if difficulty is not None:
            gcols.append(
                lookup_by_id(
                    np.asarray(g.item_ids).reshape(-1)[gkeep], difficulty, what="difficulty"
                )
            )
        blocks_x.append(np.column_stack([*gcols, np.zeros(int(gkeep.sum()))]))
        blocks_y.append(gp[gkeep])
        blocks_w.append(np.full(int(gkeep.sum()), regularisation / len(gamed)))
    x = np.vstack([*blocks_x, x_model])
    y = np.concatenate([*blocks_y, y_model])
    base_weight = np.concatenate([*blocks_w, np.ones(y_model.size)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        coef, c = _fit_glm(x, y, base_weight, cs, n_splits)
    test = x_model.copy()
    test[:, 0] = 0.0
    predicted = _sigmoid(test @ coef)
    weights = GlmWeights(
        length=float(coef[0]),
        difficulty=float(coef[1]) if difficulty is not None else 0.0,
        model=float(coef[-1]),
    )
    interval = None
    if n_resamples > 0:
        interval = _bootstrap_lc(
            x, y, base_weight, test, c, n_resamples, confidence, seed, float(predicted.mean())
        )
    return LengthControlledFit(
        win_rate=float(predicted.mean()),
        raw=win_rate(y_model),
        weights=weights,
        C=c,
        predicted=predicted,
        interval=interval,
    )


def _bootstrap_lc(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    base_weight: NDArray[np.float64],
    test: NDArray[np.float64],
    c: float,
    n_resamples: int,
    confidence: float,
    seed: int | None,
    estimate: float,
) -> Interval:
    n_model = test.shape[0]
    n_fixed = y.size - n_model
    rng = as_rng(seed)
    counts = rng.multinomial(n_model, np.full(n_model, 1 / n_model), size=n_resamples)
    estimates = np.empty(n_resamples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        for r in range(n_resamples):  # one L1 fit per resample: liblinear has no batched form
            weight = base_weight.copy()
            weight[n_fixed:] *= counts[r]
            coef, _ = _fit_glm(x, y, weight, [c], 1)
            estimates[r] = float((_sigmoid(test @ coef) * counts[r]).sum() / n_model)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(estimates, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n_model, "bootstrap-percentile", confidence)
