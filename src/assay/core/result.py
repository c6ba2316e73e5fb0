"""Scores and per-sample results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.core.output import Output


class Score(BaseModel):
    """One scorer's grade of one output.

    ``value`` is a number (1.0/0.0 for pass/fail, or a rating); ``None`` means the scorer could
    not grade (``error`` says why), which is never the same as a zero. ``answer`` is what the
    scorer extracted from the output, ``explanation`` why it graded as it did.
    """

    model_config = ConfigDict(extra="forbid")

    scorer: str
    value: float | None
    answer: str | None = None
    explanation: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_binary(self) -> bool:
        """Whether the value is a pass/fail grade (0 or 1)."""
        return self.value in (0.0, 1.0)


class SampleResult(BaseModel):
    """The outcome of running one subject on one sample in one epoch.

    Exactly one of ``output`` and ``error`` is set: a sample whose call finally failed is kept
    with its ``error_class`` so that it is counted, never silently dropped.
    """

    model_config = ConfigDict(extra="forbid")

    subject: str
    sample_id: str
    epoch: int = 0
    output: Output | None = None
    scores: list[Score] = Field(default_factory=list)
    error: str | None = None
    error_class: str | None = None
    attempts: int = 1
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Whether the subject produced an output."""
        return self.output is not None and self.error is None
