"""Matching one eval sample against one training document along one alignment.

An *alignment* (a diagonal) pairs eval token ``j`` with training token ``j + shift``. Along it,
``equal[j]`` says whether the two tokens are the same. Both measures are read off that vector:

- GPT-3 (Brown et al. 2020, App. C): every eval position where ``ngram`` equal tokens start.
- Llama 2 (Touvron et al. 2023, App. A.6): the eval tokens covered by a matched span that is
  longer than ``min_length`` tokens, differs in at most ``skip_budget`` positions ("skipgram
  budget"), has no mismatch among its first ``exact_prefix`` tokens and none at its end. A token
  counts as contaminated when it lies inside such a span *and* is one of its equal positions
  (a skipped position did not appear in both texts).

Every span worth considering starts where a run of equal tokens starts: a start inside a run
reaches the same end (the same mismatches lie ahead of it) with a shorter span. So the spans are
found per run, vectorised, and their union is taken with a difference array.
"""

from __future__ import annotations

import numpy as np

from assay.data.contamination.settings import ContaminationSettings


def covered_positions(equal: np.ndarray, settings: ContaminationSettings) -> np.ndarray:
    """Boolean mask of positions covered by Llama 2 spans along one alignment."""
    size = len(equal)
    covered = np.zeros(size, dtype=bool)
    if size <= settings.min_length:
        return covered
    mismatches = np.flatnonzero(~equal)
    run_starts = np.concatenate((np.zeros(1, dtype=np.int64), mismatches + 1))
    run_starts = run_starts[run_starts < size]
    run_starts = run_starts[equal[run_starts]]
    if run_starts.size == 0:
        return covered
    sentinel = np.append(mismatches, size)  # a virtual mismatch just past the end
    first = np.searchsorted(mismatches, run_starts)  # index of the first mismatch after a start
    exact_run = sentinel[first] - run_starts
    # With the exact prefix satisfied, the span may run until just before mismatch number
    # skip_budget + 1 after its start, then drops any mismatches at its tail.
    stop = sentinel[np.minimum(first + settings.skip_budget, len(mismatches))]
    last_equal = np.maximum.accumulate(np.where(equal, np.arange(size), -1))
    budget_end = last_equal[stop - 1] + 1
    end = np.where(exact_run >= settings.exact_prefix, budget_end, run_starts + exact_run)
    keep = end - run_starts > settings.min_length
    if not keep.any():
        return covered
    delta = np.zeros(size + 1, dtype=np.int32)
    np.add.at(delta, run_starts[keep], 1)
    np.add.at(delta, end[keep], -1)
    covered = np.cumsum(delta[:size]) > 0
    result: np.ndarray = covered & equal
    return result


def ngram_starts(equal: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask (one per n-gram start) of positions where ``n`` equal tokens begin."""
    count = len(equal) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=bool)
    unequal = np.zeros(len(equal) + 1, dtype=np.int32)
    np.cumsum(~equal, out=unequal[1:])
    starts: np.ndarray = (unequal[n:] - unequal[:count]) == 0
    return starts


def alignment(
    eval_tokens: np.ndarray, doc_tokens: np.ndarray, shift: int
) -> tuple[int, np.ndarray]:
    """``(first, equal)``: the eval positions ``first .. first + len(equal)`` that face a
    training token when eval token ``j`` is paired with training token ``j + shift``, and
    whether each pair is equal."""
    first = max(0, -shift)
    last = min(len(eval_tokens), len(doc_tokens) - shift)
    if last <= first:
        return first, np.zeros(0, dtype=bool)
    return first, eval_tokens[first:last] == doc_tokens[first + shift : last + shift]
