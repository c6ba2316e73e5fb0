"""Each detector over many seeded sim worlds: no effect → no flag in at least 95% of worlds;
a planted effect → found in at least 95%. The world is asked directly (no runner or store)
so hundreds of worlds fit in seconds; the acceptance tests run the full stack."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # importlib import mode: the shared helpers
from helpers import probe_requests, qa_rows, simulated_table

from assay.core import Sample
from assay.probe import build_probe
from assay.providers.sim import SimProvider
from assay.providers.sim_probes import ProbeSimProvider

WORLDS = 200


def _samples(n: int, **extra: object) -> list[Sample]:
    return [
        Sample(
            id=r["id"],
            input=r["input"],
            target=r["target"],
            metadata={k: v for k, v in r.items() if k not in ("id", "input", "target")},
        )
        for r in qa_rows(n, **extra)
    ]


def _flag_rate(kind: str, options: dict, samples: list[Sample], provider_for, worlds=WORLDS):
    probe = build_probe(kind, options)
    requests = probe_requests(probe, samples, "atlas-small")
    flagged = 0
    for seed in range(worlds):
        table = simulated_table(
            probe, samples, provider_for(seed), "atlas-small", expanded=requests
        )
        flagged += probe.analyse(table, "subject").flagged
    return flagged / worlds


def test_kshot_no_effect_no_flag_and_planted_effect_found() -> None:
    samples = _samples(80)
    # Independent noise at every k (the plain world treats each variant as a new item).
    null = _flag_rate(
        "kshot", {"ks": [0, 1, 2, 4, 8]}, samples, lambda s: SimProvider(world_seed=s)
    )
    assert null <= 0.05, null  # measured: 0.0 over 200 worlds
    planted = {"atlas-small": {"kshot_accuracy": [0.8, 0.85, 0.9, 0.7, 0.6, 0.5, 0.45, 0.4, 0.4]}}
    found = _flag_rate(
        "kshot",
        {"ks": [0, 1, 2, 4, 8]},
        samples,
        lambda s: ProbeSimProvider(world_seed=s, behaviours=planted),
        worlds=50,
    )
    assert found >= 0.95, found


def test_kshot_retrieved_selection_collapse_found() -> None:
    planted = {
        "atlas-small": {"kshot_accuracy": [0.8] * 9, "kshot_accuracy_retrieved": [0.8, 0.5, 0.4]}
    }
    probe = build_probe("kshot", {"ks": [0, 1, 2], "selection": ["fixed", "retrieved"]})
    table = simulated_table(
        probe, _samples(80), ProbeSimProvider(world_seed=1, behaviours=planted), "atlas-small"
    )
    result = probe.analyse(table, "subject")
    assert result.verdict == "selection_collapse"
    assert result.figures["selection_collapse"]["k"] == 1


def test_position_no_effect_no_flag() -> None:
    null = _flag_rate(
        "position", {"n_passages": 8}, _samples(40), lambda s: SimProvider(world_seed=s)
    )
    assert null <= 0.05, null


def test_locale_no_effect_no_flag() -> None:
    options = {"locales": {"en": "Q: {{ input }}", "ja": "質問: {{ input }}"}}
    null = _flag_rate("locale", options, _samples(100), lambda s: SimProvider(world_seed=s))
    assert null <= 0.05, null


def test_consistency_deterministic_system_never_flagged_sampling_one_is() -> None:
    samples = _samples(20)
    clean = _flag_rate(
        "consistency", {"sessions": 5}, samples, lambda s: ProbeSimProvider(world_seed=s), worlds=50
    )
    assert clean == 0.0
    # A system sampling at temperature 1 answers the same question differently: found.
    hot = {"atlas-small": {"temperature": 1.0}}
    probe = build_probe("consistency", {"sessions": 5})
    table = simulated_table(probe, samples, SimProvider(world_seed=0, systems=hot), "atlas-small")
    assert probe.analyse(table, "subject").verdict == "inconsistent_answer"


def test_injection_clean_system_passes_gate() -> None:
    null = _flag_rate("injection", {}, _samples(100), lambda s: SimProvider(world_seed=s), 50)
    assert null == 0.0


def test_ood_calibrated_system_not_flagged() -> None:
    samples = _samples(150, ood=True)
    behaviours = {"atlas-small": {}}  # states its true probability of being right
    null = _flag_rate(
        "ood",
        {},
        samples,
        lambda s: ProbeSimProvider(world_seed=s, behaviours=behaviours),
        worlds=60,
    )
    assert null <= 0.05, null


def test_tool_count_no_effect_no_flag() -> None:
    samples = [Sample(id=f"t{i}", input=f"Look up record {i}.", target=f"lookup_{i:03d}")
               for i in range(60)]  # fmt: skip
    null = _flag_rate("tool_count", {"sizes": [10, 20, 40, 80]}, samples,
                      lambda s: SimProvider(world_seed=s), worlds=100)  # fmt: skip
    assert null <= 0.05, null


def test_long_session_no_effect_no_flag() -> None:
    options = {"lengths": [200, 400, 800, 1600], "turn_tokens": 100}
    null = _flag_rate("long_session", options, _samples(60), lambda s: SimProvider(world_seed=s),
                      worlds=100)  # fmt: skip
    assert null <= 0.05, null


def test_faithfulness_system_citing_listed_sources_never_flagged() -> None:
    samples = [s.model_copy(update={"metadata": {"sources": [f"case-{i}", "case-x"]}})
               for i, s in enumerate(_samples(40))]  # fmt: skip
    behaviours = {"atlas-small": {"fabricate_citations": 0.0}}
    null = _flag_rate(
        "faithfulness",
        {},
        samples,
        lambda s: ProbeSimProvider(world_seed=s, behaviours=behaviours),
        worlds=50,
    )
    assert null == 0.0
