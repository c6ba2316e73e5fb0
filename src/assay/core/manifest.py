"""Run manifests (A1) and the "what changed" diff between two of them (G2).

A manifest records everything a run's numbers depend on. Its ``fingerprint`` is the content
hash of all of that except the run's own id and clock times, so changing any recorded input
(a prompt, a parameter, the resolved model snapshot, the dataset, a scorer version, the code)
changes the fingerprint, while re-running the same thing on the same substrate does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.core.hashing import content_hash


class DatasetManifest(BaseModel):
    """The dataset a run used: its content hash and the ids of the samples in it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str | None = None
    content_hash: str
    n_samples: int
    sample_ids: list[str]


class SubjectManifest(BaseModel):
    """One subject: what was asked for and what actually served it.

    ``requested_model`` is the configured name (possibly an alias); ``resolved_models`` and
    ``system_fingerprints`` are every distinct value the responses reported, in order of first
    appearance, so a silent upgrade mid-run shows as two entries.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    provider: str | None = None
    requested_model: str | None = None
    resolved_models: list[str] = Field(default_factory=list)
    system_fingerprints: list[str] = Field(default_factory=list)
    prompt_template: str | None = None
    prompt_hash: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class ScorerManifest(BaseModel):
    """A scorer and the version of its grading logic.

    ``kind`` is the registry name that builds it (``exact``), so a run can be re-scored or
    replayed from its manifest; ``name`` is how its scores are labelled.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    kind: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class JudgeManifest(BaseModel):
    """A judge: its model, resolved snapshot(s), prompt hash and parameters (C5).

    ``name`` is the scorer or judge subject it belongs to (``quality``; ``quality[1]`` for the
    second member of a panel). ``model`` is the requested model and ``provider`` the provider
    it was sent to; ``resolved_models`` and ``system_fingerprints`` are every distinct value
    its responses reported, in order of first appearance, so a judge upgraded mid-run shows two
    entries. ``kind`` is ``pointwise`` or ``pairwise``. ``family`` is the judge's model lineage
    (C3) and ``same_lineage`` the graded models that share it (a ``same_lineage_judge``
    warning). ``cache_namespace`` says where its cached responses live (for offline replay);
    ``None`` when they are not cached (the simulated world).
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str
    provider: str | None = None
    kind: str | None = None
    resolved_models: list[str] = Field(default_factory=list)
    system_fingerprints: list[str] = Field(default_factory=list)
    prompt_template: str | None = None
    prompt_hash: str
    params: dict[str, Any] = Field(default_factory=dict)
    family: list[str] = Field(default_factory=list)
    same_lineage: list[str] = Field(default_factory=list)
    cache_namespace: str | None = None
    #: The judge's scores of the spec's anchor set (``anchors:``: frozen input/output pairs
    #: re-scored on every run) and their fingerprint with the resolved snapshots (C5); ``None``
    #: and empty when the run had no anchor set.
    anchor_fingerprint: str | None = None
    anchor_scores: dict[str, float] = Field(default_factory=dict)


class EnvironmentManifest(BaseModel):
    """The code that produced the run: assay's version, the project's git sha, tool versions."""

    model_config = ConfigDict(extra="forbid")

    assay_version: str
    git_sha: str
    python: str
    platform: str
    tool_versions: dict[str, str] = Field(default_factory=dict)


class RunManifest(BaseModel):
    """Everything a run's numbers depend on (A1)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    name: str
    spec_hash: str
    dataset: DatasetManifest
    subjects: list[SubjectManifest]
    scorers: list[ScorerManifest]
    judges: list[JudgeManifest] = Field(default_factory=list)
    embedding_model: str | None = None
    index_snapshot: str | None = None
    epochs: int
    seed: int
    slices: list[str] = Field(default_factory=list)
    cluster: str | None = None
    environment: EnvironmentManifest
    started_at: datetime
    finished_at: datetime | None = None
    #: What was redacted before anything was stored (``redact_pii``), or ``None``.
    redaction: str | None = None

    def identity(self) -> dict[str, Any]:
        """The manifest without its run id and clock times: what the fingerprint covers
        (``redaction`` only when set, so manifests from before the field keep their
        fingerprint)."""
        data = self.model_dump(mode="json")
        for key in ("run_id", "started_at", "finished_at"):
            data.pop(key, None)
        if data.get("redaction") is None:
            data.pop("redaction", None)
        for judge in data.get("judges", []):
            if judge.get("anchor_fingerprint") is None and not judge.get("anchor_scores"):
                judge.pop("anchor_fingerprint", None)
                judge.pop("anchor_scores", None)
        return data

    @property
    def fingerprint(self) -> str:
        """``run_fingerprint``: SHA-256 of the canonical JSON of :meth:`identity`."""
        return content_hash(self.identity())


class ManifestChange(BaseModel):
    """One difference between two manifests.

    ``rank`` orders changes by how likely they are to explain a change in the numbers (a moved
    model snapshot first, then the prompt, parameters, judge, scorers, data, and finally the
    code and bookkeeping), so the first line of a diff is usually the answer.
    """

    model_config = ConfigDict(extra="forbid")

    path: str
    category: str
    rank: int
    before: Any = None
    after: Any = None


# Category, rank and a predicate on the dotted path. The first match wins.
_RULES: list[tuple[str, int, tuple[str, ...]]] = [
    ("model snapshot", 0, ("resolved_models", "system_fingerprints")),
    ("prompt", 1, ("prompt_hash", "prompt_template", "config.user", "config.system")),
    ("model", 2, ("requested_model", ".provider")),
    ("parameters", 3, ("params",)),
    ("judge", 4, ("judges",)),
    ("scorers", 5, ("scorers",)),
    ("subject config", 6, ("subjects",)),
    ("dataset", 7, ("dataset",)),
    ("retrieval", 8, ("embedding_model", "index_snapshot")),
    ("sampling", 9, ("epochs", "seed", "slices", "cluster")),
    ("code", 10, ("environment",)),
]


def _categorise(path: str) -> tuple[str, int]:
    if path.startswith("judges."):
        # A judge whose snapshot moved explains a change in its scores as surely as a moved
        # subject model does (C5); any other judge change ranks with the judge config.
        if path.endswith(("resolved_models", "system_fingerprints")):
            return "judge snapshot", 0
        return "judge", 4
    for category, rank, needles in _RULES:
        if any(needle in path for needle in needles):
            return category, rank
    return "other", 11


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _keyed_subjects(data: dict[str, Any]) -> dict[str, Any]:
    # Subjects (and judges) are matched by name, not by list position.
    for key in ("subjects", "judges", "scorers"):
        items = data.get(key)
        if isinstance(items, list):
            data[key] = {str(item.get("name", i)): item for i, item in enumerate(items)}
    return data


def diff_manifests(before: RunManifest, after: RunManifest) -> list[ManifestChange]:
    """What differs between two runs' manifests, most explanatory first.

    Lists are compared whole (the sample-id list is one change, not thousands); the derived
    ``spec_hash`` is left out because its parts are compared one by one. Subjects,
    judges and scorers are matched by name. Run ids and clock times are not differences.
    """
    flat_a: dict[str, Any] = {}
    flat_b: dict[str, Any] = {}
    _flatten(_keyed_subjects(before.identity()), "", flat_a)
    _flatten(_keyed_subjects(after.identity()), "", flat_b)
    # spec_hash summarises fields that are diffed one by one; listing it would only add noise.
    flat_a.pop("spec_hash", None)
    flat_b.pop("spec_hash", None)
    changes = []
    for path in sorted(set(flat_a) | set(flat_b)):
        a, b = flat_a.get(path), flat_b.get(path)
        if a == b:
            continue
        category, rank = _categorise(path)
        changes.append(ManifestChange(path=path, category=category, rank=rank, before=a, after=b))
    changes.sort(key=lambda c: (c.rank, c.path))
    return changes


class JudgeChange(BaseModel):
    """A ``judge_changed`` flag (C5): a judge that did not stay the same instrument.

    ``within_run`` is true when one run's responses came from more than one snapshot (or
    backend fingerprint); otherwise the judge differs between two compared runs. ``reason`` is
    ``snapshot``, ``fingerprint``, ``model`` (the requested model itself changed) or
    ``anchors`` (same model and snapshot, but its scores of the anchor set moved: a silent
    change behind an unchanged name).
    """

    model_config = ConfigDict(extra="forbid")

    judge: str
    reason: str
    within_run: bool
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)

    @property
    def flag(self) -> str:
        return "judge_changed"

    def describe(self) -> str:
        """One line for a terminal."""
        what = {
            "snapshot": "resolved snapshot",
            "fingerprint": "system_fingerprint",
            "anchors": "anchor-set fingerprint (same snapshot, different scores)",
        }.get(self.reason, "requested model")
        if self.within_run:
            return f"judge_changed: judge {self.judge!r} {what} changed within the run: " + (
                " -> ".join(self.after)
            )
        return (
            f"judge_changed: judge {self.judge!r} {what} differs between the runs: "
            f"{', '.join(self.before) or '-'} -> {', '.join(self.after) or '-'}"
        )


def judge_changes(after: RunManifest, before: RunManifest | None = None) -> list[JudgeChange]:
    """Every ``judge_changed`` flag of a run, and against an earlier run when one is given.

    Within a run, a judge with more than one resolved snapshot (or system fingerprint) changed
    under the run. Between runs, judges are matched by name: a different requested model, a
    different set of resolved snapshots or of fingerprints is a change. A judge present in only
    one of the runs is a configuration difference (``diff_manifests`` lists it), not a flag.
    """
    changes: list[JudgeChange] = []
    for judge in after.judges:
        if len(judge.resolved_models) > 1:
            changes.append(
                JudgeChange(
                    judge=judge.name,
                    reason="snapshot",
                    within_run=True,
                    after=list(judge.resolved_models),
                )
            )
        elif len(judge.system_fingerprints) > 1:
            changes.append(
                JudgeChange(
                    judge=judge.name,
                    reason="fingerprint",
                    within_run=True,
                    after=list(judge.system_fingerprints),
                )
            )
    if before is None:
        return changes
    earlier = {j.name: j for j in before.judges}
    for judge in after.judges:
        old = earlier.get(judge.name)
        if old is None:
            continue
        if old.model != judge.model:
            reason, a, b = "model", [old.model], [judge.model]
        elif set(old.resolved_models) != set(judge.resolved_models):
            reason, a, b = "snapshot", old.resolved_models, judge.resolved_models
        elif set(old.system_fingerprints) != set(judge.system_fingerprints):
            reason, a, b = "fingerprint", old.system_fingerprints, judge.system_fingerprints
        elif (
            old.anchor_fingerprint
            and judge.anchor_fingerprint
            and old.anchor_fingerprint != judge.anchor_fingerprint
            and set(old.anchor_scores) == set(judge.anchor_scores)
        ):
            reason, a, b = "anchors", [old.anchor_fingerprint], [judge.anchor_fingerprint]
        else:
            continue
        changes.append(
            JudgeChange(
                judge=judge.name, reason=reason, within_run=False, before=list(a), after=list(b)
            )
        )
    return changes
