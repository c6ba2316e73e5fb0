"""What a team declares about its agents: tools, jobs and their steps, validators, actors.

One YAML file, every section optional (``assay agents …`` and ``assay jobs …`` take it as
``--spec``)::

    tools:
      create_order:
        side_effect: write          # read (none), write, or irreversible
        intent: [customer_id, sku, quantity]   # argument fields that make the logical intent
        window: 10m                 # same intent this close together = one intent (J2)
        scope: session              # compared within a session (default), trace, or global
        arguments_schema: schemas/create_order.json   # a file, or an inline JSON Schema
        result_schema: {type: object, required: [order_id]}
      lookup_order: {side_effect: read}
    jobs:
      fulfil_order:                 # a job: spans whose job.name (or root span name) is this
        steps: [reserve, charge, pick, pack, ship, notify]
        completion: job.completed   # the completion callback: an event or span of this name
        timeout: 1h                 # no completion this long after the start: stalled
        validators:                 # semantic checks of the job's output (J4)
          - name: unknown_sku       # DLQ reason: semantic:unknown_sku
            field: items[].sku      # where in the (JSON) output
            catalog: {path: fixtures/catalog.jsonl, column: sku}
          - name: bad_total
            python: checks:total_matches   # (output, job) -> None/True, or a reason / False
    actors:                         # actor name -> human, agent or system (J6)
      zendesk: system
      triage-agent: agent
      support-desk: human
    handoffs:                       # tool name -> the actor a call of it hands the case to
      escalate_to_human: zendesk
      delegate_to_specialist: specialist-agent

Paths are relative to the file. Errors name ``file:line (key)``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.core import SpecError
from assay.run.declarations import load_declaration, parse_duration, resolve_path
from assay.run.yamlfile import LocatedYaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolDecl(_Strict):
    """One tool: its side effect, the fields of its logical intent, its schemas."""

    side_effect: Literal["read", "write", "irreversible"] = "read"
    intent: list[str] | None = None
    window: str | float = "10m"
    scope: Literal["session", "trace", "global"] = "session"
    arguments_schema: str | dict[str, Any] | None = None
    result_schema: str | dict[str, Any] | None = None


class CatalogDecl(_Strict):
    """A lookup table: the output's value must appear in ``column`` of the file at ``path``
    (JSONL, JSON list, CSV, or a text file with one value a line)."""

    path: str
    column: str | None = None


class ValidatorDecl(_Strict):
    """A semantic validator of a job's output: a catalog lookup or a Python function."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    field: str | None = None
    catalog: CatalogDecl | None = None
    python: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ValidatorDecl:
        if (self.catalog is None) == (self.python is None):
            raise ValueError("a validator needs exactly one of `catalog` or `python`")
        if self.catalog is not None and not self.field:
            raise ValueError("a catalog validator needs `field`: where the value is in the output")
        return self


class JobDecl(_Strict):
    """One kind of job: its steps, its completion callback, its validators."""

    steps: list[str] = Field(min_length=1)
    completion: str = "job.completed"
    ack: str = "job.step.ack"
    timeout: str | float | None = None
    validators: list[ValidatorDecl] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_steps(self) -> JobDecl:
        seen = [s for i, s in enumerate(self.steps) if s in self.steps[:i]]
        if seen:
            raise ValueError(f"step {seen[0]!r} is declared twice")
        return self


class AgentsSpec(_Strict):
    """The whole declaration file."""

    tools: dict[str, ToolDecl] = Field(default_factory=dict)
    jobs: dict[str, JobDecl] = Field(default_factory=dict)
    actors: dict[str, Literal["human", "agent", "system"]] = Field(default_factory=dict)
    handoffs: dict[str, str] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass
class ToolRules:
    """A tool's declaration with its window parsed and its schemas loaded."""

    name: str
    side_effect: str
    intent: list[str] | None
    window: timedelta
    scope: str
    arguments_schema: dict[str, Any] | None
    result_schema: dict[str, Any] | None


@dataclass
class Validator:
    """A loaded validator: ``check(output, job)`` returns ``None`` when the output passes,
    else the detail of what is wrong."""

    name: str
    where: str
    check: Callable[[Any, Any], str | None]

    @property
    def reason(self) -> str:
        return f"semantic:{self.name}"


@dataclass
class JobRules:
    name: str
    steps: list[str]
    completion: str
    ack: str
    timeout: timedelta | None
    validators: list[Validator]
    where: str


@dataclass
class Declarations:
    """A loaded declaration file (:func:`load_agents_spec`)."""

    tools: dict[str, ToolRules]
    jobs: dict[str, JobRules]
    actors: dict[str, str]
    handoffs: dict[str, str]
    providers: dict[str, dict[str, Any]]
    doc: LocatedYaml | None = None
    base_dir: Path | None = None

    @classmethod
    def empty(cls) -> Declarations:
        return cls({}, {}, {}, {}, {})


def _where(doc: LocatedYaml | None, *path: str | int) -> str:
    return doc.where(path) if doc else ".".join(str(p) for p in path)


def load_schema(value: str | dict[str, Any] | None, doc: LocatedYaml | None, where: str) -> Any:
    """A JSON Schema given inline or as a file path; checked to be a valid schema."""
    if value is None:
        return None
    if isinstance(value, str):
        path = resolve_path(doc, value)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(
                f"schema file {value!r} not found",
                where=where,
                fix="paths are relative to the file",
            ) from None
        except ValueError as exc:
            raise SpecError(f"schema file {value!r} is not JSON: {exc}", where=where) from None
    else:
        schema = value
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise SpecError(f"not a valid JSON Schema: {exc.message}", where=where) from None
    return schema


def read_catalog(path: Path, column: str | None, where: str) -> set[str]:
    """The set of values in ``column`` of a JSONL, JSON, CSV or plain-text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"catalog file {str(path)!r} not found",
            where=where,
            fix="paths are relative to the file",
        ) from None
    values: set[str] = set()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        rows: list[Any]
        if suffix == ".json":
            try:
                loaded = json.loads(text)
            except ValueError as exc:
                raise SpecError(f"{path}: not JSON: {exc}", where=where) from None
            rows = loaded if isinstance(loaded, list) else [loaded]
        else:
            rows = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise SpecError(f"not JSON: {exc}", where=f"{path}:{number}") from None
        for row in rows:
            if isinstance(row, dict):
                if column is None:
                    raise SpecError(
                        "the catalog holds objects: name the `column` to look values up in",
                        where=where,
                    )
                if column in row and row[column] is not None:
                    values.add(str(row[column]))
            elif row is not None:
                values.add(str(row))
    elif suffix == ".csv":
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        if column is None or column not in (reader.fieldnames or []):
            raise SpecError(
                f"the catalog has no column {column!r} "
                f"(columns: {', '.join(reader.fieldnames or [])})",
                where=where,
            )
        values = {row[column] for row in reader if row.get(column)}
    else:
        values = {line.strip() for line in text.splitlines() if line.strip()}
    return values


def values_at(data: Any, path: str) -> list[Any] | None:
    """The values at a dotted path (``items[].sku``: every item's sku); ``None`` when the path
    does not exist in ``data``."""
    current: list[Any] = [data]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        found: list[Any] = []
        for value in current:
            if key:
                if not isinstance(value, dict) or key not in value:
                    continue
                value = value[key]
            if each:
                if isinstance(value, list):
                    found.extend(value)
            else:
                found.append(value)
        if not found:
            return None
        current = found
    return current


def _catalog_check(
    decl: ValidatorDecl, doc: LocatedYaml | None, where: str
) -> Callable[[Any, Any], str | None]:
    assert decl.catalog is not None and decl.field is not None
    catalog = read_catalog(resolve_path(doc, decl.catalog.path), decl.catalog.column, where)
    field, source = decl.field, decl.catalog.path

    def check(output: Any, job: Any) -> str | None:
        values = values_at(output, field)
        if values is None:
            return f"the output has no {field!r}"
        unknown = sorted({str(v) for v in values if str(v) not in catalog})
        if unknown:
            return f"{field} {', '.join(unknown)} not in the catalog {source}"
        return None

    return check


def import_function(ref: str, where: str, base: Path | None) -> Callable[..., Any]:
    """``module:function`` imported (the declaration's folder is on the path)."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise SpecError(
            f"{ref!r} is not module:function", where=where, fix="write e.g. checks:sku_ok"
        )
    if base is not None and str(base) not in sys.path:
        sys.path.insert(0, str(base))
    try:
        fn: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            fn = getattr(fn, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot import {ref!r}: {exc}", where=where) from None
    if not callable(fn):
        raise SpecError(f"{ref!r} is not callable", where=where)
    return fn  # type: ignore[no-any-return]


def _python_check(
    decl: ValidatorDecl, base: Path | None, where: str
) -> Callable[[Any, Any], str | None]:
    assert decl.python is not None
    fn = import_function(decl.python, where, base)
    field = decl.field

    def check(output: Any, job: Any) -> str | None:
        value = output
        if field:
            values = values_at(output, field)
            if values is None:
                return f"the output has no {field!r}"
            value = values[0] if len(values) == 1 else values
        verdict = fn(value, job)
        if verdict is None or verdict is True:
            return None
        if verdict is False:
            return f"{decl.python} rejected the output"
        return str(verdict)

    return check


def build_declarations(spec: AgentsSpec, doc: LocatedYaml | None = None) -> Declarations:
    """Parse windows and timeouts, load schemas and catalogs, import validator functions."""
    base = Path(doc.filename).resolve().parent if doc else None
    tools: dict[str, ToolRules] = {}
    for name, tool in spec.tools.items():
        tools[name] = ToolRules(
            name=name,
            side_effect=tool.side_effect,
            intent=tool.intent,
            window=parse_duration(tool.window, where=_where(doc, "tools", name, "window")),
            scope=tool.scope,
            arguments_schema=load_schema(
                tool.arguments_schema, doc, _where(doc, "tools", name, "arguments_schema")
            ),
            result_schema=load_schema(
                tool.result_schema, doc, _where(doc, "tools", name, "result_schema")
            ),
        )
    jobs: dict[str, JobRules] = {}
    for name, job in spec.jobs.items():
        validators = []
        for i, v in enumerate(job.validators):
            where = _where(doc, "jobs", name, "validators", i)
            check = _catalog_check(v, doc, where) if v.catalog else _python_check(v, base, where)
            validators.append(Validator(v.name, where, check))
        timeout = (
            parse_duration(job.timeout, where=_where(doc, "jobs", name, "timeout"))
            if job.timeout is not None
            else None
        )
        jobs[name] = JobRules(
            name,
            list(job.steps),
            job.completion,
            job.ack,
            timeout,
            validators,
            _where(doc, "jobs", name),
        )
    return Declarations(
        tools=tools,
        jobs=jobs,
        actors=dict(spec.actors),
        handoffs=dict(spec.handoffs),
        providers=dict(spec.providers),
        doc=doc,
        base_dir=base,
    )


def load_agents_spec(path: str | Path | None) -> Declarations:
    """Read an agents declaration file (``None``: nothing declared)."""
    if path is None:
        return Declarations.empty()
    spec, doc = load_declaration(path, AgentsSpec, "an agents declaration")
    return build_declarations(spec, doc)
