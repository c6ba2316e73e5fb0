"""Prompt templates: ``{{ input }}`` and ``{{ <metadata key> }}`` placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from assay.core import Message, Sample, SpecError, text_hash

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


@lru_cache(maxsize=64)
def _sole_variable(template: str) -> str | None:
    """The placeholder's name when ``template`` is one placeholder and nothing else (the
    default ``{{ input }}``), else ``None``."""
    match = _VAR.fullmatch(template)
    return match.group(1) if match else None


@dataclass(frozen=True)
class PromptTemplate:
    """A user-message template with an optional system message.

    Placeholders are ``{{ input }}`` (the sample's input text) and ``{{ name }}`` for any key
    of the sample's metadata (``{{ metadata.name }}`` also works). Double braces leave single
    braces in prompts (JSON examples) alone. A chat-message sample keeps its own messages; the
    system message, when given, is put first.
    """

    user: str = "{{ input }}"
    system: str | None = None
    source: str | None = field(default=None, compare=False)

    @property
    def variables(self) -> set[str]:
        """Every placeholder name in the template (used by the confound guard, B6)."""
        names = set(_VAR.findall(self.user))
        if self.system:
            names |= set(_VAR.findall(self.system))
        return {n.removeprefix("metadata.") for n in names}

    @property
    def text(self) -> str:
        """The whole template as one text (what the prompt hash covers)."""
        if self.system is None:
            return self.user
        return f"[system]\n{self.system}\n[user]\n{self.user}"

    @property
    def hash(self) -> str:
        """SHA-256 of :attr:`text`."""
        return text_hash(self.text)

    def _fill(self, template: str, sample: Sample) -> str:
        if _sole_variable(template) == "input":  # the default template: no substitution pass
            return sample.input_text

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "input":
                return sample.input_text
            key = name.removeprefix("metadata.")
            if key in sample.metadata:
                return str(sample.metadata[key])
            raise SpecError(
                f"prompt variable '{{{{ {name} }}}}' has no value for sample '{sample.id}'",
                where=self.source,
                fix="use {{ input }} or a metadata key present on every sample",
            )

        return _VAR.sub(value, template)

    def render(self, sample: Sample) -> tuple[Message, ...]:
        """The chat messages for ``sample``."""
        # Validated construction although the role is a literal and the content a str by
        # construction: this runs once per sample on the runner's hot path, and pydantic-core
        # validates the two fields in half the time model_construct takes to set them.
        messages: list[Message] = []
        if self.system:
            content = self._fill(self.system, sample)
            messages.append(Message(role="system", content=content))
        if isinstance(sample.input, str):
            content = self._fill(self.user, sample)
            messages.append(Message(role="user", content=content))
        else:
            messages.extend(m for m in sample.input if not (m.role == "system" and self.system))
        return tuple(messages)
