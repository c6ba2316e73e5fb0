import pytest

from assay.core import Message, Sample, SpecError
from assay.run import PromptTemplate


def test_render_text_sample_with_metadata_and_system():
    t = PromptTemplate(
        user="Topic {{ topic }}: {{input}} {not a var}",
        system="Be brief about {{ metadata.topic }}.",
    )
    msgs = t.render(Sample(id="1", input="2+2?", metadata={"topic": "maths"}))
    assert msgs == (
        Message(role="system", content="Be brief about maths."),
        Message(role="user", content="Topic maths: 2+2? {not a var}"),
    )
    assert t.variables == {"topic", "input"}


def test_chat_sample_keeps_its_messages_and_gets_the_system_prompt_first():
    sample = Sample(
        id="1", input=[{"role": "system", "content": "old"}, {"role": "user", "content": "hi"}]
    )
    msgs = PromptTemplate(system="new").render(sample)
    assert [m.content for m in msgs] == ["new", "hi"]


def test_missing_variable_names_it_and_the_sample():
    with pytest.raises(SpecError, match=r"\{\{ tone \}\}.*sample 'q9'"):
        PromptTemplate(user="{{ tone }} {{ input }}").render(Sample(id="q9", input="x"))


def test_hash_changes_with_any_text_change():
    assert PromptTemplate(user="a {{ input }}").hash != PromptTemplate(user="b {{ input }}").hash
    assert PromptTemplate(user="a").hash != PromptTemplate(user="a", system="s").hash
