import json

import pytest

from assay.core import Output, Sample, SpecError
from assay.score import ScorerContext, create_scorer, find_json, json_schema, json_valid

S = Sample(id="1", input="give me JSON")
SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "strict", "extracted"),
    [
        ('{"a": 1}', 1.0, 1.0),
        ("  [1, 2, 3]\n", 1.0, 1.0),
        ('{"a": 1} Hope this helps!', 0.0, 1.0),  # trailing prose
        ('Sure! Here it is:\n```json\n{"a": "ü €"}\n```\nAnything else?', 0.0, 1.0),
        ('Here: {not json} and then {"b": 2}', 0.0, 1.0),
        ("", 0.0, 0.0),
        ("{'a': 1}", 0.0, 0.0),  # Python, not JSON
        ('{"a": 1', 0.0, 0.0),  # truncated
        ("no json here at all", 0.0, 0.0),
    ],
)
async def test_json_validity_strict_and_extracted(text, strict, extracted):
    assert (await json_valid().score(S, Output(text=text))).value == strict
    assert (await json_valid(extract=True).score(S, Output(text=text))).value == extracted


async def test_json_require_object_and_huge_document():
    assert (await json_valid(require="object").score(S, Output(text="[1]"))).value == 0.0
    big = json.dumps({"rows": [{"i": i, "text": "x" * 50} for i in range(20_000)]})
    assert len(big) > 1_000_000
    assert (await json_valid(require="object").score(S, Output(text=big))).value == 1.0
    assert find_json("{" * 100_000, extract=True) == "no JSON object or array in the response"
    deep = "[" * 50_000 + "{" * 50_000
    assert find_json(deep, extract=True).startswith("no JSON")
    assert "nested too deeply" in find_json(deep)
    assert find_json("[" * 5000 + " [1, 2]", extract=True)[0] == [1, 2]


async def test_schema_conformance_with_paths_of_errors():
    scorer = json_schema(schema=SCHEMA, extract=True)
    ok = await scorer.score(S, Output(text='Result: {"name": "Zoë", "age": 41} — done.'))
    assert ok.value == 1.0
    bad = await scorer.score(S, Output(text='{"name": "", "age": -1, "extra": true}'))
    assert bad.value == 0.0 and bad.metadata["n_errors"] == 3
    paths = {e["path"] for e in bad.metadata["errors"]}
    assert "$['age']" in paths and "$['name']" in paths
    email = await scorer.score(S, Output(text='{"name": "a", "age": 1, "email": "not-an-email"}'))
    assert email.value == 0.0 and "email" in email.explanation
    invalid = await scorer.score(S, Output(text="I cannot help with that."))
    assert invalid.value == 0.0 and "no JSON" in invalid.explanation


async def test_schema_from_a_file_relative_to_the_spec_and_recorded_inline(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "person.json").write_text(json.dumps(SCHEMA))
    scorer = create_scorer(
        "json_schema",
        {"schema_path": "schemas/person.json"},
        context=ScorerContext(base_dir=tmp_path),
    )
    assert scorer.config["schema"] == SCHEMA
    rebuilt = create_scorer("json_schema", dict(scorer.config))
    assert (await rebuilt.score(S, Output(text='{"name": "a", "age": 2}'))).value == 1.0


def test_schema_errors_at_build_time(tmp_path):
    with pytest.raises(SpecError, match="invalid JSON Schema"):
        create_scorer("json_schema", {"schema": {"type": "strange"}})
    with pytest.raises(SpecError, match="exactly one"):
        create_scorer("json_schema", {})
    with pytest.raises(SpecError, match="not found"):
        create_scorer(
            "json_schema", {"schema_path": "nope.json"}, context=ScorerContext(base_dir=tmp_path)
        )
