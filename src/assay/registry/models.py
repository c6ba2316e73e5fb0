"""The model inventory (K3): every model the project uses, who uses it, and when it goes away.

Models are gathered from eval specs (subjects, ``pairwise`` judges and judge scorers), stored
runs (the requested model and every resolved snapshot a run saw) and production traces
(``spans.model_requested``/``model_resolved``, by route and service). End-of-life facts — the
announced date, the replacement, where the notice came from — are entered by the user
(``assay models eol set`` or a YAML file) and stored; nothing is fetched from the internet.

:func:`check` classifies every model with an EOL date: ``expired`` (date passed),
``critical`` (within ``critical_days``, default 14), ``warning`` (within ``warning_days``,
default 60) or ``ok``.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assay.core import AssayError
from assay.store.tables import model_eol, spans, traces

if TYPE_CHECKING:
    from assay.run.yamlfile import LocatedYaml
    from assay.store import Store

DEFAULT_WARNING_DAYS = 60
DEFAULT_CRITICAL_DAYS = 14
#: ``assay models check`` exit codes (2 stays "bad input", as for every command).
EXIT_WARNING = 1
EXIT_CRITICAL = 3


@dataclass(frozen=True)
class EolEntry:
    """What the user entered about one model's end of life."""

    model: str
    eol_date: date | None
    replacement: str | None = None
    provider: str | None = None
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "eol_date": self.eol_date.isoformat() if self.eol_date else None,
            "replacement": self.replacement,
            "notice": self.notice,
        }


@dataclass
class ModelUse:
    """One model in the inventory."""

    model: str
    provider: str | None = None
    snapshots: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    eol: EolEntry | None = None
    days_left: int | None = None
    status: str = "no eol date"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "snapshots": self.snapshots,
            "consumers": self.consumers,
            "eol_date": self.eol.eol_date.isoformat() if self.eol and self.eol.eol_date else None,
            "replacement": self.eol.replacement if self.eol else None,
            "notice": self.eol.notice if self.eol else None,
            "days_left": self.days_left,
            "status": self.status,
        }


def parse_date(value: Any, where: str) -> date:
    """An ISO date (``2027-01-31``) or raise naming ``where``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise AssayError(
            f"{value!r} is not a date", where=where, fix="write the date as YYYY-MM-DD"
        ) from None


def set_eol(store: Store, entry: EolEntry) -> None:
    """Store (or replace) the EOL facts of ``entry.model``."""
    if not entry.model.strip():
        raise AssayError(
            "empty model name", where="MODEL", fix="name the model, e.g. openai/gpt-4o"
        )
    values = entry.to_dict() | {"updated_at": datetime.now(UTC)}
    with store.engine.begin() as conn:
        conn.execute(model_eol.delete().where(model_eol.c.model == entry.model))
        conn.execute(model_eol.insert().values(**values))


def eol_entries(store: Store) -> list[EolEntry]:
    """Every stored EOL entry, by model."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(model_eol).order_by(model_eol.c.model)).all()
    return [
        EolEntry(
            r.model,
            date.fromisoformat(r.eol_date) if r.eol_date else None,
            r.replacement,
            r.provider,
            r.notice,
        )
        for r in rows
    ]


def eol_from_yaml(doc: LocatedYaml) -> list[EolEntry]:
    """Entries from a YAML document ``{models: [{model, eol, replacement?, provider?,
    notice?}, …]}``; errors name the file, line and key."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise AssayError(
            "expected a mapping with a `models:` list",
            where=doc.where(()),
            fix="write models: [{model: openai/gpt-4o, eol: 2027-01-31, replacement: …}]",
        )
    out: list[EolEntry] = []
    allowed = {"model", "eol", "replacement", "provider", "notice"}
    for i, item in enumerate(data["models"]):
        if not isinstance(item, dict):
            raise AssayError("each entry is a mapping", where=doc.where(("models", i)))
        for key in item:
            if key not in allowed:
                raise AssayError(
                    f"unknown key '{key}'",
                    where=doc.where(("models", i, key)),
                    fix="keys: " + ", ".join(sorted(allowed)),
                )
        if not item.get("model"):
            raise AssayError("missing required key 'model'", where=doc.where(("models", i)))
        eol = item.get("eol")
        out.append(
            EolEntry(
                str(item["model"]),
                None if eol is None else parse_date(eol, doc.where(("models", i, "eol"))),
                None if item.get("replacement") is None else str(item["replacement"]),
                None if item.get("provider") is None else str(item["provider"]),
                None if item.get("notice") is None else str(item["notice"]),
            )
        )
    return out


def _split(ref: str) -> tuple[str | None, str]:
    provider, sep, model = ref.partition("/")
    return (provider, model) if sep else (None, ref)


def _spec_models(path: Path) -> list[tuple[str, str]]:
    """``(model reference, consumer)`` pairs of one spec file."""
    from assay.run.yamlfile import load_yaml

    doc = load_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    name = str(data.get("name") or path.stem)
    out: list[tuple[str, str]] = []
    for s in data.get("subjects") or []:
        if isinstance(s, dict) and isinstance(s.get("model"), str):
            consumer = f"spec {name} ({path}) subject {s.get('name')}"
            prompt = s.get("prompt")
            if isinstance(prompt, str) and prompt.startswith("registry:"):
                consumer += f" with prompt {prompt.removeprefix('registry:')}"
            out.append((s["model"], consumer))
    pairwise = data.get("pairwise")
    if isinstance(pairwise, dict):
        judges = pairwise.get("judge")
        for j in judges if isinstance(judges, list) else [judges]:
            if isinstance(j, str):
                out.append((j, f"spec {name} ({path}) pairwise judge"))
    for entry in data.get("scorers") or []:
        if isinstance(entry, dict):
            for kind, options in entry.items():
                model = options if isinstance(options, str) else (options or {}).get("model")
                if isinstance(model, str) and "/" in model:
                    out.append((model, f"spec {name} ({path}) scorer {kind}"))
    return out


def inventory(
    store: Store,
    *,
    specs: list[str] | None = None,
    today: date | None = None,
    warning_days: int = DEFAULT_WARNING_DAYS,
    critical_days: int = DEFAULT_CRITICAL_DAYS,
    runs: bool = True,
) -> list[ModelUse]:
    """Every model referenced by ``specs`` (paths or globs), stored runs and traces, with its
    consumers, snapshots seen and EOL status as of ``today`` (default: today, UTC)."""
    today = today or datetime.now(UTC).date()
    uses: dict[str, ModelUse] = {}

    def use(ref: str, provider: str | None = None) -> ModelUse:
        if provider is None:
            provider, _ = _split(ref)
        key = ref if "/" in ref or provider is None else f"{provider}/{ref}"
        entry = uses.setdefault(key, ModelUse(key, provider))
        return entry

    def add(entry: ModelUse, consumer: str | None = None, snapshot: str | None = None) -> None:
        if consumer and consumer not in entry.consumers:
            entry.consumers.append(consumer)
        if snapshot and snapshot not in entry.snapshots:
            entry.snapshots.append(snapshot)

    for pattern in specs or []:
        paths = sorted(glob.glob(pattern)) or [pattern]
        for p in paths:
            path = Path(p)
            if not path.is_file():
                raise AssayError(
                    f"spec file not found: {p}", where="--spec", fix="give a spec path or glob"
                )
            for ref, consumer in _spec_models(path):
                add(use(ref), consumer)
    if runs:
        # Stored runs, newest first: one consumer per (eval, subject or judge), with its count.
        seen: dict[tuple[str, str], list[Any]] = {}
        for info in store.list_runs():
            manifest = store.get_manifest(info.id)
            used = [
                (s.requested_model, s.provider, f"subject {s.name}", s.resolved_models)
                for s in manifest.subjects
                if s.requested_model
            ]
            used += [
                (j.model, j.provider, f"judge {j.name}", j.resolved_models) for j in manifest.judges
            ]
            for model, provider, role, resolved in used:
                entry = use(model, provider)
                for snap in resolved:
                    add(entry, snapshot=snap)
                group = seen.setdefault(
                    (entry.model, f"eval {info.name} {role}"), [entry, 0, info.id]
                )
                group[1] += 1
        for (_, consumer), (entry, count, latest) in seen.items():
            add(entry, f"{consumer} ({count} run{'s' if count > 1 else ''}, latest {latest})")
    query = (
        select(
            spans.c.provider,
            spans.c.model_requested,
            spans.c.model_resolved,
            traces.c.route,
            traces.c.service,
        )
        .select_from(spans.outerjoin(traces, spans.c.trace_id == traces.c.id))
        .where(spans.c.model_requested.is_not(None))
        .distinct()
    )
    with store.engine.connect() as conn:
        for provider, requested, resolved, route, service in conn.execute(query):
            entry = use(requested, provider)
            if route:
                add(entry, f"route {route}")
            elif service:
                add(entry, f"service {service}")
            add(entry, snapshot=resolved)
    for eol in eol_entries(store):
        matches = [
            u
            for u in uses.values()
            if eol.model in (u.model, _split(u.model)[1]) or eol.model in u.snapshots
        ]
        if not matches:
            matches = [use(eol.model, eol.provider)]
        for u in matches:
            if u.eol is None or (
                eol.eol_date and (not u.eol.eol_date or eol.eol_date < u.eol.eol_date)
            ):
                u.eol = eol
    for u in uses.values():
        if u.eol is None or u.eol.eol_date is None:
            continue
        u.days_left = (u.eol.eol_date - today).days
        if u.days_left < 0:
            u.status = "expired"
        elif u.days_left <= critical_days:
            u.status = "critical"
        elif u.days_left <= warning_days:
            u.status = "warning"
        else:
            u.status = "ok"
    order = {"expired": 0, "critical": 1, "warning": 2, "ok": 3, "no eol date": 4}
    return sorted(uses.values(), key=lambda u: (order[u.status], u.days_left or 0, u.model))


def check_exit_code(models: list[ModelUse]) -> int:
    """0 when nothing is inside a window, :data:`EXIT_WARNING` inside the warning window,
    :data:`EXIT_CRITICAL` inside the critical window or past the date."""
    statuses = {m.status for m in models}
    if statuses & {"expired", "critical"}:
        return EXIT_CRITICAL
    if "warning" in statuses:
        return EXIT_WARNING
    return 0
