"""The contract check (A7): does the live endpoint still answer in the shape a cassette recorded?

Replayed tests stay green while the real model drifts underneath them: a provider starts
answering ``"Medium"`` where the fixtures say ``"medium"`` and nothing fails until production
does. :func:`check_contract` re-sends a seeded sample of a cassette's recorded requests to the
live provider and :func:`compare_shapes` compares each live answer with the recorded one, field
by field:

- ``json_validity``: one of the two is a JSON object or array and the other is not;
- ``missing_key`` / ``added_key``: an object lost or gained a key;
- ``type_changed``: a value changed JSON type (``"3"`` → ``3``, an object → a list);
- ``enum_casing``: a string differs only in letter case (``"medium"`` → ``"Medium"``), against
  the recording or against a schema's ``enum``;
- ``schema_violation``: the live output breaks the given JSON Schema;
- ``length_drift``: the live text is shorter or longer than the recorded one by more than the
  allowed ratio (by default outside 0.5x–2x).

Paths are JSON Pointers (RFC 6901) into the parsed output, ``""`` meaning the whole output.
Values are compared for shape, not content: ``"high"`` → ``"low"`` is a different answer, not a
broken contract. Only objects and arrays count as JSON; a bare ``4`` or ``true`` is treated as
text, because free-text answers parse as JSON scalars by accident. A Markdown code fence around
the JSON (```` ```json … ``` ````) is ignored.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from jsonschema import ValidationError as SchemaValidationError
from jsonschema import validators
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, computed_field

from assay.core import AssayError, ConfigError, ModelRequest, Output, ProviderError
from assay.providers.base import Provider
from assay.providers.replay import Cassette

DifferenceKind = Literal[
    "json_validity",
    "missing_key",
    "added_key",
    "type_changed",
    "enum_casing",
    "schema_violation",
    "length_drift",
]
#: Live text length must stay within these multiples of the recorded length.
DEFAULT_LENGTH_BOUNDS = (0.5, 2.0)
_MAX_RETRY_WAIT_S = 30.0
_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(?P<body>.*?)\n?```$", re.DOTALL)


class ShapeDifference(BaseModel):
    """One way the live output's shape differs from the recorded one (or from the schema).

    ``path`` is a JSON Pointer into the output (``"/severity"``, ``"/items/0/name"``; ``""``
    for the whole output); ``recorded`` and ``live`` are the values (or JSON type names, or
    lengths) being compared, where that helps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DifferenceKind
    path: str
    message: str
    recorded: Any = None
    live: Any = None


# -- comparing two outputs ---------------------------------------------------------------------


def compare_shapes(
    recorded: str,
    live: str,
    *,
    schema: dict[str, Any] | None = None,
    length_bounds: tuple[float, float] | None = DEFAULT_LENGTH_BOUNDS,
) -> list[ShapeDifference]:
    """Every shape difference between a recorded and a live output text, in path order.

    ``schema`` is a JSON Schema the live output must satisfy (its ``$schema`` picks the draft,
    2020-12 by default; an invalid schema raises :class:`~assay.core.ConfigError`).
    ``length_bounds=(low, high)`` flags a live text whose length is outside ``low``–``high``
    times the recorded length (``None`` switches the check off). A pure function.
    """
    validator = _schema_validator(schema) if schema is not None else None
    return _compare(recorded, live, validator, length_bounds)


def _compare(
    recorded: str,
    live: str,
    validator: Any | None,
    length_bounds: tuple[float, float] | None,
) -> list[ShapeDifference]:
    differences: list[ShapeDifference] = []
    rec_ok, rec_value, rec_error = _parse_structured(recorded)
    live_ok, live_value, live_error = _parse_structured(live)
    if rec_ok and live_ok:
        _walk(rec_value, live_value, "", differences)
    elif rec_ok != live_ok:
        message = (
            f"the recorded output is JSON but the live output is not ({live_error})"
            if rec_ok
            else f"the live output is JSON but the recorded output was not ({rec_error})"
        )
        differences.append(
            ShapeDifference(
                kind="json_validity",
                path="",
                message=message,
                recorded="json" if rec_ok else "text",
                live="json" if live_ok else "text",
            )
        )
    if validator is not None:
        if live_ok:
            seen = {(d.kind, d.path) for d in differences}
            differences += [
                d
                for d in _schema_differences(validator, live_value)
                if (d.kind, d.path) not in seen
            ]
        elif not rec_ok:  # when the recording was JSON, json_validity already says it
            differences.append(
                ShapeDifference(
                    kind="schema_violation",
                    path="",
                    message=f"the live output is not JSON, so it cannot match the schema "
                    f"({live_error})",
                )
            )
    if length_bounds is not None:
        drift = _length_drift(len(recorded), len(live), length_bounds)
        if drift is not None:
            differences.append(drift)
    return sorted(differences, key=_path_order)


def _path_order(difference: ShapeDifference) -> list[tuple[int, int | str]]:
    # Array indices sort as numbers ("/items/2" before "/items/10"); the root comes first.
    tokens = difference.path.split("/")[1:]
    return [(0, int(t)) if t.isdigit() else (1, t) for t in tokens]


def _parse_structured(text: str) -> tuple[bool, Any, str | None]:
    """``(True, value, None)`` when ``text`` is a JSON object or array (a code fence around it
    allowed), else ``(False, None, why not)``."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group("body").strip()
    try:
        value = json.loads(stripped)
    except ValueError as exc:
        return False, None, f"not valid JSON: {getattr(exc, 'msg', exc)}"
    if not isinstance(value, dict | list):
        return False, None, f"a bare JSON {_json_type(value)}, not an object or array"
    return True, value, None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"  # 1 → 1.5 is a new value, not a new shape
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _pointer(path: str, token: str | int) -> str:
    return f"{path}/{str(token).replace('~', '~0').replace('/', '~1')}"


def _walk(recorded: Any, live: Any, path: str, out: list[ShapeDifference]) -> None:
    rec_type, live_type = _json_type(recorded), _json_type(live)
    if rec_type != live_type:
        out.append(
            ShapeDifference(
                kind="type_changed",
                path=path,
                message=f"was {rec_type}, is now {live_type}",
                recorded=rec_type,
                live=live_type,
            )
        )
        return
    if rec_type == "object":
        for key in recorded:
            if key not in live:
                out.append(
                    ShapeDifference(
                        kind="missing_key",
                        path=_pointer(path, key),
                        message=f"key {key!r} is missing from the live output",
                        recorded=_json_type(recorded[key]),
                    )
                )
        for key in live:
            if key not in recorded:
                out.append(
                    ShapeDifference(
                        kind="added_key",
                        path=_pointer(path, key),
                        message=f"key {key!r} is new in the live output",
                        live=_json_type(live[key]),
                    )
                )
        for key in recorded:
            if key in live:
                _walk(recorded[key], live[key], _pointer(path, key), out)
    elif rec_type == "array":
        # Items are compared by position; extra live items only by type, since a longer list
        # is new content rather than a new shape.
        for index, item in enumerate(live):
            if index < len(recorded):
                _walk(recorded[index], item, _pointer(path, index), out)
            elif recorded:
                item_types = sorted({_json_type(r) for r in recorded})
                if _json_type(item) not in item_types:
                    out.append(
                        ShapeDifference(
                            kind="type_changed",
                            path=_pointer(path, index),
                            message=f"item is {_json_type(item)}, recorded items were "
                            f"{' or '.join(item_types)}",
                            recorded=item_types,
                            live=_json_type(item),
                        )
                    )
    elif rec_type == "string" and recorded != live and recorded.casefold() == live.casefold():
        out.append(
            ShapeDifference(
                kind="enum_casing",
                path=path,
                message=f"{live!r} differs from the recorded {recorded!r} only in letter case",
                recorded=recorded,
                live=live,
            )
        )


def _schema_validator(schema: dict[str, Any]) -> Any:
    if not isinstance(schema, dict):
        raise ConfigError(
            f"the JSON Schema must be an object, not {type(schema).__name__}", where="schema"
        )
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "schema" + "".join(f"/{p}" for p in exc.absolute_path)
        raise ConfigError(
            f"invalid JSON Schema: {exc.message}",
            where=where,
            fix="check it against the JSON Schema specification (2020-12 unless $schema says)",
        ) from None
    return cls(schema)


def _schema_differences(validator: Any, value: Any) -> list[ShapeDifference]:
    differences: list[ShapeDifference] = []
    errors: Iterable[SchemaValidationError] = validator.iter_errors(value)
    for error in errors:  # the caller sorts by path
        path = "".join(_pointer("", p) for p in error.absolute_path)
        required: Any = error.validator_value
        if error.validator == "required" and isinstance(required, list):
            # Name the missing field itself, not the object that lacks it.
            for name in required:
                if error.message == f"{name!r} is a required property":
                    path = _pointer(path, name)
                    break
        casing = _enum_casing_match(error)
        if casing is not None:
            differences.append(
                ShapeDifference(
                    kind="enum_casing",
                    path=path,
                    message=f"{error.instance!r} is not in the schema's enum; it differs from "
                    f"{casing!r} only in letter case",
                    recorded=casing,
                    live=error.instance,
                )
            )
            continue
        differences.append(
            ShapeDifference(
                kind="schema_violation",
                path=path,
                message=f"{error.message} (schema: {'/'.join(map(str, error.schema_path))})",
                live=error.instance
                if _json_type(error.instance) not in ("object", "array")
                else _json_type(error.instance),
            )
        )
    return differences


def _enum_casing_match(error: SchemaValidationError) -> str | None:
    """The enum (or const) value the instance matches but for letter case, if any."""
    if not isinstance(error.instance, str):
        return None
    expected: Any = error.validator_value
    if error.validator == "enum" and isinstance(expected, list | tuple):
        allowed = expected
    elif error.validator == "const":
        allowed = [expected]
    else:
        return None
    folded = error.instance.casefold()
    for option in allowed:
        if isinstance(option, str) and option != error.instance and option.casefold() == folded:
            return option
    return None


def _length_drift(recorded: int, live: int, bounds: tuple[float, float]) -> ShapeDifference | None:
    low, high = bounds
    if recorded == 0:
        if live == 0:
            return None
        ratio_text = "∞"
    else:
        ratio = live / recorded
        if low <= ratio <= high:
            return None
        ratio_text = f"{ratio:.2f}x"
    return ShapeDifference(
        kind="length_drift",
        path="",
        message=f"the live output has {live} characters, {ratio_text} the recorded {recorded} "
        f"(allowed {low:g}x to {high:g}x)",
        recorded=recorded,
        live=live,
    )


# -- checking a cassette against a live provider -------------------------------------------------


class ContractEntry(BaseModel):
    """The check of one recorded request: its differences, or the error that prevented it."""

    model_config = ConfigDict(extra="forbid")

    request_hash: str
    model: str
    recorded_model: str | None = None
    live_model: str | None = None
    recorded_length: int = 0
    live_length: int | None = None
    attempts: int = 0
    differences: list[ShapeDifference] = Field(default_factory=list)
    error: str | None = None
    error_class: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model_changed(self) -> bool:
        """The live call was served by another resolved model than the recorded one."""
        return self.live_model is not None and self.live_model != self.recorded_model

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.error is None and not self.differences


class ContractReport(BaseModel):
    """What :func:`check_contract` found, entry by entry, in cassette order."""

    model_config = ConfigDict(extra="forbid")

    cassette: str
    provider: str
    model_snapshot: str | None
    n_recorded: int
    n_without_request: int
    sample: int | None
    seed: int
    length_bounds: tuple[float, float] | None
    schema_checked: bool
    entries: list[ContractEntry]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_checked(self) -> int:
        return sum(1 for e in self.entries if e.error is None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_broken(self) -> int:
        """Entries whose live output differs in shape."""
        return sum(1 for e in self.entries if e.differences)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_errors(self) -> int:
        """Entries the live provider could not answer (the contract is unverified there)."""
        return sum(1 for e in self.entries if e.error is not None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def live_models(self) -> list[str]:
        """The resolved models that served the live calls, sorted."""
        return sorted({e.live_model for e in self.entries if e.live_model})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """Every sampled entry was answered and none changed shape."""
        return all(e.ok for e in self.entries)

    def broken_fields(self) -> list[tuple[str, str, int]]:
        """``(path, kind, number of entries)`` for every difference found, most frequent first."""
        counts: Counter[tuple[str, str]] = Counter()
        for entry in self.entries:
            for key in {(d.path, d.kind) for d in entry.differences}:
                counts[key] += 1
        return [(p, k, n) for (p, k), n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]


async def check_contract(
    cassette_path: str | Path,
    provider: Provider,
    *,
    sample: int | None = None,
    seed: int = 0,
    schema: dict[str, Any] | None = None,
    length_bounds: tuple[float, float] | None = DEFAULT_LENGTH_BOUNDS,
    concurrency: int = 4,
    retries: int = 2,
) -> ContractReport:
    """Re-send recorded requests to ``provider`` and compare each answer's shape (A7).

    ``sample`` picks that many recorded requests at random (seeded by ``seed``, reported in
    cassette order); ``None`` checks them all. Expired cassettes are checked too (refreshing
    them is what the check is for). A call that fails with a retryable error is tried again up
    to ``retries`` times (waiting ``Retry-After`` when given, capped at 30 s); one that still
    fails is reported on its entry, never raised. At most ``concurrency`` calls are in flight.
    The provider is not closed. Raises :class:`~assay.core.ConfigError` for a cassette that
    cannot be read or keeps no requests, a bad ``sample`` or an invalid schema.
    """
    cassette = Cassette.load(cassette_path)
    where = str(cassette.path)
    validator = _schema_validator(schema) if schema is not None else None
    if length_bounds is not None and not 0 <= length_bounds[0] <= length_bounds[1]:
        raise ConfigError(
            f"length bounds {length_bounds} are not 0 <= low <= high", where="length_bounds"
        )
    if sample is not None and sample < 1:
        raise ConfigError(f"sample must be at least 1, not {sample}", where="sample")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {concurrency}", where="concurrency")
    keys = [key for key in cassette.outputs if key in cassette.requests]
    if not cassette.outputs:
        raise ConfigError("the cassette has no recorded calls", where=where, fix="record some")
    if not keys:
        raise ConfigError(
            "no entry in the cassette keeps its request, so nothing can be sent again",
            where=where,
            fix="re-record it with this version of assay (--record)",
        )
    if sample is not None and sample < len(keys):
        chosen = set(random.Random(seed).sample(keys, sample))
        keys = [key for key in keys if key in chosen]

    gate = asyncio.Semaphore(concurrency)

    async def check(key: str) -> ContractEntry:
        request = cassette.requests[key]
        recorded = cassette.outputs[key]
        entry = ContractEntry(
            request_hash=key,
            model=request.model,
            recorded_model=recorded.model,
            recorded_length=len(recorded.text),
        )
        async with gate:
            try:
                live = await _generate_with_retries(provider, request, retries, entry)
            except AssayError as exc:
                entry.error = str(exc)
                entry.error_class = exc.error_class if isinstance(exc, ProviderError) else exc.code
                return entry
        entry.live_model = live.model
        entry.live_length = len(live.text)
        entry.differences = _compare(recorded.text, live.text, validator, length_bounds)
        return entry

    entries = await asyncio.gather(*(check(key) for key in keys))
    return ContractReport(
        cassette=where,
        provider=provider.name,
        model_snapshot=cassette.header.model_snapshot,
        n_recorded=len(cassette.outputs),
        n_without_request=len(cassette.outputs) - len(cassette.requests),
        sample=sample,
        seed=seed,
        length_bounds=length_bounds,
        schema_checked=schema is not None,
        entries=list(entries),
    )


async def _generate_with_retries(
    provider: Provider, request: ModelRequest, retries: int, entry: ContractEntry
) -> Output:
    for attempt in range(retries + 1):
        entry.attempts = attempt + 1
        try:
            return await provider.generate(request)
        except ProviderError as exc:
            if not exc.retryable or attempt == retries:
                raise
            wait = exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt
            await asyncio.sleep(min(wait, _MAX_RETRY_WAIT_S))
    raise AssertionError("unreachable")  # pragma: no cover
