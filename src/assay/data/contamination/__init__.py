"""Train/eval contamination (D3): which eval samples occur in training data, and did it matter.

>>> from assay.data import load_dataset
>>> from assay.data.contamination import EvalIndex, scan_corpus, gate
>>> index = EvalIndex.from_samples(load_dataset("eval.jsonl"))
>>> report = scan_corpus(index, ["train/"], jobs=2)  # JSONL, Parquet, text; .gz; any size
>>> report.band_counts()  # {'clean': ..., 'not_clean': ..., 'not_dirty': ..., 'dirty': ...}
>>> gate(report)  # raises ContaminationGateError naming dirty samples and training rows

Two published measures are reported per eval sample: GPT-3's 13-gram overlap (Brown et al.
2020, App. C) and Llama 2's token-overlap share with its clean / not clean / not dirty / dirty
subsets at 20% and 80% (Touvron et al. 2023, App. A.6), plus the matching training document ids.
:func:`contamination_effect` scores each subset and applies Llama 2's Z-test.
"""

from assay.data.contamination.effect import (
    ContaminationEffect,
    SubsetScore,
    contamination_effect,
    llama2_z,
    scores_from_run,
)
from assay.data.contamination.index import EvalIndex, sample_text
from assay.data.contamination.normalise import normalise, tokenize
from assay.data.contamination.report import (
    ContaminationError,
    ContaminationGateError,
    ContaminationReport,
    CorpusStats,
    DirtyRow,
    DocMatch,
    SampleContamination,
    gate,
)
from assay.data.contamination.scan import scan_corpus
from assay.data.contamination.settings import SUBSETS, ContaminationSettings
from assay.data.contamination.sources import CorpusOptions

__all__ = [
    "SUBSETS",
    "ContaminationEffect",
    "ContaminationError",
    "ContaminationGateError",
    "ContaminationReport",
    "ContaminationSettings",
    "CorpusOptions",
    "CorpusStats",
    "DirtyRow",
    "DocMatch",
    "EvalIndex",
    "SampleContamination",
    "SubsetScore",
    "contamination_effect",
    "gate",
    "llama2_z",
    "normalise",
    "sample_text",
    "scan_corpus",
    "scores_from_run",
    "tokenize",
]
