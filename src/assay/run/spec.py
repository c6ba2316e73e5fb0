"""The eval spec: YAML (or a dict) describing dataset, subjects, scorers, epochs, slices, seed.

```yaml
name: support-qa
dataset:
  path: data/qa.jsonl            # .jsonl .json .csv .parquet .yaml, or `samples:` inline
  fields: {input: question, target: answer}
slices: [topic]
epochs: 1
seed: 7
providers:                       # optional; built-in kinds work without an entry
  local: {type: vllm, base_url: "http://127.0.0.1:8000/v1"}
subjects:
  - name: baseline
    model: sim/atlas-large       # <provider>/<model>
    prompt: prompts/v1.txt       # a file, or inline text with {{ input }}
    params: {temperature: 0}
scorers: [exact, {includes: {ignore_punctuation: true}}, {rubric: sim/judge-fair}]
lineage: {"acme-chat-*": acme}   # optional: extra model-name patterns -> lineage family (C3)
pairwise:                        # optional: a pairwise judge run of two subjects, after the run
  judge: sim/judge-fair
  a: baseline
  b: candidate
redact_pii: true                 # optional: redact PII from everything the run stores
anchors: anchors.jsonl           # optional: frozen outputs every judge re-scores each run (C5)
```

Every error names the spec file, the line and the key, e.g.
``eval.yaml:9 (subjects[0].model): unknown provider 'opneai'``.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.core import AssayError, Output, Sample, SpecError
from assay.data import Dataset, FieldMap, dataset_from_records, load_dataset
from assay.providers import Provider, create_provider, known_provider_kinds
from assay.providers.lineage import default_registry
from assay.run.evaluation import Eval, register_spec_loader
from assay.run.gateway import CallPolicy
from assay.run.prompt import PromptTemplate
from assay.run.subjects import (
    CallableSubject,
    HttpSubject,
    ModelSubject,
    PrecomputedSubject,
    Subject,
)
from assay.run.yamlfile import LocatedYaml, format_path, load_yaml, parse_yaml
from assay.score import Scorer, ScorerContext, create_scorer, exact

_PROMPT_SUFFIXES = (".txt", ".md", ".prompt", ".jinja", ".tmpl")
_TEMPLATE_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def _looks_like_path(value: str) -> bool:
    """A one-line value that names a file rather than being the prompt itself: no spaces and
    no ``{{`` placeholder (``prompts/v1.txt``, ``v1.md``, ``prompt_v1``)."""
    text = value.strip()
    return bool(text) and "{{" not in text and not any(c.isspace() for c in text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """Where the samples come from."""

    path: str | None = None
    samples: list[dict[str, Any]] | None = None
    name: str | None = None
    fields: FieldMap = Field(default_factory=FieldMap)
    provenance: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.samples is None):
            raise ValueError("give exactly one of `path` (a file) or `samples` (inline rows)")
        return self


class HttpSpec(_Strict):
    url: str
    output_path: str = "output"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = 60.0


class ConversationSpec(_Strict):
    """A multi-turn subject (:mod:`assay.run.conversation`): the subject talks with a simulated
    user for up to ``max_turns`` turns and the whole conversation is graded. ``user`` is
    ``scripted`` (the sim world's user: the sample's input, then ``metadata.turns`` or
    ``follow_up``, until an answer contains the target) or ``<provider>/<model>`` (a model
    playing a user with ``persona`` and ``goal``, or the sample's ``metadata``)."""

    user: str = "scripted"
    max_turns: int = Field(default=4, ge=1, le=50)
    persona: str | None = None
    goal: str | None = None
    follow_up: str | None = None


class SubjectSpec(_Strict):
    """One subject: exactly one of ``model``, ``callable``, ``outputs`` or ``http``; with
    ``conversation``, a model, callable or HTTP subject holds a multi-turn conversation."""

    name: str
    model: str | None = None
    prompt: str | None = None
    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    callable: str | None = None
    outputs: str | None = None
    id_field: str = "id"
    output_field: str = "output"
    http: HttpSpec | None = None
    conversation: ConversationSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SubjectSpec:
        kinds = [
            k for k in ("model", "callable", "outputs", "http") if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a subject needs exactly one of `model`, `callable`, `outputs` or `http`"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if (self.prompt or self.system) and self.model is None:
            raise ValueError("`prompt` and `system` only apply to `model` subjects")
        if self.conversation is not None and self.outputs is not None:
            raise ValueError("`conversation` needs a subject that answers: model, callable or http")
        return self


class LimitsSpec(_Strict):
    """How calls are paced and retried (see :class:`~assay.run.gateway.CallPolicy`)."""

    max_retries: int = Field(default=5, ge=0)
    timeout: float | None = Field(default=120.0, gt=0)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    backoff_base: float = Field(default=1.0, ge=0)
    backoff_cap: float = Field(default=60.0, ge=0)


class PriceSpec(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class PairwiseSpec(_Strict):
    """A pairwise judge run made after the main run: subjects ``a`` and ``b`` of this spec,
    compared sample by sample by ``judge`` (one ``<provider>/<model>``, or a list: a panel)."""

    judge: str | list[str]
    a: str
    b: str
    name: str = "judge"
    both_orders: bool = True
    rubric: str | None = None
    reference: bool = False
    prompt: str | None = None
    system: str | None = None
    style: str = "json"
    params: dict[str, Any] = Field(default_factory=dict)
    logprobs: bool = False
    top_logprobs: int = 5
    aggregate: str = "mean"

    def judge_options(self) -> dict[str, Any]:
        """The options of :class:`~assay.score.judges.PairwiseJudge`."""
        return self.model_dump(exclude={"a", "b", "name"})


class EvalSpec(_Strict):
    """The whole spec."""

    name: str
    description: str | None = None
    dataset: DatasetSpec
    subjects: list[SubjectSpec] = Field(min_length=1)
    scorers: list[str | dict[str, dict[str, Any] | str | None]] = Field(
        default_factory=lambda: list[str | dict[str, dict[str, Any] | str | None]](["exact"])
    )
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    epochs: int = Field(default=1, ge=1)
    seed: int = 0
    slices: list[str] = Field(default_factory=list)
    cluster: str | None = None
    #: The retrieval index snapshot a RAG subject answers from (A1), recorded in the manifest.
    index_snapshot: str | None = None
    concurrency: int = Field(default=16, ge=1, le=4096)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    prices: dict[str, PriceSpec] = Field(default_factory=dict)
    lineage: dict[str, str] = Field(default_factory=dict)
    pairwise: PairwiseSpec | None = None
    redact_pii: bool = Field(default=False, strict=True)
    anchors: str | None = None

    @model_validator(mode="after")
    def _pairwise_subjects(self) -> EvalSpec:
        if self.pairwise is not None:
            names = [s.name for s in self.subjects]
            for side in ("a", "b"):
                if getattr(self.pairwise, side) not in names:
                    raise ValueError(
                        f"pairwise.{side} {getattr(self.pairwise, side)!r} is not a subject "
                        f"of this spec (subjects: {', '.join(names)})"
                    )
            if self.pairwise.a == self.pairwise.b:
                raise ValueError("pairwise.a and pairwise.b must be different subjects")
        return self


def _validation_error(
    exc: ValidationError, doc: LocatedYaml | None, prefix: tuple[str | int, ...] = ()
) -> SpecError:
    err = exc.errors()[0]
    loc = tuple(
        p
        for p in err["loc"]
        if not (
            isinstance(p, str)
            and (p == "str" or p.startswith(("dict[str,nullable[", "dict[str,union[")))
        )
    )
    path = (*prefix, *loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key '{loc[-1]}'"
    elif err["type"] == "missing":
        msg = f"missing required key '{loc[-1]}'"
    where = doc.where(path) if doc else (format_path(path) or "spec")
    more = len(exc.errors()) - 1
    return SpecError(
        msg + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""), where=where
    )


def parse_spec(data: Any, doc: LocatedYaml | None = None) -> EvalSpec:
    """Validate a spec mapping into an :class:`EvalSpec`."""
    if not isinstance(data, dict):
        raise SpecError(
            "a spec must be a YAML mapping with at least `name`, `dataset` and `subjects`",
            where=doc.where(()) if doc else "spec",
        )
    try:
        return EvalSpec.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, doc) from None


class _Builder:
    def __init__(self, spec: EvalSpec, base_dir: Path, doc: LocatedYaml | None) -> None:
        self.spec = spec
        self.base = base_dir
        self.doc = doc
        self.providers: dict[str, Provider] = {}
        self.lineage = (
            default_registry().extended(spec.lineage, source=self.where("lineage"))
            if spec.lineage
            else None
        )
        self.context = ScorerContext(
            base_dir=base_dir, resolve_model=self.resolve_model, lineage=self.lineage
        )

    def resolve_model(self, ref: str, where: str | None) -> tuple[Provider, str]:
        """The provider and model a ``<provider>/<model>`` reference names (judges use it)."""
        where = where or ref
        if "/" not in ref:
            raise SpecError(
                f"model '{ref}' does not name a provider",
                where=where,
                fix="write <provider>/<model>, e.g. openai/gpt-4o-mini or sim/judge-fair",
            )
        provider_name, model = ref.split("/", 1)
        return self.provider(provider_name, where), model

    def where(self, *path: str | int) -> str:
        return self.doc.where(path) if self.doc else format_path(path)

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def dataset(self) -> Dataset:
        d = self.spec.dataset
        if d.path is not None and d.path.startswith("registry:"):  # a dataset version (NAME@N)
            from assay.registry.datasets import resolve_dataset_ref

            rows, source = resolve_dataset_ref(d.path, where=self.where("dataset", "path"))
            return dataset_from_records(
                rows[: d.limit] if d.limit else rows,
                fields=d.fields,
                name=d.name or self.spec.name,
                source=source,
                provenance=d.provenance,
            )
        if d.path is not None:
            path = self.path(d.path)
            if not path.exists():
                raise SpecError(
                    f"dataset file not found: {path}",
                    where=self.where("dataset", "path"),
                    fix="paths are relative to the spec file's folder",
                )
            return load_dataset(
                path,
                fields=d.fields,
                name=d.name or self.spec.name,
                provenance=d.provenance,
                limit=d.limit,
            )
        assert d.samples is not None
        locations = [self.where("dataset", "samples", i) for i in range(len(d.samples))]
        rows = d.samples[: d.limit] if d.limit else d.samples
        locations = locations[: len(rows)]
        return dataset_from_records(
            rows,
            fields=d.fields,
            name=d.name or self.spec.name,
            source=self.doc.filename if self.doc else None,
            locations=locations,
            provenance=d.provenance,
        )

    def provider(self, name: str, where: str) -> Provider:
        if name in self.providers:
            return self.providers[name]
        if name in self.spec.providers:
            config = dict(self.spec.providers[name])
            kind = str(config.pop("type", name))
            pwhere = self.where("providers", name)
        elif name in known_provider_kinds():
            kind, config, pwhere = name, {}, where
        else:
            known = sorted(set(known_provider_kinds()) | set(self.spec.providers))
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            raise SpecError(
                f"unknown provider '{name}'",
                where=where,
                fix=(f"did you mean '{close[0]}'? " if close else "")
                + f"use <provider>/<model> with a provider from: {', '.join(known)}, "
                "or declare it under `providers:`",
            )
        if kind == "sim":
            config.setdefault("world_seed", self.spec.seed)
        provider = create_provider(kind, config, name=name, where=pwhere)
        self.providers[name] = provider
        return provider

    def prompt_text(self, value: str, where: str, field: str) -> tuple[str, str | None]:
        """A ``prompt:``/``system:`` value as text: the file it names, or the value itself.

        A one-line value without spaces or ``{{`` (``prompts/v1.txt``, ``prompt_v1``) names a
        file; when no such file exists it is an error, not the literal text "prompt_v1" sent to
        the model. Returns the text and the file's path (``None`` for inline text).
        """
        if value.startswith("registry:"):  # K1: NAME@LABEL from the prompt registry ($ASSAY_DB)
            from assay.registry.prompts import resolve_prompt_ref

            return resolve_prompt_ref(value, where=where)
        if "\n" in value:
            return value, None
        path = self.path(value)
        if not _looks_like_path(value):
            try:
                is_file = path.is_file()  # "my prompt.txt": a file name with a space
            except OSError:  # e.g. a long inline prompt is too long for a file name
                is_file = False
            if not is_file:
                return value, None
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except FileNotFoundError:
            raise SpecError(
                f"{field} file not found: {path}",
                where=where,
                fix="paths are relative to the spec file's folder; for inline text on purpose, "
                f"include {{{{ input }}}} or write it as a block (`{field}: |` and the text on "
                "the next lines)",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read {field} file {path}: {exc}", where=where) from None

    def prompt(self, s: SubjectSpec, i: int) -> PromptTemplate:
        where = self.where("subjects", i, "prompt")
        user, source = "{{ input }}", None
        if s.prompt:
            user, source = self.prompt_text(s.prompt, where, "prompt")
        system = s.system
        if system:
            system, _ = self.prompt_text(system, self.where("subjects", i, "system"), "system")
        return PromptTemplate(user=user, system=system, source=source or where)

    def check_prompt_variables(self, dataset: Dataset, subjects: list[Subject]) -> None:
        """Every ``{{ name }}`` of every model subject's prompt must have a value for every
        sample (``input``, or a metadata key they all have), checked before the run: a typo
        would otherwise fail every sample at run time."""
        text_samples = [s for s in dataset if isinstance(s.input, str)]
        everywhere: set[str] | None = None
        for sample in dataset:
            keys = set(sample.metadata)
            everywhere = keys if everywhere is None else everywhere & keys
        shared = everywhere or set()
        seen_anywhere = {k for sample in dataset for k in sample.metadata}
        for i, subject in enumerate(subjects):
            template = getattr(subject, "prompt", None)
            if not isinstance(template, PromptTemplate):
                continue
            parts = [("system", template.system)] if template.system else []
            if text_samples:
                parts.append(("prompt", template.user))
            for field, text in parts:
                for match in _TEMPLATE_VAR.finditer(text or ""):
                    name = match.group(1)
                    key = name.removeprefix("metadata.")
                    if name == "input" or key in shared:
                        continue
                    line = (text or "")[: match.start()].count("\n") + 1
                    spec_where = self.where("subjects", i, field)
                    in_file = (
                        f" ({template.source}:{line})"
                        if field == "prompt" and template.source and template.source != spec_where
                        else ""
                    )
                    available = ["input", *sorted(shared)]
                    import difflib

                    close = difflib.get_close_matches(key, available, n=1)
                    missing = (
                        f"is missing from {sum(key not in s.metadata for s in dataset)} of "
                        f"{len(dataset)} samples"
                        if key in seen_anywhere
                        else "is not a field of the dataset"
                    )
                    raise SpecError(
                        f"{field} variable {{{{ {name} }}}}{in_file} {missing}",
                        where=spec_where,
                        fix=(f"did you mean {{{{ {close[0]} }}}}? " if close else "")
                        + "available: "
                        + ", ".join(f"{{{{ {v} }}}}" for v in available),
                    )

    def subject(self, s: SubjectSpec, i: int) -> Subject:
        base = self._base_subject(s, i)
        if s.conversation is None:
            return base
        from assay.run.conversation import ConversationSubject, LLMUser, ScriptedUser

        c = s.conversation
        user: Any
        if c.user == "scripted":
            user = ScriptedUser(c.follow_up) if c.follow_up else ScriptedUser()
        else:
            where = self.where("subjects", i, "conversation")
            if "/" not in c.user:
                raise SpecError(
                    f"conversation user '{c.user}' is neither `scripted` nor <provider>/<model>",
                    where=where,
                    fix="write user: scripted, or user: openai/gpt-4o-mini",
                )
            provider_name, model = c.user.split("/", 1)
            kwargs: dict[str, Any] = {"goal": c.goal}
            if c.persona:
                kwargs["persona"] = c.persona
            user = LLMUser(self.provider(provider_name, where), model, **kwargs)
        return ConversationSubject(s.name, base, user, max_turns=c.max_turns)  # type: ignore[return-value]

    def _base_subject(self, s: SubjectSpec, i: int) -> Subject:
        if s.model is not None:
            where = self.where("subjects", i, "model")
            if "/" not in s.model:
                raise SpecError(
                    f"model '{s.model}' does not name a provider",
                    where=where,
                    fix="write <provider>/<model>, e.g. openai/gpt-4o-mini or sim/atlas-large",
                )
            provider_name, model = s.model.split("/", 1)
            provider = self.provider(provider_name, where)
            check = getattr(provider, "check_model", None)
            if check is not None:
                try:
                    check(model)
                except AssayError as exc:
                    exc.where = where
                    exc.args = (exc.render(),)
                    raise
            return ModelSubject(
                s.name, provider=provider, model=model, prompt=self.prompt(s, i), params=s.params
            )
        if s.callable is not None:
            return CallableSubject(
                s.name,
                self.import_callable(s.callable, self.where("subjects", i, "callable")),
                ref=s.callable,
            )
        if s.outputs is not None:
            return PrecomputedSubject(
                s.name, self.path(s.outputs), id_field=s.id_field, output_field=s.output_field
            )
        assert s.http is not None
        return HttpSubject(
            s.name,
            s.http.url,
            output_path=s.http.output_path,
            headers=s.http.headers,
            timeout=s.http.timeout,
        )

    def import_callable(self, ref: str, where: str) -> Any:
        module_name, _, attr = ref.partition(":")
        if not module_name or not attr:
            raise SpecError(
                f"'{ref}' is not module:function", where=where, fix="write e.g. myapp.bot:answer"
            )
        if str(self.base) not in sys.path:
            sys.path.insert(0, str(self.base))
        try:
            module = importlib.import_module(module_name)
            fn = module
            for part in attr.split("."):
                fn = getattr(fn, part)
        except (ImportError, AttributeError) as exc:
            raise SpecError(f"cannot import '{ref}': {exc}", where=where) from None
        if not callable(fn):
            raise SpecError(f"'{ref}' is not callable", where=where)
        return fn

    def anchors(self) -> list[tuple[Sample, Output]]:
        """The anchor set (``anchors:``), read relative to the spec."""
        if self.spec.anchors is None:
            return []
        from assay.run.anchors import load_anchors

        path = self.path(self.spec.anchors)
        if not path.exists():
            raise SpecError(
                f"anchor file {self.spec.anchors!r} not found",
                where=self.where("anchors"),
                fix="write the anchors as JSONL with id, input and output, or drop `anchors:`",
            )
        return load_anchors(path)

    def scorers(self) -> list[Scorer]:
        out: list[Scorer] = []
        for i, entry in enumerate(self.spec.scorers):
            where = self.where("scorers", i)
            if isinstance(entry, str):
                out.append(create_scorer(entry, {}, where=where, context=self.context))
            else:
                if len(entry) != 1:
                    raise SpecError("a scorer entry is a name or {name: {options}}", where=where)
                ((name, config),) = entry.items()
                options = config if isinstance(config, str) else dict(config or {})
                out.append(create_scorer(name, options, where=where, context=self.context))
        return out or [exact()]

    def build(self, raw: dict[str, Any] | None) -> Eval:
        dataset = self.dataset()
        for key in self.spec.slices:
            if not any(key in s.metadata for s in dataset):
                raise SpecError(
                    f"slice key '{key}' is not in any sample's metadata",
                    where=self.where("slices"),
                    fix="list metadata keys, e.g. "
                    + ", ".join(sorted({k for s in dataset for k in s.metadata})[:8]),
                )
        subjects = [self.subject(s, i) for i, s in enumerate(self.spec.subjects)]
        self.check_prompt_variables(dataset, subjects)
        scorers = self.scorers()
        try:
            return Eval(
                name=self.spec.name,
                dataset=dataset,
                subjects=subjects,
                scorers=scorers,
                epochs=self.spec.epochs,
                seed=self.spec.seed,
                slices=self.spec.slices,
                cluster=self.spec.cluster,
                index_snapshot=self.spec.index_snapshot,
                concurrency=self.spec.concurrency,
                spec=raw,
                project_dir=self.base,
                policy=CallPolicy(**self.spec.limits.model_dump()),
                prices={k: (v.input, v.output) for k, v in self.spec.prices.items()},
                lineage=self.lineage,
                pairwise=None if self.spec.pairwise is None else self.spec.pairwise.model_dump(),
                scorer_context=self.context,
                redact_pii=self.spec.redact_pii,
                anchors=self.anchors(),
            )
        except AssayError as exc:
            if self.doc and exc.where:
                exc.where = self.where(exc.where)
                exc.args = (exc.render(),)
            raise


def eval_from_spec(
    data: dict[str, Any], *, base_dir: str | Path = ".", doc: LocatedYaml | None = None
) -> Eval:
    """Build an :class:`Eval` from a spec mapping; relative paths resolve against ``base_dir``."""
    spec = parse_spec(data, doc)
    return _Builder(spec, Path(base_dir).resolve(), doc).build(data)


def load_eval(path: str | Path) -> Eval:
    """Build an :class:`Eval` from a YAML spec file."""
    doc = load_yaml(path)
    return eval_from_spec(doc.data, base_dir=Path(path).resolve().parent, doc=doc)


register_spec_loader(load_eval)  # Eval.from_yaml reads spec files with it


def eval_from_yaml_text(text: str, *, base_dir: str | Path = ".", filename: str = "<spec>") -> Eval:
    """Build an :class:`Eval` from YAML text (useful in notebooks and tests)."""
    doc = parse_yaml(text, filename)
    return eval_from_spec(doc.data, base_dir=base_dir, doc=doc)


def scorer_context_from_spec(path: str | Path) -> ScorerContext:
    """A :class:`~assay.score.ScorerContext` from a spec file's ``providers:``, ``lineage:``
    and ``seed`` alone (the rest of the file is not needed), for building judges outside a run
    of that spec (``assay judge --spec``)."""
    doc = load_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    try:
        providers = {str(k): dict(v) for k, v in (data.get("providers") or {}).items()}
        lineage = {str(k): str(v) for k, v in (data.get("lineage") or {}).items()}
        seed = int(data.get("seed", 0))
    except (TypeError, ValueError, AttributeError):
        raise SpecError(
            "providers, lineage and seed must be mappings and a number", where=doc.where(())
        ) from None
    spec = EvalSpec.model_construct(providers=providers, lineage=lineage, seed=seed)
    return _Builder(spec, Path(path).resolve().parent, doc).context
