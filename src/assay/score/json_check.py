"""JSON scorers: is the response valid JSON, and does it conform to a JSON Schema?

By default the whole response (surrounding whitespace aside) must be one JSON document. With
``extract: true`` the JSON may sit inside prose: the first fenced code block that parses
(```` ```json … ``` ````) is used, else the first ``{…}`` or ``[…]`` that parses, so "Here you
go: {...} Hope this helps!" is accepted. Schemas are checked with the ``jsonschema`` package,
under the draft the schema's ``$schema`` names (2020-12 by default), with format checking.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from assay.core import Output, Sample, Score
from assay.score.base import ScorerContext

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
_FOLLOWS_OBJECT = re.compile(r'\s*["}]')
_FOLLOWS_ARRAY = re.compile(r'\s*[]"\-0-9tfn[{]')
_MAX_TRIES = 10_000


def find_json(text: str, *, extract: bool = False) -> tuple[Any, str] | str:
    """The JSON value in ``text`` and how it was found, or a message saying why there is none.

    Without ``extract`` the stripped text must be exactly one JSON document. With it, fenced
    code blocks are tried first, then every ``{`` or ``[`` from the left until one decodes.
    """
    stripped = text.strip()
    if not stripped:
        return "the response is empty"
    try:
        return json.loads(stripped), "the whole response"
    except json.JSONDecodeError as exc:
        if not extract:
            return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        if not extract:
            return "not valid JSON: nested too deeply to read"
    for match in _FENCE.finditer(text):
        if match.group(1).lower() not in ("", "json", "jsonc", "json5"):
            continue
        try:
            return json.loads(match.group(2)), "a fenced code block"
        except (json.JSONDecodeError, RecursionError):
            continue
    return _first_embedded(text)


def _decode_at(text: str, at: int) -> tuple[Any, int] | str:
    """The JSON value starting at ``at``, else why not: ``invalid`` or ``too_deep``."""
    try:
        value, _end = _DECODER.raw_decode(text, at)
    except json.JSONDecodeError:
        return "invalid"
    except RecursionError:
        return "too_deep"
    return value, at


def _first_embedded(text: str) -> tuple[Any, str] | str:
    """The first ``{…}`` or ``[…]`` in ``text`` that decodes.

    The next ``{`` and ``[`` are tracked apart, so each is searched for once per candidate. An
    opener is tried only when what follows it can start a value, because a failed decode costs
    time proportional to its offset (to report a line number); at most ``_MAX_TRIES`` are
    tried. A run of openers nested too deeply to decode is skipped whole.
    """
    brace, bracket = text.find("{"), text.find("[")
    tries = 0
    while brace >= 0 or bracket >= 0:
        at = bracket if brace < 0 or 0 <= bracket < brace else brace
        follows = _FOLLOWS_OBJECT if at == brace else _FOLLOWS_ARRAY
        after = at + 1
        if follows.match(text, after) is not None:
            tries += 1
            if tries > _MAX_TRIES:
                return f"no JSON found in the first {_MAX_TRIES} candidates"
            found = _decode_at(text, at)
            if isinstance(found, tuple):
                return found[0], f"JSON at character {at}"
            if found == "too_deep":
                while after < len(text) and text[after] == text[at]:
                    after += 1
        if at == brace:
            brace = text.find("{", after)
        else:
            bracket = text.find("[", after)
    return "no JSON object or array in the response"


def _kind_ok(value: Any, require: str) -> bool:
    if require == "object":
        return isinstance(value, dict)
    if require == "array":
        return isinstance(value, list)
    return True


class JsonValid:
    """1 when the response is (or, with ``extract``, contains) valid JSON, else 0.

    ``require`` is ``any`` (default), ``object`` or ``array``.
    """

    name = "json"
    kind = "json"
    version = "1"

    def __init__(self, *, name: str | None = None, extract: bool = False, require: str = "any"):
        if require not in ("any", "object", "array"):
            raise ValueError(f"require must be any, object or array, not {require!r}")
        if name:
            self.name = name
        self.extract, self.require = extract, require
        self.config: dict[str, Any] = {"extract": extract, "require": require}

    async def score(self, sample: Sample, output: Output) -> Score:
        found = find_json(output.text, extract=self.extract)
        if isinstance(found, str):
            return Score(scorer=self.name, value=0.0, explanation=found)
        value, how = found
        if not _kind_ok(value, self.require):
            return Score(
                scorer=self.name,
                value=0.0,
                explanation=f"valid JSON ({how}) but not an {self.require}",
            )
        return Score(scorer=self.name, value=1.0, explanation=f"valid JSON ({how})")


class JsonSchemaMatch:
    """1 when the response's JSON conforms to ``schema``, else 0 (invalid JSON is 0 too).

    Give the schema inline (``schema: {...}``) or as a file (``schema_path``, relative to the
    spec's folder); it is checked when the scorer is built and recorded inline in the
    manifest, so a replay does not need the file. The first errors (up to 5) are kept in the
    score's metadata with their JSON paths.
    """

    name = "json_schema"
    kind = "json_schema"
    version = "1"

    def __init__(
        self,
        *,
        name: str | None = None,
        schema: dict[str, Any] | bool | None = None,
        schema_path: str | None = None,
        extract: bool = False,
        context: ScorerContext | None = None,
    ) -> None:
        if (schema is None) == (schema_path is None):
            raise ValueError("give exactly one of `schema` (inline) or `schema_path` (a file)")
        if schema_path is not None:
            path = Path(schema_path).expanduser()
            if not path.is_absolute() and context is not None and context.base_dir is not None:
                path = context.base_dir / path
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ValueError(f"schema file not found: {path}") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"schema file {path} is not JSON: {exc.msg}") from None
        if not isinstance(schema, (dict, bool)):
            raise ValueError("a JSON Schema is an object (or true/false)")
        import jsonschema  # imported by the scorers that use it, not by every command
        from jsonschema.exceptions import SchemaError

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)  # type: ignore[arg-type]  # a boolean schema is valid
        except SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        self.validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        if name:
            self.name = name
        self.extract = extract
        self.config: dict[str, Any] = {"schema": schema, "extract": extract}

    async def score(self, sample: Sample, output: Output) -> Score:
        found = find_json(output.text, extract=self.extract)
        if isinstance(found, str):
            return Score(scorer=self.name, value=0.0, explanation=found)
        value, how = found
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return Score(scorer=self.name, value=1.0, explanation=f"conforms ({how})")
        shown = [
            {"path": "$" + "".join(f"[{p!r}]" for p in e.absolute_path), "message": e.message[:300]}
            for e in errors[:5]
        ]
        return Score(
            scorer=self.name,
            value=0.0,
            explanation=f"{len(errors)} schema error(s); first at {shown[0]['path']}: "
            + shown[0]["message"],
            metadata={"errors": shown, "n_errors": len(errors)},
        )


def json_valid(**options: Any) -> JsonValid:
    """Valid JSON; options: extract, require (any, object, array)."""
    return JsonValid(**options)


def json_schema(context: ScorerContext | None = None, **options: Any) -> JsonSchemaMatch:
    """JSON Schema conformance; options: schema or schema_path, extract."""
    return JsonSchemaMatch(context=context, **options)
