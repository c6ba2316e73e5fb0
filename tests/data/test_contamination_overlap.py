"""Llama 2's matched-span coverage and GPT-3's n-gram starts along one alignment, checked
against a brute-force reading of the definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.data.contamination import ContaminationSettings
from assay.data.contamination.overlap import alignment, covered_positions, ngram_starts

LLAMA2 = ContaminationSettings()  # spans longer than 10, 4 mismatches, exact first 10


def brute_force(equal: np.ndarray, s: ContaminationSettings) -> np.ndarray:
    """Every span that satisfies Touvron et al. (2023) App. A.6, enumerated one by one."""
    size = len(equal)
    covered = np.zeros(size, dtype=bool)
    for start in range(size):
        for end in range(start + s.min_length + 1, size + 1):
            span = equal[start:end]
            if not span[-1]:
                continue  # no trailing mismatch
            if not span[: s.exact_prefix].all():
                continue  # no mismatch in the first tokens
            if (~span).sum() > s.skip_budget:
                continue
            covered[start:end] |= span
    return covered


def mask(pattern: str) -> np.ndarray:
    return np.array([c == "=" for c in pattern], dtype=bool)


def test_an_exact_run_must_be_longer_than_the_minimum_length() -> None:
    assert not covered_positions(mask("=" * 10), LLAMA2).any()
    assert covered_positions(mask("=" * 11), LLAMA2).all()


def test_up_to_four_mismatches_are_skipped_but_not_counted() -> None:
    equal = mask("=" * 12 + "x=x=x=x" + "=" * 3)
    covered = covered_positions(equal, LLAMA2)
    assert covered.sum() == equal.sum()  # every equal token is covered, no mismatch is
    assert not covered[~equal].any()


def test_a_fifth_mismatch_ends_the_span_and_trailing_mismatches_are_dropped() -> None:
    # 11 exact, then 5 separated mismatches, then 2 equal tokens: the span from 0 stops before
    # the 5th mismatch; the 2 tokens after it have no exact run of their own to start a span.
    equal = mask("=" * 11 + "x=x=x=x=x==")
    covered = covered_positions(equal, LLAMA2)
    assert covered[:11].all()
    assert covered[12:19:2].all()
    assert not covered[-2:].any()


def test_no_mismatch_is_allowed_in_the_first_ten_tokens() -> None:
    equal = mask("=====x" + "=" * 9)  # 15 tokens, one mismatch at position 5
    covered = covered_positions(equal, LLAMA2)
    assert not covered[:5].any()  # a span starting at 0 would have a mismatch in its prefix
    assert not covered.any()  # from 6 on only 9 tokens remain, too short


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.booleans(), min_size=0, max_size=48),
    st.integers(1, 12),
    st.integers(0, 5),
    st.integers(1, 12),
)
def test_matches_the_definition_exactly(
    bits: list[bool], min_length: int, budget: int, prefix: int
) -> None:
    # Runs of equal tokens are what real alignments look like: lengthen them so spans occur.
    equal = np.repeat(np.array(bits, dtype=bool), 3)
    s = ContaminationSettings(min_length=min_length, skip_budget=budget, exact_prefix=prefix)
    assert np.array_equal(covered_positions(equal, s), brute_force(equal, s))


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 15))
def test_ngram_starts_are_where_n_equal_tokens_begin(bits: list[bool], n: int) -> None:
    equal = np.array(bits, dtype=bool)
    expected = [all(bits[i : i + n]) for i in range(len(bits) - n + 1)]
    assert ngram_starts(equal, n).tolist() == expected


def test_alignment_pairs_eval_token_j_with_training_token_j_plus_shift() -> None:
    eval_tokens = np.array([1, 2, 3, 4], dtype=np.uint64)
    doc = np.array([9, 9, 1, 2, 3, 5], dtype=np.uint64)
    first, equal = alignment(eval_tokens, doc, 2)
    assert first == 0
    assert equal.tolist() == [True, True, True, False]
    first, equal = alignment(eval_tokens, doc, -2)  # eval tokens 2, 3 face doc tokens 0, 1
    assert first == 2
    assert equal.tolist() == [False, False]
    assert alignment(eval_tokens, doc, 10)[1].size == 0
