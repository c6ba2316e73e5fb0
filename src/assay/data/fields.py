"""FieldMap: which column of a dataset file holds which part of a sample."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from assay.core.errors import DatasetError

#: A column with this name holding a mapping (or, in CSV, a JSON object) is merged into metadata.
METADATA_COLUMN = "metadata"


class FieldMap(BaseModel):
    """Where each part of a :class:`~assay.core.Sample` lives in the rows of a dataset file.

    ``id``: the id column; when it is absent from every row, ids are generated from the content
    (``"s" + content_hash[:12]``), so they are the same whatever format the rows come in. ``None``
    always generates ids.
    ``input``: text, or (JSON, YAML, Parquet, and JSON text in CSV) a list of ``{role, content}``
    chat messages.
    ``target``: text or a list of texts; optional.
    ``metadata``: the columns that go to ``Sample.metadata``; ``None`` means every column not
    mapped to something else. A column named ``metadata`` holding a mapping is merged in too.
    ``cluster``: the column used as ``Sample.cluster``; optional (``None`` turns it off, and a
    column of that name is then ordinary metadata).
    ``provenance``: a column holding a mapping of :class:`~assay.core.Provenance` fields;
    optional.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = "id"
    input: str = "input"
    target: str | None = "target"
    metadata: tuple[str, ...] | None = None
    cluster: str | None = "cluster"
    provenance: str | None = "provenance"

    @model_validator(mode="after")
    def _distinct_columns(self) -> FieldMap:
        seen: dict[str, str] = {}
        for role in ("id", "input", "target", "cluster", "provenance"):
            column = getattr(self, role)
            if column is None:
                continue
            if not column.strip():
                raise ValueError(f"the {role} column name must not be empty")
            if column in seen:
                raise ValueError(f"column {column!r} is mapped to both {seen[column]} and {role}")
            seen[column] = role
        for column in self.metadata or ():
            if column in seen:
                raise ValueError(f"metadata column {column!r} is already mapped to {seen[column]}")
        return self

    def mapped_columns(self) -> frozenset[str]:
        """Columns that hold the id, input, target, cluster or provenance."""
        return frozenset(
            c
            for c in (self.id, self.input, self.target, self.cluster, self.provenance)
            if c is not None
        )

    @property
    def merges_metadata_column(self) -> bool:
        """Whether a column named ``metadata`` is merged into metadata (it is not mapped)."""
        return METADATA_COLUMN not in self.mapped_columns()

    @classmethod
    def coerce(
        cls, fields: FieldMap | dict[str, Any] | None, *, where: str | None = None
    ) -> FieldMap:
        """A FieldMap from a FieldMap, a mapping such as a spec's ``fields:`` section, or None."""
        if fields is None:
            return cls()
        if isinstance(fields, FieldMap):
            return fields
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'fields'}: {err['msg']}"
                for err in exc.errors()
            )
            raise DatasetError(
                f"invalid field mapping: {problems}",
                where=where,
                fix="use keys id, input, target, metadata, cluster, provenance with column "
                "names as values (metadata takes a list of column names)",
            ) from None
