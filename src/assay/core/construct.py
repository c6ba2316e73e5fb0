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
_field_names: dict[type[BaseModel], frozenset[str]] = {}


def _fields(cls: type[BaseModel]) -> frozenset[str]:
    if cls.model_config.get("extra") == "allow" or cls.__private_attributes__:
        raise TypeError(
            f"construct_checked cannot build {cls.__name__}: it has extra='allow' or "
            "private attributes; use model_construct"
        )
    if cls.model_post_init is not BaseModel.model_post_init:
        raise TypeError(f"construct_checked cannot build {cls.__name__}: it has model_post_init")
    names = _field_names[cls] = frozenset(cls.model_fields)
    return names


def construct_checked(cls: type[M], values: dict[str, Any]) -> M:
    """``cls.model_construct(**values)`` for ``values`` that name every field of ``cls`` and
    already have the declared types: nothing is validated or copied.

    ``values`` becomes the instance's ``__dict__`` as it is: pass a dict of its own, with the
    fields in their declared order (the order ``model_construct`` gives and ``repr`` shows).
    Raises ``TypeError`` when ``values`` lacks a field or has a key that is not one, so a
    missing field is never silently left unset.
    """
    names = _field_names.get(cls) or _fields(cls)
    if values.keys() != names:
        missing = sorted(names - values.keys())
        unknown = sorted(values.keys() - names)
        raise TypeError(
            f"construct_checked({cls.__name__}): missing {missing}, not fields {unknown}"
        )
    model = _new_object(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(names))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
