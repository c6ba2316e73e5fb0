"""Transactions on the store for the review queue: database errors become StoreError, and
writes open ``BEGIN IMMEDIATE`` on SQLite as the store's own writes do (no lock upgrade
deadlock between two reviewers labelling at once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from assay.core import StoreError
from assay.store import Store
from assay.store.engine import WRITE_OPTION


def now() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _reason(error: SQLAlchemyError) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return (str(cause).strip() or type(cause).__name__).splitlines()[0]


@contextmanager
def reading(store: Store, action: str) -> Iterator[Connection]:
    """A connection for reads."""
    try:
        with store.engine.connect() as conn:
            yield conn
    except SQLAlchemyError as error:
        raise StoreError(f"cannot {action} in {store.url}: {_reason(error)}") from error


@contextmanager
def writing(store: Store, action: str) -> Iterator[Connection]:
    """A write transaction, committed on exit."""
    try:
        with store.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            yield conn
    except SQLAlchemyError as error:
        raise StoreError(f"cannot {action} in {store.url}: {_reason(error)}") from error
