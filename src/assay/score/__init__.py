"""Scorers: grade outputs. Deterministic scorers (match, regex, numeric, choice, JSON, length,
format, a user's function), embedding similarity (optional extra) and LLM judges."""

from assay.score.base import Scorer, ScorerContext, scorer_manifest
from assay.score.choice import MultipleChoice, choice
from assay.score.embedding import EmbeddingSimilarity, embedding
from assay.score.json_check import JsonSchemaMatch, JsonValid, find_json, json_schema, json_valid
from assay.score.match import ExactMatch, Includes, exact, includes
from assay.score.normalise import Normalisation
from assay.score.numeric import NumberReader, NumericMatch, extract_number, numeric
from assay.score.python_fn import PythonScorer, python
from assay.score.regex import RegexMatch, regex
from assay.score.registry import create_scorer, scorer_factories
from assay.score.text_checks import FormatCheck, LengthCheck, format_check, length

__all__ = [
    "EmbeddingSimilarity",
    "ExactMatch",
    "FormatCheck",
    "Includes",
    "JsonSchemaMatch",
    "JsonValid",
    "LengthCheck",
    "MultipleChoice",
    "Normalisation",
    "NumberReader",
    "NumericMatch",
    "PythonScorer",
    "RegexMatch",
    "Scorer",
    "ScorerContext",
    "choice",
    "create_scorer",
    "embedding",
    "exact",
    "extract_number",
    "find_json",
    "format_check",
    "includes",
    "json_schema",
    "json_valid",
    "length",
    "numeric",
    "python",
    "regex",
    "scorer_factories",
    "scorer_manifest",
]
