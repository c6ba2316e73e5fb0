"""Building pydantic models on the runner's hot path without their per-call overhead.

``BaseModel.model_construct`` (pydantic v2, ``pydantic/main.py``) builds an instance without
validation, but it walks every declared field on each call to look for aliases and defaults.
For a caller that passes every field, its result is an object whose ``__dict__`` holds the
values in field order, whose ``__pydantic_fields_set__`` is the set of all field names, and whose
``__pydantic_extra__`` and ``__pydantic_private__`` are ``None`` (no ``extra="allow"``, no
private attributes). :func:`construct_checked` sets exactly those four documented instance
attributes (pydantic's "Model" API reference lists them), at a third of the cost;
``Sample.from_checked`` does the same for samples.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new_object = object.__new__
_set = object.__setattr__
_fields_cache: dict[type[BaseModel], tuple[tuple[str, ...], frozenset[str]]] = {}


def _fields(cls: type[BaseModel]) -> tuple[tuple[str, ...], frozenset[str]]:
    known = _fields_cache.get(cls)
    if known is None:
        if cls.model_config.get("extra") == "allow" or cls.__private_attributes__:
            raise TypeError(
                f"construct_checked cannot build {cls.__name__}: it has extra='allow' or "
                "private attributes; use model_construct"
            )
        if cls.model_post_init is not BaseModel.model_post_init:
            raise TypeError(
                f"construct_checked cannot build {cls.__name__}: it has model_post_init"
            )
        names = tuple(cls.model_fields)
        known = _fields_cache[cls] = (names, frozenset(names))
    return known


def construct_checked(cls: type[M], values: dict[str, Any]) -> M:
    """``cls.model_construct(**values)`` for ``values`` that name every field of ``cls`` (in
    any order) and already have the declared types: nothing is validated or copied.

    Raises ``TypeError`` when ``values`` lacks a field or has a key that is not one, so a
    missing field is never silently left unset.
    """
    names, name_set = _fields(cls)
    if values.keys() != name_set:
        missing = sorted(name_set - values.keys())
        unknown = sorted(values.keys() - name_set)
        raise TypeError(
            f"construct_checked({cls.__name__}): missing {missing}, not fields {unknown}"
        )
    model = _new_object(cls)
    _set(model, "__dict__", {name: values[name] for name in names})
    _set(model, "__pydantic_fields_set__", set(name_set))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
