import importlib
import tomllib
from pathlib import Path

import pytest

from assay.core import SpecError
from assay.score import create_scorer, scorer_factories
from assay.score.registry import _BUILTIN

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_every_builtin_scorer_is_an_entry_point_to_the_same_factory():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["assay.scorers"]
    assert set(declared) == set(_BUILTIN)
    for name, target in declared.items():
        module, _, attr = target.partition(":")
        assert getattr(importlib.import_module(module), attr) is _BUILTIN[name], name


def test_entry_points_add_scorers_but_never_replace_builtins(monkeypatch):
    class FakeEntryPoint:
        def __init__(self, name, factory):
            self.name, self._factory = name, factory

        def load(self):
            return self._factory

    def mine(**options):
        return create_scorer("exact", options)

    monkeypatch.setattr(
        "assay.score.registry.entry_points",
        lambda group: [FakeEntryPoint("mine", mine), FakeEntryPoint("exact", lambda: None)],
    )
    factories = scorer_factories()
    assert factories["mine"] is mine and factories["exact"] is _BUILTIN["exact"]
    assert create_scorer("mine", {"ignore_case": False}).name == "exact"


def test_bare_values_only_for_scorers_with_a_shorthand():
    assert create_scorer("rubric", "sim/judge-fair").config["judge"] == "sim/judge-fair"
    with pytest.raises(SpecError, match="takes a mapping"):
        create_scorer("exact", "yes")
