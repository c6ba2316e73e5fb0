"""What the compare page shows around ``assay compare``'s numbers: the headline sentence naming
both runs by label, the prompt change as one word diff, each interval's method in words, the
judges' certificate badges and each run's usage totals. Presentation only: the figures come
from :mod:`assay.analyse` (the comparison, :mod:`assay.analyse.run_labels`,
:mod:`assay.analyse.ab`)."""

from __future__ import annotations

from typing import Any

from assay.analyse import ab
from assay.store import Store
from assay.web import fmt
from assay.web.run_memo import MEMO


def _manifest(store: Store, run_id: str) -> Any:
    """A run's manifest (kept while the run is unchanged: parsing one costs milliseconds)."""
    return MEMO.get(store, (run_id,), ("manifest",), lambda: store.get_manifest(run_id))


def _usage(store: Store, run_id: str) -> dict[str, Any]:
    """A run's usage totals (kept while the run is unchanged)."""
    value: dict[str, Any] = MEMO.get(
        store, (run_id,), ("usage",), lambda: ab.usage_totals(store, run_id)
    )
    return value


# -- headline, labels, prompt change ---------------------------------------------------------


def run_labels(store: Store, run_a: str, run_b: str) -> dict[str, dict[str, Any]]:
    """Both runs' labels (:func:`assay.analyse.run_labels.label_runs`) as dicts."""
    from assay.analyse.run_labels import label_runs

    labels = label_runs(store, [run_a, run_b])
    return {r: labels[r].as_dict() for r in (run_a, run_b) if r in labels}


def worst_slice(cmp: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The regressed slice with the most negative difference over every metric (the one a
    ``mixed: slice regression`` verdict is about), as ``(metric, group)``; None when no slice
    regressed."""
    found = None
    for metric in cmp["metrics"]:
        for group in metric["groups"][1:]:
            if group["group"] not in metric["regressed_slices"] or group["difference"] is None:
                continue
            if found is None or group["difference"] < found[1]["difference"]:
                found = (metric, group)
    return found


def _figure(metric: dict[str, Any], group: dict[str, Any]) -> str:
    rate = fmt.is_rate(group["mean_a"], group["mean_b"])
    text = fmt.delta(group["difference"], rate).replace("-", "−")
    return f"{text} pts" if rate else text


def headline(cmp: dict[str, Any], name_a: str, name_b: str) -> str:
    """The sentence at the top of compare: ``v2 vs v1: mixed: slice regression, sequences
    −6.8 pts``. After the verdict comes the figure behind it: for ``improved`` or
    ``regressed`` the aggregate difference of the first metric with that verdict
    (``regressed, exact −12.0 pts``); otherwise the worst regressed slice, if any (its value
    and difference B − A, with the scorer when the metrics disagree about it)."""
    sentence = f"{name_b} vs {name_a}: {cmp['verdict']}"
    if cmp["verdict"] in ("improved", "regressed"):
        for metric in cmp["metrics"]:
            if metric["verdict"] == cmp["verdict"]:
                return f"{sentence}, {metric['scorer']} {_figure(metric, metric['groups'][0])}"
    worst = worst_slice(cmp)
    if worst is None:
        return sentence
    metric, group = worst
    label = group["slice_value"] or group["group"]
    # Name the scorer only when another metric tells a different story for this slice.
    others = {
        round(g["difference"], 9)
        for m in cmp["metrics"]
        for g in m["groups"][1:]
        if g["group"] == group["group"] and g["difference"] is not None
    }
    scorer = f" ({metric['scorer']})" if len(others) > 1 else ""
    return f"{sentence}, {label} {_figure(metric, group)}{scorer}"


def prompt_change(cmp: dict[str, Any]) -> dict[str, Any] | None:
    """The prompt change between the runs as one word diff: the first changed prompt template
    in the manifest diff (else the first changed prompt text), with its path."""
    texts = [
        c
        for c in cmp["changes"]
        if c["category"] == "prompt"
        and isinstance(c.get("before"), str)
        and isinstance(c.get("after"), str)
        and not c["path"].endswith("_hash")
    ]
    if not texts:
        return None
    chosen = next((c for c in texts if c["path"].endswith("prompt_template")), texts[0])
    return {
        "path": chosen["path"],
        "also": [c["path"] for c in texts if c is not chosen and c["after"] != chosen["after"]],
        "diff": ab.word_diff(chosen["before"], chosen["after"]),
    }


_BOOTSTRAP = {
    "paired-cluster-bootstrap-percentile": "cluster bootstrap, percentile",
    "paired-bootstrap-bca": "bootstrap, BCa",
    "paired-bootstrap-percentile": "bootstrap, percentile",
}


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else f"{noun}s"


def method_text(group: dict[str, Any], cluster_key: str | None, confidence: float) -> str:
    """The method an interval was computed with, in words, from what the analysis recorded:
    ``clustered over 15 templates (CR2)``, ``McNemar exact test, Tango score interval``,
    ``paired t``."""
    method = (group.get("interval") or {}).get("method") or group.get("test") or ""
    n_clusters = group.get("n_clusters")
    if method == "clustered-cr2" and n_clusters:
        noun = _plural(cluster_key) if cluster_key else "clusters"
        return f"clustered over {n_clusters} {noun} (CR2)"
    if group.get("test") == "mcnemar-exact":
        return "McNemar exact test, Tango score interval"
    if method == "paired-t":
        return "paired t"
    return method


def annotate_methods(cmp: dict[str, Any], cluster_key: str | None) -> None:
    """Add ``method_text`` and ``bootstrap_text`` to every group of a page's copy of the
    comparison (the API's copy stays what ``assay compare --json`` prints)."""
    confidence = cmp["settings"]["confidence"]
    for metric in cmp["metrics"]:
        for g in metric["groups"]:
            g["method_text"] = method_text(g, cluster_key, confidence)
            b = g.get("bootstrap")
            if b:
                name = _BOOTSTRAP.get(b["method"], b["method"])
                g["bootstrap_text"] = f"{name} {100 * confidence:.0f}%"


def compare_extras(store: Store, cmp: dict[str, Any], base: str = "") -> dict[str, Any]:
    """What the compare page shows around ``assay compare``'s numbers: both runs' labels and
    the headline, the prompt change as a word diff, the judge-certificate badges, each run's
    usage totals. Also annotates ``cmp``'s groups with their interval methods in words."""
    from assay.web.trust import badges_by_scorer, manifest_badges

    run_a, run_b = cmp["run_a"]["id"], cmp["run_b"]["id"]
    labels = run_labels(store, run_a, run_b)
    name_a = labels.get(run_a, {}).get("short") or run_a
    name_b = labels.get(run_b, {}).get("short") or run_b
    if name_a == name_b:
        name_a, name_b = f"{name_a} ({run_a})", f"{name_b} ({run_b})"
    manifest_a, manifest_b = _manifest(store, run_a), _manifest(store, run_b)
    annotate_methods(cmp, manifest_a.cluster or manifest_b.cluster)
    certificates = store.list_certificates() if manifest_a.judges or manifest_b.judges else []
    badges_a = manifest_badges(manifest_a, certificates)
    badges_b = manifest_badges(manifest_b, certificates)
    return {
        "base": base,
        "labels": labels,
        "headline": headline(cmp, name_a, name_b),
        "prompt": prompt_change(cmp),
        "badges": {"a": badges_a, "b": badges_b},
        "badges_by_scorer": badges_by_scorer(
            list({(b.judge, b.model, b.certificate_id): b for b in [*badges_b, *badges_a]}.values())
        ),
        "usage": {"a": _usage(store, run_a), "b": _usage(store, run_b)},
    }
