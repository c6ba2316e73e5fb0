"""Pure numerics on arrays: intervals, paired tests, power, agreement, length control.

No pydantic, no store, no I/O: every function takes arrays (already joined by sample id where
two runs meet) and returns numbers or small frozen dataclasses. Each docstring states the
formula, its source and its edge cases.
"""

from assay.stats.agreement import (
    Kappa,
    PairwiseAgreement,
    agreement_table,
    cohens_kappa,
    cohens_kappa_table,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_agreement,
)
from assay.stats.bootstrap import (
    bootstrap_interval,
    cluster_bootstrap_interval,
    paired_bootstrap_interval,
    resample_means,
)
from assay.stats.clustered import (
    ClusteredStandardError,
    clustered_interval,
    clustered_standard_error,
)
from assay.stats.effective_n import (
    effective_number_of_graders,
    effective_sample_size,
    error_correlation,
)
from assay.stats.epochs import EpochVariance, epoch_variance, flaky_samples, per_sample_means
from assay.stats.intervals import (
    Interval,
    clip_to_unit,
    is_binary,
    mean_interval,
    t_interval,
    wilson_interval,
)
from assay.stats.length_control import (
    GamedBaseline,
    GlmWeights,
    LengthControlledFit,
    WinRate,
    alpaca_eval_preference,
    length_controlled_win_rate,
    lookup_by_id,
    predict_length_controlled_win_rate,
    win_rate,
)
from assay.stats.multiple import Correction, adjust_p_values
from assay.stats.paired import (
    McNemarResult,
    PairedDifference,
    SignFlipTest,
    mcnemar_exact,
    mcnemar_exact_counts,
    paired_difference,
    sign_flip_test,
)
from assay.stats.paired_intervals import (
    newcombe_paired_interval,
    paired_proportion_difference,
    tango_interval,
    unpaired_proportion_difference,
)
from assay.stats.power import (
    EpochOption,
    EpochPlan,
    PairedVariance,
    best_epochs,
    estimate_paired_variance,
    minimum_detectable_effect,
    paired_minimum_detectable_effect,
    paired_power,
    paired_sample_size,
    two_proportion_mde,
    two_proportion_sample_size,
)
from assay.stats.ppi import PredictionPowered, prediction_powered_mean
from assay.stats.proportions import subset_z_score
from assay.stats.verdicts import (
    FAILING,
    IMPROVED,
    MIXED,
    NO_DIFFERENCE,
    REGRESSED,
    UNDERPOWERED,
    VerdictLabel,
    overall_verdict,
    slice_regressed,
    verdict,
)

__all__ = [
    "FAILING",
    "IMPROVED",
    "MIXED",
    "NO_DIFFERENCE",
    "REGRESSED",
    "UNDERPOWERED",
    "ClusteredStandardError",
    "Correction",
    "EpochOption",
    "EpochPlan",
    "EpochVariance",
    "GamedBaseline",
    "GlmWeights",
    "Interval",
    "Kappa",
    "LengthControlledFit",
    "McNemarResult",
    "PairedDifference",
    "PairedVariance",
    "PairwiseAgreement",
    "PredictionPowered",
    "SignFlipTest",
    "VerdictLabel",
    "WinRate",
    "adjust_p_values",
    "agreement_table",
    "alpaca_eval_preference",
    "best_epochs",
    "bootstrap_interval",
    "clip_to_unit",
    "cluster_bootstrap_interval",
    "clustered_interval",
    "clustered_standard_error",
    "cohens_kappa",
    "cohens_kappa_table",
    "effective_number_of_graders",
    "effective_sample_size",
    "epoch_variance",
    "error_correlation",
    "estimate_paired_variance",
    "flaky_samples",
    "fleiss_kappa",
    "is_binary",
    "krippendorff_alpha",
    "length_controlled_win_rate",
    "lookup_by_id",
    "mcnemar_exact",
    "mcnemar_exact_counts",
    "mean_interval",
    "minimum_detectable_effect",
    "newcombe_paired_interval",
    "overall_verdict",
    "paired_bootstrap_interval",
    "paired_difference",
    "paired_minimum_detectable_effect",
    "paired_power",
    "paired_proportion_difference",
    "paired_sample_size",
    "pairwise_agreement",
    "per_sample_means",
    "predict_length_controlled_win_rate",
    "prediction_powered_mean",
    "resample_means",
    "sign_flip_test",
    "slice_regressed",
    "subset_z_score",
    "t_interval",
    "tango_interval",
    "two_proportion_mde",
    "two_proportion_sample_size",
    "unpaired_proportion_difference",
    "verdict",
    "wilson_interval",
    "win_rate",
]
