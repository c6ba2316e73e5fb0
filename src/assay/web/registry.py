"""The change-management pages and their JSON API (issue 17): ``/prompts``,
``/prompts/{name}`` (versions, diff between versions, blame, promotions and linked runs),
``/models`` (the inventory with EOL countdowns), ``/claims`` (claims with their evidence
status) and ``/datasets``, ``/datasets/{name}`` (versions with counts per origin, forced removals
of incident cases with their reasons, and a diff between two versions); ``/api/…`` returns what
``assay prompts|models|claims|datasets … --json`` prints.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from assay.core import AssayError
from assay.store import Store
from assay.web.render import render
from assay.web.views import NotFound

Days = Annotated[int, Query(ge=0, le=3650)]
Ref = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000)]


def _not_found(error: AssayError) -> NotFound:
    return NotFound(error.message, where=error.where, fix=error.fix)


def prompt_data(store: Store, name: str, a: str | None, b: str | None) -> dict[str, Any]:
    """A prompt's versions, changes, promotions, blame of the newest version and a diff."""
    from assay.registry.edits import diff_edits
    from assay.registry.prompts import blame, get_changes, get_version, list_versions, promotions

    versions = list_versions(store, name)
    if not versions:
        raise NotFound(f"no prompt {name!r} in the registry", fix="see /prompts")
    try:
        old = get_version(
            store, f"{name}@{a}" if a else f"{name}@{versions[-1].version}", where="a"
        )
        if not a and len(versions) > 1:
            old = versions[-2]
        new = get_version(store, f"{name}@{b}" if b else name, where="b")
    except AssayError as error:
        raise _not_found(error) from None
    changes: dict[int, list[dict[str, Any]]] = {}
    for c in get_changes(store, name):
        changes.setdefault(c.version, []).append(c.to_dict())
    return {
        "name": name,
        "versions": [v.to_dict() | {"changes": changes.get(v.version, [])} for v in versions],
        "promotions": promotions(store, name),
        "blame": [line.to_dict() for line in blame(store, name)],
        "diff": {
            "old": old.ref,
            "new": new.ref,
            "edits": [e.to_dict() for e in diff_edits(old.content, new.content)],
        },
    }


def models_data(store: Store, warning_days: int, critical_days: int) -> list[dict[str, Any]]:
    from assay.registry.models import inventory

    if critical_days > warning_days:
        raise AssayError(
            "critical_days is larger than warning_days", where="critical_days", fix="e.g. 14 and 60"
        )
    return [
        m.to_dict()
        for m in inventory(store, warning_days=warning_days, critical_days=critical_days)
    ]


def claims_data(store: Store) -> list[dict[str, Any]]:
    from assay.registry.claims import check_claims

    return [s.to_dict() for s in check_claims(store)]


def dataset_data(store: Store, name: str, a: int | None, b: int | None) -> dict[str, Any]:
    """A dataset's versions (rows left out) and the diff between two of them (default: the
    last two), as ``assay datasets list NAME --json`` and ``assay datasets diff --json``."""
    from assay.registry.datasets import diff_rows, get_dataset_version, list_dataset_versions

    versions = list_dataset_versions(store, name)
    if not versions:
        raise NotFound(f"no dataset {name!r} in the registry", fix="see /datasets")
    diff = None
    if len(versions) > 1 or (a is not None and b is not None):
        old_n = a if a is not None else versions[-2].version
        new_n = b if b is not None else versions[-1].version
        try:
            old = get_dataset_version(store, f"{name}@{old_n}", where="a")
            new = get_dataset_version(store, f"{name}@{new_n}", where="b")
        except AssayError as error:
            raise _not_found(error) from None
        diff = diff_rows(store, old.rows, new.rows, (old.ref, new.ref)).to_dict()
    return {"name": name, "versions": [v.to_dict() for v in versions], "diff": diff}


def registry_routers(store: Store) -> list[APIRouter]:
    """The API and page routers of the prompt registry, model inventory and claims."""
    from assay.registry.prompts import list_versions

    api = APIRouter(prefix="/api", tags=["registry"])
    pages = APIRouter(include_in_schema=False)

    @api.get("/prompts", summary="assay prompts list --json")
    def prompts_api() -> list[dict[str, Any]]:
        return [v.to_dict(content=False) for v in list_versions(store)]

    @api.get("/prompts/{name}", summary="versions, changes, promotions, blame and a diff")
    def prompt_api(name: str, a: Ref = None, b: Ref = None) -> dict[str, Any]:
        return prompt_data(store, name, a, b)

    @api.get("/models", summary="assay models list --json")
    def models_api(warning_days: Days = 60, critical_days: Days = 14) -> list[dict[str, Any]]:
        return models_data(store, warning_days, critical_days)

    @api.get("/claims", summary="assay claims list --json")
    def claims_api() -> list[dict[str, Any]]:
        return claims_data(store)

    @api.get("/datasets", summary="assay datasets list --json")
    def datasets_api() -> list[dict[str, Any]]:
        from assay.registry.datasets import list_dataset_versions

        return [v.to_dict() for v in list_dataset_versions(store)]

    @api.get("/datasets/{name}", summary="a dataset's versions and a diff between two")
    def dataset_api(name: str, a: Version = None, b: Version = None) -> dict[str, Any]:
        return dataset_data(store, name, a, b)

    @pages.get("/datasets", response_class=HTMLResponse)
    def datasets_page() -> HTMLResponse:
        from assay.registry.datasets import list_dataset_versions

        names: dict[str, list[Any]] = {}
        for v in list_dataset_versions(store):
            names.setdefault(v.name, []).append(v.to_dict())
        return HTMLResponse(render("registry_datasets.html", title="datasets", datasets=names))

    @pages.get("/datasets/{name}", response_class=HTMLResponse)
    def dataset_page(name: str, a: Version = None, b: Version = None) -> HTMLResponse:
        data = dataset_data(store, name, a, b)
        return HTMLResponse(render("registry_dataset.html", title=f"dataset {name}", **data))

    @pages.get("/prompts", response_class=HTMLResponse)
    def prompts_page() -> HTMLResponse:
        names: dict[str, list[Any]] = {}
        for v in list_versions(store):
            names.setdefault(v.name, []).append(v)
        return HTMLResponse(render("registry_prompts.html", title="prompts", prompts=names))

    @pages.get("/prompts/{name}", response_class=HTMLResponse)
    def prompt_page(name: str, a: Ref = None, b: Ref = None) -> HTMLResponse:
        data = prompt_data(store, name, a, b)
        return HTMLResponse(render("registry_prompt.html", title=f"prompt {name}", **data))

    @pages.get("/models", response_class=HTMLResponse)
    def models_page(warning_days: Days = 60, critical_days: Days = 14) -> HTMLResponse:
        models = models_data(store, warning_days, critical_days)
        return HTMLResponse(
            render(
                "registry_models.html",
                title="models",
                models=models,
                warning_days=warning_days,
                critical_days=critical_days,
            )
        )

    @pages.get("/claims", response_class=HTMLResponse)
    def claims_page() -> HTMLResponse:
        return HTMLResponse(
            render("registry_claims.html", title="claims", claims=claims_data(store))
        )

    return [api, pages]
