"""Dataset versions: diff by origin, incident-born cases protected (A3), specs pin a version."""

from __future__ import annotations

import json

import pytest
from tests.registry.test_prompt_registry import registry_url
from tests.registry.world import write_world

from assay.core import AssayError
from assay.registry.datasets import commit_dataset, diff_rows, get_dataset_version
from assay.run import load_eval


def _rows(path, rows) -> None:  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


ROWS = [
    {"id": "a1", "input": "q1", "target": "x"},
    {"id": "i1", "input": "q2", "target": "y", "metadata": {"origin": "incident"}},
    {"id": "s1", "input": "q3", "target": "z", "metadata": {"origin": "synthetic"}},
]


def test_removing_an_incident_case_needs_force_and_a_kept_reason(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "qa.jsonl"
    _rows(f, ROWS)
    v1, _ = commit_dataset(store, "support-qa", f, author="ana")
    assert v1.origins == {"incident": 1, "sampled-production": 0, "authored": 1, "synthetic": 1}
    _rows(f, [ROWS[0], ROWS[2] | {"target": "zz"}, {"id": "n1", "input": "q4"}])
    with pytest.raises(AssayError, match=r"removes or edits 1 incident-born case.*i1"):
        commit_dataset(store, "support-qa", f, author="bo")
    with pytest.raises(AssayError, match="incident-born"):
        commit_dataset(store, "support-qa", f, author="bo", force=True)
    v2, diff = commit_dataset(
        store, "support-qa", f, author="bo", force=True, reason="fixed upstream"
    )
    assert diff is not None and diff.to_dict()["removed"] == {"incident": ["i1"]}
    assert diff.to_dict()["changed"] == {"synthetic": ["s1"]}
    assert diff.to_dict()["added"] == {"authored": ["n1"]}
    stored = get_dataset_version(store, "support-qa@2")
    assert stored.force_reason == "fixed upstream" and stored.protected == ["i1"]
    again = diff_rows(store, v1.rows, v2.rows, (v1.ref, v2.ref))
    assert again.protected() == ["i1"]


def test_a_bad_row_names_the_file_line(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "qa.jsonl"
    f.write_text('{"id": "a", "input": "x"}\n{"input": "no id"}\n')
    with pytest.raises(AssayError, match=r"qa.jsonl:2: .*needs an `id`"):
        commit_dataset(store, "d", f, author="ana")


def test_a_spec_runs_a_pinned_dataset_version(store, backend, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    spec = write_world(tmp_path, n=20)
    commit_dataset(store, "support-qa", tmp_path / "qa.jsonl", author="ana")
    spec.write_text(spec.read_text().replace("{path: qa.jsonl}", '{path: "registry:support-qa@1"}'))
    ev = load_eval(spec)
    assert len(ev.dataset) == 20
    assert ev.dataset.manifest().source == "registry:support-qa@1"
    spec.write_text(spec.read_text().replace("support-qa@1", "support-qa@7"))
    with pytest.raises(AssayError, match=r"eval.yaml:2 .*no dataset version support-qa@7"):
        load_eval(spec)


def test_runs_on_two_versions_are_flagged_with_the_shared_cases(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from assay.registry.datasets import dataset_version_warning
    from assay.run import run

    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    spec = write_world(tmp_path, n=20)
    data = tmp_path / "qa.jsonl"
    commit_dataset(store, "support-qa", data, author="ana")
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    _rows(data, [*rows[2:], {"id": "new1", "input": "q", "target": "t"}])
    commit_dataset(store, "support-qa", data, author="ana")
    text = spec.read_text()
    spec.write_text(text.replace("{path: qa.jsonl}", '{path: "registry:support-qa@1"}'))
    one = run(load_eval(spec), db=store).run_id
    spec.write_text(text.replace("{path: qa.jsonl}", '{path: "registry:support-qa@2"}'))
    two = run(load_eval(spec), db=store).run_id
    warning = dataset_version_warning(store, one, two)
    assert warning is not None
    assert "registry:support-qa@1 vs registry:support-qa@2" in warning
    assert "18 shared cases (2 only in" in warning and "1 only in" in warning
    assert dataset_version_warning(store, one, one) is None


def test_datasets_export_then_import_replays_versions_with_forced_reasons(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from assay.registry.yaml_io import export_datasets, import_datasets
    from assay.run.yamlfile import load_yaml, parse_yaml
    from assay.store import Store

    f = tmp_path / "qa.jsonl"
    _rows(f, ROWS)
    commit_dataset(store, "support-qa", f, author="ana")
    _rows(f, [ROWS[0], ROWS[2]])
    commit_dataset(store, "support-qa", f, author="bo", force=True, reason="fixed upstream")
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(export_datasets(store)))
    with Store(tmp_path / "other.db") as other:
        result = import_datasets(other, load_yaml(path))
        assert result == {"added": ["support-qa@1", "support-qa@2"], "skipped": []}
        second = get_dataset_version(other, "support-qa@2")
        assert second.force_reason == "fixed upstream" and second.protected == ["i1"]
        assert second.content_hash == get_dataset_version(store, "support-qa@2").content_hash
        assert import_datasets(other, load_yaml(path))["skipped"] == [
            "support-qa@1",
            "support-qa@2",
        ]
    # A removal of an incident case without its recorded reason is refused, naming the line.
    doc = yaml.safe_load(path.read_text())
    doc["datasets"]["support-qa"][1]["force_reason"] = None
    path.write_text(yaml.safe_dump(doc))
    with Store(tmp_path / "third.db") as third, pytest.raises(AssayError, match="incident-born"):
        import_datasets(third, load_yaml(path))
    bad = parse_yaml("datasets:\n  qa:\n    - {version: 1}\n", "d.yaml")
    with pytest.raises(AssayError, match=r"d.yaml:3 .*needs `rows`"):
        import_datasets(store, bad)
