"""The store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/versions`` create
exactly these; change both together (``tests/store`` checks that they agree).

JSON values are kept as text (portable across SQLite and PostgreSQL); timestamps are UTC and come
back timezone-aware on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware (naive input is taken as UTC).

    SQLite has no time zones: the value is converted to UTC and stored without an offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Text compared byte-wise on both backends (PostgreSQL's default collation may be
#: locale-aware), so results come out in the same order from SQLite and PostgreSQL.
BinaryText = String().with_variant(String(collation="C"), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: One row per run. ``subjects_json`` is the list of subject names (so listings need not parse
#: manifests); ``pid``/``hostname`` identify the writing process for interrupted-run detection.
runs = Table(
    "runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("spec_hash", String, nullable=False),
    Column("subjects_json", Text, nullable=False),
    Column("n_planned", Integer, nullable=False),
    Column("pid", Integer, nullable=True),
    Column("hostname", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "started_at"),
)

#: The run's manifest (replaced when the run finishes) and the spec it was run from.
manifests = Table(
    "manifests",
    metadata,
    Column(
        "run_id",
        String,
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("manifest_json", Text, nullable=False),
    Column("spec_json", Text, nullable=True),
)

#: The samples a run evaluated, in dataset order (``position``).
samples = Table(
    "samples",
    metadata,
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("input_json", Text, nullable=False),
    Column("target_json", Text, nullable=True),
    Column("metadata_json", Text, nullable=False),
    Column("cluster", String, nullable=True),
    Column("provenance_json", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "id"),
)

#: One row per (subject, sample, epoch). ``id`` is computed client-side from that key. The
#: unique key's index also serves every lookup by ``run_id`` (its leading column), so there is
#: no separate index on ``run_id``.
results = Table(
    "results",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("subject", BinaryText, nullable=False),
    Column("sample_id", BinaryText, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("output_text", Text, nullable=True),
    Column("resolved_model", String, nullable=True),
    Column("system_fingerprint", String, nullable=True),
    Column("finish_reason", String, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("output_json", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("error_class", String, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("cached", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "subject", "sample_id", "epoch"),
)

#: The scores of a result, in the order the scorers produced them (``position``).
scores = Table(
    "scores",
    metadata,
    Column(
        "result_id",
        String(32),
        ForeignKey("results.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("scorer", String, nullable=False),
    Column("value", Float, nullable=True),
    Column("answer", Text, nullable=True),
    Column("explanation", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("metadata_json", Text, nullable=True),
    PrimaryKeyConstraint("result_id", "position"),
    Index(None, "run_id"),
)

#: Model responses by content address (``key``: the hash of provider namespace, model,
#: messages, parameters, epoch and seed). Shared by every run in the store; judge calls use it
#: too. ``output_json`` is the full :class:`~assay.core.Output`.
response_cache = Table(
    "response_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("provider", String, nullable=False),
    Column("model", String, nullable=False),
    Column("output_json", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: Judge calibration certificates (:class:`~assay.core.JudgeCertificate`), one row per audit.
#: ``judge_key`` identifies the judge config (model, prompt hash, parameters); ``status`` is
#: ``clean`` or the certificate's flags.
judge_certificates = Table(
    "judge_certificates",
    metadata,
    Column("id", String, primary_key=True),
    Column("judge_key", String, nullable=False),
    Column("judge", String, nullable=False),
    Column("model", String, nullable=False),
    Column("status", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("certificate_json", Text, nullable=False),
    Index(None, "judge_key"),
)
