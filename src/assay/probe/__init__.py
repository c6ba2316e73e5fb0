"""Probes: experiment types over the runner (issue 16).

A probe expands an eval into variants (k examples, passage positions, sessions, locales, …),
runs them as one stored run with the variant as a slice, and analyses it into a curve with
intervals, a verdict and the figure the verdict rests on. See :mod:`assay.probe.base`.

Built-in kinds: ``kshot`` (B8), ``position`` (F6), ``consistency`` (F7), ``locale`` (G5),
``long_session`` (G6), ``tool_count`` (J7), ``injection`` (J8), ``ood`` (D9),
``faithfulness`` and ``step_perturbation`` (C10); the confound guard (B6) is
:mod:`assay.probe.guard`. The simulated world's probe behaviours are in
:mod:`assay.providers.sim_probes` (provider kind ``sim_probes``).
"""

from assay.probe import (  # noqa: F401  (registers the built-in kinds)
    consistency,
    faithfulness,
    injection,
    kshot,
    locale,
    long_session,
    ood,
    position,
    steps,
    tool_count,
)
from assay.probe.base import (
    CurvePoint,
    Probe,
    ProbeOptions,
    ProbeResult,
    ProbeTable,
    probe_class,
    probe_kinds,
    register_probe,
)
from assay.probe.guard import (
    CovariateBalance,
    InBandLeakageError,
    check_in_band_leakage,
    covariate_balance,
)
from assay.probe.runner import (
    ProbeRun,
    analyse_probe_run,
    build_probe,
    load_probe,
    probe_eval,
    read_table,
    run_probe,
)
from assay.providers.registry import register_provider_kind
from assay.providers.sim_probes import create_probe_sim_provider

# The sim world's probe behaviours, for probe specs in this process (the `assay.providers`
# entry point in pyproject.toml registers the same kind for `assay run`).
register_provider_kind("sim_probes", create_probe_sim_provider)

__all__ = [
    "CovariateBalance",
    "CurvePoint",
    "InBandLeakageError",
    "Probe",
    "ProbeOptions",
    "ProbeResult",
    "ProbeRun",
    "ProbeTable",
    "analyse_probe_run",
    "build_probe",
    "check_in_band_leakage",
    "covariate_balance",
    "load_probe",
    "probe_class",
    "probe_eval",
    "probe_kinds",
    "read_table",
    "register_probe",
    "run_probe",
]
