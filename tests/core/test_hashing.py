from assay.core import Message, Sample, canonical_json, content_hash


def test_canonical_json_sorts_keys_and_is_compact():
    assert canonical_json({"b": 1, "a": [1.0, "x"]}) == '{"a":[1,"x"],"b":1}'


def test_hash_ignores_key_order_and_int_float_spelling():
    assert content_hash({"x": 1, "y": 2.0}) == content_hash({"y": 2, "x": 1.0})
    assert content_hash({"x": 1}) != content_hash({"x": 1.5})


def test_sample_hash_covers_content_not_provenance():
    a = Sample(id="q1", input="2+2?", target="4", metadata={"slice": "math"})
    b = Sample(
        id="q1",
        input="2+2?",
        target="4",
        metadata={"slice": "math"},
        provenance={"origin": "incident", "source_ref": "trace-9"},
    )
    c = Sample(id="q1", input="2+3?", target="4", metadata={"slice": "math"})
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_sample_ids_are_text_and_chat_inputs_work():
    s = Sample(
        id=7, input=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    )
    assert s.id == "7"
    assert s.messages == (
        Message(role="system", content="be brief"),
        Message(role="user", content="hi"),
    )
    assert s.input_text == "system: be brief\nuser: hi"
    assert Sample(id="a", input="x", target=["4", "four"]).targets == ("4", "four")
