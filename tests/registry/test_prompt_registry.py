"""K1: prompt versions with a rationale per change, labels in specs, blame, and promote's
``unevaluated_change`` guard."""

from __future__ import annotations

import pytest
from tests.registry.world import TRIGGER, write_world

from assay.core import AssayError, text_hash
from assay.registry.prompts import (
    PromotionRefused,
    blame,
    commit,
    get_changes,
    get_version,
    pending_edits,
    promote,
    promotions,
)
from assay.run import load_eval, run

V1 = "You are a support agent.\nBe polite.\nQuestion: {{ input }}\n"
V2 = "You are a support agent.\nBe polite and brief.\nCite the policy.\nQuestion: {{ input }}\n"
V3_BAD = (
    f"You are a support agent.\nAnswer {TRIGGER}.\nCite the policy.\nQuestion: {{{{ input }}}}\n"
)


def test_commit_records_hash_author_and_a_rationale_per_change(store) -> None:  # type: ignore[no-untyped-def]
    v1 = commit(store, "support", V1, author="ana", rationales=["first"], cases=["q1"])
    assert v1.version == 1 and v1.content_hash == text_hash(V1) and v1.cases == ["q1"]
    edits = pending_edits(store, "support", V2)
    assert [(e.kind, e.after_text.strip()) for e in edits] == [
        ("changed", "Be polite and brief."),
        ("added", "Cite the policy."),
    ]
    with pytest.raises(AssayError, match="2 change\\(s\\) but 3 rationales"):
        commit(store, "support", V2, author="bo", rationales=["a", "b", "c"])
    with pytest.raises(AssayError, match="no rationale"):
        commit(store, "support", V2, author="bo", rationales=[])
    commit(store, "support", V2, author="bo", rationales=["tickets ran long", "legal asked"])
    assert [(c.position, c.kind, c.rationale) for c in get_changes(store, "support", 2)] == [
        (1, "changed", "tickets ran long"),
        (2, "added", "legal asked"),
    ]
    with pytest.raises(AssayError, match="already has exactly this text"):
        commit(store, "support", V2, author="bo", rationales=["again"])


def test_blame_names_the_change_and_rationale_behind_each_clause(store) -> None:  # type: ignore[no-untyped-def]
    commit(store, "support", V1, author="ana", rationales=["first"])
    commit(store, "support", V2, author="bo", rationales=["tickets ran long", "legal asked"])
    lines = blame(store, "support")
    assert [(line.clause.strip(), line.version, line.rationale) for line in lines] == [
        ("You are a support agent.", 1, "first"),
        ("Be polite and brief.", 2, "tickets ran long"),
        ("Cite the policy.", 2, "legal asked"),
        ("Question: {{ input }}", 1, "first"),
    ]
    assert lines[2].author == "bo"


def registry_url(backend) -> str:  # type: ignore[no-untyped-def]
    """The test store's URL as ``$ASSAY_DB`` (PostgreSQL: with the test's schema)."""
    from urllib.parse import quote

    options = backend.connect_args.get("options")
    return backend.url + (f"?options={quote(options)}" if options else "")


def _spec_run(store, backend, tmp_path, monkeypatch, ref: str) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    spec = write_world(tmp_path, n=150, prompt_line=f"prompt: registry:{ref}")
    outcome = run(load_eval(spec), db=store)
    assert outcome.status == "completed"
    return outcome.run_id


def test_promote_refuses_unevaluated_change_then_accepts_an_evaluated_one(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    commit(store, "support", V1, author="ana", rationales=["first"])
    first = promote(store, "support@1", label="production", actor="ana", reason="launch")
    assert first["verdict"] == "first"
    commit(store, "support", V2, author="bo", rationales=["brief", "legal"])
    with pytest.raises(PromotionRefused) as refused:
        promote(store, "support@2", label="production", actor="bo", reason="ship it")
    assert refused.value.reason == "unevaluated_change"
    assert "support@2" in str(refused.value) and "support@1" in str(refused.value)

    # A spec resolves the label: the run's manifest pins the exact version's hash.
    baseline = _spec_run(store, backend, tmp_path, monkeypatch, "support@production")
    assert store.get_manifest(baseline).subjects[0].prompt_hash == text_hash(V1)
    candidate = _spec_run(store, backend, tmp_path, monkeypatch, "support@2")
    record = promote(store, "support@2", label="production", actor="bo", reason="evaluated")
    assert record["run_id"] == candidate and record["baseline_run_id"] == baseline
    assert record["verdict"] not in ("regressed", "mixed: slice regression")
    assert get_version(store, "support@production").version == 2
    assert get_version(store, "support@2").approved_run == candidate
    assert [p["actor"] for p in promotions(store, "support")] == ["ana", "bo"]


def test_promote_refuses_a_regressed_candidate_unless_forced(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    commit(store, "support", V1, author="ana", rationales=["first"])
    promote(store, "support@1", label="production", actor="ana", reason="launch")
    commit(store, "support", V3_BAD, author="cy", rationales=["shorter", "legal"])
    _spec_run(store, backend, tmp_path, monkeypatch, "support@production")
    _spec_run(store, backend, tmp_path, monkeypatch, "support@2")
    with pytest.raises(PromotionRefused) as refused:
        promote(store, "support@2", label="production", actor="cy", reason="looks fine")
    assert refused.value.reason == "regressed"
    forced = promote(
        store, "support@2", label="production", actor="cy", reason="hotfix", force=True
    )
    assert forced["verdict"] == "forced" and forced["reason"] == "[forced] hotfix"


def test_an_unknown_label_in_a_spec_names_the_spec_line(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    commit(store, "support", V1, author="ana", rationales=["first"])
    spec = write_world(tmp_path, n=5, prompt_line="prompt: registry:support@staging")
    with pytest.raises(AssayError) as error:
        load_eval(spec)
    assert "eval.yaml:8" in str(error.value) and "no label 'staging'" in str(error.value)


def test_export_then_import_replays_versions_and_rationales(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from assay.registry.yaml_io import export_prompts, import_prompts
    from assay.run.yamlfile import load_yaml, parse_yaml
    from assay.store import Store

    commit(store, "support", V1, author="ana", rationales=["first"], cases=["q1"])
    promote(store, "support@1", label="production", actor="ana", reason="launch")
    commit(store, "support", V2, author="bo", rationales=["brief", "legal"])
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(export_prompts(store)))
    with Store(tmp_path / "other.db") as other:
        result = import_prompts(other, load_yaml(path))
        assert result == {
            "added": ["support@1", "support@2"],
            "skipped": [],
            "labels_to_promote": {"support@production": 1},
        }
        assert [c.rationale for c in get_changes(other, "support", 2)] == ["brief", "legal"]
        assert get_version(other, "support@2").content_hash == text_hash(V2)
        again = import_prompts(other, load_yaml(path))
        assert again["skipped"] == ["support@1", "support@2"]
    bad = parse_yaml("prompts:\n  support:\n    versions:\n      - {version: 1}\n", "p.yaml")
    with pytest.raises(AssayError, match=r"p.yaml:4 .*needs `content`"):
        import_prompts(store, bad)


def test_a_registry_prompt_used_as_the_system_message_counts_as_evaluated(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The runner hashes system and user text together; evidence still finds a version used
    as the `system:` part, and only pairs runs whose other (user) part is the same."""
    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    commit(store, "persona", "You are terse.", author="ana", rationales=["first"])
    promote(store, "persona@1", label="production", actor="ana", reason="launch")
    commit(store, "persona", "You are terse and polite.", author="bo", rationales=["polite"])

    def system_run(ref: str, user: str) -> str:
        line = f"system: registry:{ref}\n    prompt: {user!r}"
        spec = write_world(tmp_path, n=60, prompt_line=line)
        outcome = run(load_eval(spec), db=store)
        assert outcome.status == "completed"
        return outcome.run_id

    system_run("persona@production", "Q: {{ input }}")
    system_run("persona@2", "Question: {{ input }}")  # another user prompt: confounded
    with pytest.raises(PromotionRefused) as refused:
        promote(store, "persona@2", label="production", actor="bo", reason="confounded")
    assert refused.value.reason == "unevaluated_change"

    candidate = system_run("persona@2", "Q: {{ input }}")
    record = promote(store, "persona@2", label="production", actor="bo", reason="evaluated")
    assert record["run_id"] == candidate
    assert get_version(store, "persona@production").version == 2


def test_import_with_promote_moves_labels_under_the_same_rules(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from assay.registry.yaml_io import apply_labels, export_prompts, import_prompts
    from assay.run.yamlfile import load_yaml
    from assay.store import Store

    commit(store, "support", V1, author="ana", rationales=["first"])
    promote(store, "support@1", label="production", actor="ana", reason="launch")
    commit(store, "support", V2, author="bo", rationales=["brief", "legal"])
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(export_prompts(store)))
    with Store(tmp_path / "other.db") as other:
        labels = import_prompts(other, load_yaml(path))["labels_to_promote"]
        assert apply_labels(other, labels, actor="ci", reason="restore") == {
            "support@production": "first"
        }
        assert get_version(other, "support@production").version == 1
        assert promotions(other, "support")[0]["reason"] == "[import] restore"
        assert apply_labels(other, labels, actor="ci", reason="again") == {
            "support@production": "unchanged"
        }
        # A file that moves the label to @2 is refused here as by hand: no stored evaluation.
        moved = apply_labels(other, {"support@production": 2}, actor="ci", reason="move")
        assert moved == {"support@production": "refused: unevaluated_change"}
        assert get_version(other, "support@production").version == 1


@pytest.mark.parametrize("first", [True, False])
def test_a_promotion_that_loses_a_race_fails_and_overwrites_nothing(
    store, monkeypatch, first
) -> None:  # type: ignore[no-untyped-def]
    """Two promotions of one label at once: the label moves only from the version the loser
    checked its evidence against, so the loser fails naming the new version (compare-and-set
    on (name, label, version); the primary key refuses a second first promotion)."""
    import assay.registry.prompts as prompts

    for text in (V1, V2, V3_BAD):
        commit(store, "support", text, author="ana", rationales=["one reason for every change"])
    if not first:
        promote(store, "support@1", label="production", actor="ana", reason="launch")
    real_now = prompts._now
    raced: list[str] = []

    def now_with_a_rival():  # type: ignore[no-untyped-def]
        # Called once the evidence is checked, just before the write: the rival wins here.
        if not raced:
            raced.append("rival")
            promote(store, "support@3", label="production", actor="rival", reason="r", force=True)
        return real_now()

    monkeypatch.setattr(prompts, "_now", now_with_a_rival)
    with pytest.raises(AssayError, match="moved while this promotion was checked") as lost:
        promote(store, "support@2", label="production", actor="bo", reason="b", force=True)
    assert "it is now version 3" in str(lost.value)
    assert get_version(store, "support@production").version == 3
    assert [p["actor"] for p in promotions(store, "support")] == (
        ["rival"] if first else ["ana", "rival"]
    )
