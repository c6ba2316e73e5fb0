"""The one exception hierarchy for user mistakes and failed operations.

Every error a user can cause derives from :class:`AssayError`. Each carries a message that says
what is wrong, *where* (a file and line, or a field) and *how to fix it*. The CLI prints
``str(error)`` without a traceback and exits with :attr:`AssayError.exit_code`.
"""

from __future__ import annotations


class AssayError(Exception):
    """Base class of every error assay raises on purpose.

    ``where`` names the place (``data.jsonl:12``, ``eval.yaml:4 (subjects[0].model)``);
    ``fix`` says what to do about it. Both are optional but should be given whenever known.
    """

    exit_code: int = 2
    code: str = "error"

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """The single line (plus an optional hint) that the CLI shows the user."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class SpecError(AssayError):
    """Raised when an eval spec (YAML or Python) is malformed or refers to something unknown."""

    code = "spec_error"


class DatasetError(AssayError):
    """Raised when a dataset file cannot be read: malformed row, missing field, duplicate id."""

    code = "dataset_error"


class ConfigError(AssayError):
    """Raised for a provider or subject configuration problem (e.g. a missing API-key variable)."""

    code = "config_error"


class StoreError(AssayError):
    """Raised when the store cannot be opened or a run id is unknown or ambiguous."""

    code = "store_error"


class StaleFixtureError(AssayError):
    """Raised when a recorded cassette has expired or was recorded against another snapshot (A6)."""

    code = "stale_fixture"

    def render(self) -> str:
        return "stale_fixture: " + super().render()


class CassetteMissError(AssayError):
    """Raised when a replayed request has no recorded response in the cassette."""

    code = "cassette_miss"


class ProviderError(AssayError):
    """Raised by a provider when a model call fails.

    ``error_class`` is a short, stable name (``rate_limited``, ``server_error``, ``timeout``,
    ``malformed_response``, ``connection``, ``client_error``, ``overloaded``, ``cache_miss``,
    ``circuit_open`` for a call an open circuit breaker never sent)
    stored with a failed sample;
    ``retryable`` tells the runner whether trying again can help.
    """

    exit_code = 1
    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        error_class: str = "provider_error",
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.error_class = error_class
        self.retryable = retryable
        #: How many attempts were made before giving up (set by the runner's retry loop).
        self.attempts = 1
        self.retry_after = retry_after
        self.status = status
        super().__init__(message, where=where, fix=fix)


class SubjectError(AssayError):
    """Raised when a subject cannot produce an output for a sample (for example a missing
    precomputed output)."""

    exit_code = 1
    code = "subject_error"
