"""Normalisation and hashing: GPT-3 style tokens, and vectorised hashes that agree with them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.data.contamination.normalise import NgramHasher, hash_texts, normalise, tokenize


def test_lower_case_punctuation_deleted_whitespace_split() -> None:
    assert tokenize("Hello, World! Don't STOP—well-known\t\n(1.5)") == [
        "hello",
        "world",
        "dont",
        "stopwellknown",
        "15",
    ]


def test_unicode_punctuation_and_spaces_follow_the_same_rule() -> None:
    # No-break space separates; a zero-width space (format character) is deleted like punctuation.
    assert tokenize("“Naïve” café… ÉCOLE\u00a0ok\u200bay") == ["naïve", "café", "école", "okay"]


def test_each_tokens_hash_is_independent_of_its_neighbours() -> None:
    texts = ["alpha beta", "  beta   alpha ", "averyveryverylongtokenthatkeepsgoing1234567890 beta"]
    hashed = hash_texts(texts)
    alpha, beta = hash_texts(["alpha", "beta"])
    assert list(hashed[0]) == [alpha[0], beta[0]]
    assert list(hashed[1]) == [beta[0], alpha[0]]
    assert hashed[2][1] == beta[0]
    assert len(hashed[2]) == 2


def test_short_tokens_hash_to_their_bytes_so_the_value_is_stable() -> None:
    (hello,) = hash_texts(["Hello"])
    assert int(hello[0]) == int.from_bytes(b"hello", "little")


def test_hashes_are_the_same_in_another_process() -> None:
    code = (
        "from assay.data.contamination.normalise import hash_texts, NgramHasher;"
        "t = hash_texts(['Completely different strings of words in a row, 2024 édition!'])[0];"
        "print(list(map(int, t)), list(map(int, NgramHasher(3).hash(t))))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout.strip()
    tokens = hash_texts(["Completely different strings of words in a row, 2024 édition!"])[0]
    here = f"{list(map(int, tokens))} {list(map(int, NgramHasher(3).hash(tokens)))}"
    assert other == here


def test_ngram_hash_depends_on_the_ngram_not_its_position() -> None:
    a, b = hash_texts(["x y one two three z", "one two three q r s t"])
    hasher = NgramHasher(3)
    assert hasher.hash(a)[2] == hasher.hash(b)[0]
    assert len(set(hasher.hash(a).tolist())) == 4
    assert hasher.hash(a[:2]).size == 0


words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=6))
def test_batch_hashing_agrees_with_the_reference_tokenizer(texts: list[str]) -> None:
    hashed = hash_texts(texts)
    for text, tokens in zip(texts, hashed, strict=True):
        reference = tokenize(text)
        assert len(tokens) == len(reference)
        # Hashing each reference token alone gives the same values: tokens are hashed alone.
        alone = [hash_texts([t])[0][0] for t in reference]
        assert list(tokens) == alone
        # Equal tokens hash equal, different tokens differ.
        assert len(set(reference)) == len(set(tokens.tolist()))


def test_normalise_is_idempotent_on_its_own_output() -> None:
    text = "Ünïcode—Dashes, “quotes”, tabs\tand CAPS."
    once = normalise(text)
    assert normalise(once.decode()) == once
    assert np.array_equal(hash_texts([text])[0], hash_texts([once.decode()])[0])
