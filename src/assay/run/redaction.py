"""PII redaction of the texts a run's manifest copies from its spec (``redact_pii``).

The samples, outputs, scores and the stored spec are redacted on their way into the store
(:mod:`assay.run.runner`). The manifest repeats the spec's own texts as well: each subject's
prompt template (its ``system`` and user text, read from a file or written inline), its
parameters and configuration, each scorer's configuration (a judge's rubric) and each judge's
prompt. The report renders them, so they are redacted too, with one placeholder table for the
whole manifest. Hashes (``prompt_hash``, ``spec_hash``) are kept: they identify the text without
holding it.
"""

from __future__ import annotations

from typing import Any

from assay.core import RunManifest

#: The manifest fields that hold text taken from the spec, per part.
_SUBJECT_FIELDS = ("prompt_template", "params", "config")
_SCORER_FIELDS = ("config",)
_JUDGE_FIELDS = ("prompt_template", "params")


def redact_manifest(manifest: RunManifest) -> RunManifest:
    """``manifest`` with PII redacted from every text it copied from the spec."""
    # Imported here: the detectors' regexes cost every run that does not redact.
    from assay.data.pii import Placeholders, redact_value

    table = Placeholders()

    def clean(part: Any, fields: tuple[str, ...]) -> Any:
        values = {name: getattr(part, name) for name in fields}
        return part.model_copy(update=redact_value(values, table)[0])

    return manifest.model_copy(
        update={
            "subjects": [clean(s, _SUBJECT_FIELDS) for s in manifest.subjects],
            "scorers": [clean(s, _SCORER_FIELDS) for s in manifest.scorers],
            "judges": [clean(j, _JUDGE_FIELDS) for j in manifest.judges],
        }
    )
