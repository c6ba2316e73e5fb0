"""The knobs of a contamination check, with the published defaults and where they come from."""

from __future__ import annotations

from dataclasses import dataclass

#: Llama 2's subsets (Touvron et al. 2023, App. A.6, Table 51). They overlap: every sample is in
#: exactly one of clean / not clean and exactly one of not dirty / dirty.
SUBSETS = ("clean", "not_clean", "not_dirty", "dirty")


@dataclass(frozen=True)
class ContaminationSettings:
    """How overlap is measured and banded.

    ``ngram``: GPT-3's n-gram length (Brown et al. 2020, App. C: 13-grams over normalised words).
    ``min_length``, ``skip_budget``, ``exact_prefix``: Llama 2's token-overlap measure
    (Touvron et al. 2023, App. A.6): a token of an eval sample is contaminated when it lies in a
    span matched between the sample and a training document that is *longer than*
    ``min_length`` tokens, where the span may differ in at most ``skip_budget`` positions
    ("skipgram budget" of four), with no mismatch in its first ``exact_prefix`` (10) tokens and
    no trailing mismatch. Table 51 reports per-dataset minimum lengths (L = 50 for MMLU, 40 for
    HellaSwag); 10 is the paper's general definition. Llama 2 counts model-tokenizer tokens;
    assay counts normalised words, so a given L is stricter here than there.
    ``clean_below`` / ``dirty_from``: a sample is clean below 20% contaminated tokens and dirty
    from 80% on (Table 51's thresholds; "not clean" is ≥ 20%, "not dirty" < 80%).
    ``include_target``: the sample's text is its input followed by its targets (a leaked answer
    is contamination too).
    ``boilerplate_samples``: an n-gram shared by more than this many eval samples is the
    benchmark's boilerplate (a shared instruction or answer template), so it is not used to
    *find* matches: a training document that holds only the template is not a copy of any one
    sample, while one that holds a sample is still found through the sample's own n-grams, and
    then its matched span covers the template too. GPT-3 likewise ignored 13-grams frequent in
    the training data as boilerplate. ``None`` uses every n-gram.
    ``max_docs_per_sample``: how many matching training documents are named per sample (the
    highest-overlap ones; the total is always counted), which keeps memory bounded.
    """

    ngram: int = 13
    min_length: int = 10
    skip_budget: int = 4
    exact_prefix: int = 10
    clean_below: float = 0.2
    dirty_from: float = 0.8
    include_target: bool = True
    boilerplate_samples: int | None = 50
    max_docs_per_sample: int = 20

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ValueError("ngram must be at least 1")
        if self.min_length < 1:
            raise ValueError("min_length must be at least 1")
        if self.skip_budget < 0:
            raise ValueError("skip_budget must not be negative")
        if self.exact_prefix < 1:
            raise ValueError("exact_prefix must be at least 1")
        if not 0.0 < self.clean_below <= self.dirty_from <= 1.0:
            raise ValueError("need 0 < clean_below <= dirty_from <= 1")
        if self.boilerplate_samples is not None and self.boilerplate_samples < 1:
            raise ValueError("boilerplate_samples must be at least 1 (or None)")
        if self.max_docs_per_sample < 1:
            raise ValueError("max_docs_per_sample must be at least 1")

    @property
    def seed_length(self) -> int:
        """Length of the exact n-gram every match starts with, used to find candidates: any
        GPT-3 n-gram match and any Llama 2 span begins with this many exactly equal tokens."""
        return min(self.ngram, self.exact_prefix, self.min_length + 1)

    def subsets_of(self, overlap: float) -> tuple[str, str]:
        """The two Llama 2 subsets a sample with this contaminated share belongs to."""
        first = "clean" if overlap < self.clean_below else "not_clean"
        second = "dirty" if overlap >= self.dirty_from else "not_dirty"
        return first, second

    def band_of(self, overlap: float) -> str:
        """One label per sample: ``clean`` (< 20%), ``dirty`` (≥ 80%), or ``not_clean`` in
        between (which is also "not dirty")."""
        if overlap >= self.dirty_from:
            return "dirty"
        if overlap < self.clean_below:
            return "clean"
        return "not_clean"
