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
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
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
    Index(None, "name", "started_at"),  # 0009: one eval's runs (labels, history)
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
    # 0011: what show and compare read of a run's results (and the models and days compare
    # may price), without reading its rows (issue 20; assay.store.score_reads)
    Index(
        "ix_results_run_id_covering",
        "run_id",
        "subject",
        "sample_id",
        "epoch",
        "id",
        "error_class",
        "resolved_model",
        "created_at",
    ),
    # 0011: the results that failed, so that counting a run's errors reads no row either
    Index(
        "ix_results_failed",
        "run_id",
        sqlite_where=text("error IS NOT NULL"),
        postgresql_where=text("error IS NOT NULL"),
    ),
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
    # 0011: covers the scores show and compare read (and every lookup by run_id)
    Index("ix_scores_run_id_covering", "run_id", "result_id", "position", "scorer", "value"),
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


# -- production traffic (issue 11): traces, spans and what hangs off them ------------------------
#
# Ids are the OTLP ids in lower-case hex (32 digits for a trace, 16 for a span). Text that can
# hold personal data (messages, retrieved chunks, tool arguments, feedback) is written only after
# redaction (assay.trace.redact); nothing here ever holds a raw value that redaction would catch.

#: One row per trace, folded from its spans as they arrive (spans of one trace may come in many
#: batches, to many receivers): times are the min/max over spans, counts and tokens are sums.
traces = Table(
    "traces",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime, nullable=False),
    Column("root_name", String, nullable=True),
    Column("service", String, nullable=True),
    Column("session_id", String, nullable=True),
    Column("user_id", String, nullable=True),
    Column("route", String, nullable=True),
    Column("environment", String, nullable=True),
    Column("status", String(16), nullable=False),
    Column("n_spans", Integer, nullable=False),
    Column("n_errors", Integer, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=True),
    Column("redacted", Boolean, nullable=False),
    Column("attributes_json", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "start_time"),
    Index(None, "session_id"),
    Index(None, "user_id"),
    Index(None, "route", "start_time"),
    Index(None, "updated_at"),  # migration 0012: the monitor's watermark (assay.monitor.rollups)
)

#: One row per span, in assay's one model of the GenAI and OpenInference conventions.
#: ``input_json``/``output_json`` hold messages (a list of {role, content, tool_calls…}) or a
#: value; ``attributes_json`` keeps every attribute, known or not; ``flags_json`` the receiver's
#: notes (clock skew, truncated attributes).
spans = Table(
    "spans",
    metadata,
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_id", String(16), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("name", String, nullable=False),
    Column("convention", String(16), nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status", String(8), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("service", String, nullable=True),
    Column("operation", String, nullable=True),
    Column("provider", String, nullable=True),
    Column("model_requested", String, nullable=True),
    Column("model_resolved", String, nullable=True),
    Column("system_fingerprint", String, nullable=True),
    Column("response_id", String, nullable=True),
    Column("finish_reasons_json", Text, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("cost", Float, nullable=True),
    Column("session_id", String, nullable=True),
    Column("user_id", String, nullable=True),
    Column("input_json", Text, nullable=True),
    Column("output_json", Text, nullable=True),
    Column("attributes_json", Text, nullable=False),
    Column("flags_json", Text, nullable=True),
    # Usage details (migration 0005): parts of input_tokens / output_tokens as billed, the
    # first-token and queue times, the requested max_tokens, and where ``cost`` came from
    # (``reported`` by the client, ``priced`` from the price book at ingest).
    Column("cached_input_tokens", Integer, nullable=True),
    Column("cache_write_tokens", Integer, nullable=True),
    Column("reasoning_tokens", Integer, nullable=True),
    Column("input_audio_tokens", Integer, nullable=True),
    Column("output_audio_tokens", Integer, nullable=True),
    Column("input_image_tokens", Integer, nullable=True),
    Column("request_max_tokens", Integer, nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("queue_ms", Float, nullable=True),
    Column("cost_source", String(16), nullable=True),
    PrimaryKeyConstraint("trace_id", "span_id"),
    Index(None, "start_time"),
    Index(None, "model_resolved"),
)

#: Span events and OTLP log records correlated to a span (the GenAI conventions move message
#: content and evaluation results from the first to the second; both land here).
span_events = Table(
    "span_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=True),
    Column("name", String, nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("source", String(8), nullable=False),
    Column("body_json", Text, nullable=True),
    Column("attributes_json", Text, nullable=False),
    Index(None, "trace_id", "span_id"),
)

#: The documents a retrieval span returned (F3), in rank order.
retrievals = Table(
    "retrievals",
    metadata,
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("document_id", String, nullable=True),
    Column("chunk_id", String, nullable=True),
    Column("score", Float, nullable=True),
    Column("content", Text, nullable=True),
    Column("document_version", String, nullable=True),
    Column("index_version", String, nullable=True),
    Column("embedding_version", String, nullable=True),
    PrimaryKeyConstraint("trace_id", "span_id", "rank"),
)

#: Tool calls: requested by an LLM span (``source='request'``) or executed by a tool span
#: (``source='execution'``).
tool_calls = Table(
    "tool_calls",
    metadata,
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("call_id", String, nullable=True),
    Column("tool", String, nullable=True),
    Column("arguments_json", Text, nullable=True),
    Column("result_json", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("idempotency_key", String, nullable=True),
    PrimaryKeyConstraint("trace_id", "span_id", "position"),
)

#: Scores on traces and spans: ``gen_ai.evaluation.result`` events computed elsewhere
#: (``source='otel'``), online judges (``source='judge'``) and reviewers (``source='review'``).
trace_scores = Table(
    "trace_scores",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=True),
    Column("name", String, nullable=False),
    Column("value", Float, nullable=True),
    Column("label", String, nullable=True),
    Column("explanation", Text, nullable=True),
    Column("response_id", String, nullable=True),
    Column("source", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "trace_id"),
)

#: Human feedback on a trace or span (D6): who rated (role), where (surface), and why (intent).
feedback = Table(
    "feedback",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("trace_id", String(32), nullable=True),
    Column("span_id", String(16), nullable=True),
    Column("session_id", String, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("label", String, nullable=True),
    Column("correction", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("rater_id", String, nullable=True),
    Column("rater_role", String(16), nullable=False),
    Column("surface", String(16), nullable=False),
    Column("intent", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "trace_id"),
    Index(None, "session_id"),  # migration 0010: a trace's session feedback
)

#: Delayed outcome events (E3), joined to traces by conversation/session id within a window.
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String, nullable=True),
    Column("trace_id", String(32), nullable=True),
    Column("event", String, nullable=False),
    Column("value", Float, nullable=True),
    Column("bad", Boolean, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("attributes_json", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "session_id"),
    Index(None, "trace_id"),
)

#: What redaction did to each received batch (I1): detector counts, never values. ``redacted``
#: is false only when the receiver ran with ``--no-redact`` (recorded with its reason).
redaction_reports = Table(
    "redaction_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("n_items", Integer, nullable=False),
    Column("redacted", Boolean, nullable=False),
    Column("counts_json", Text, nullable=False),
    Column("note", Text, nullable=True),
    Index(None, "received_at"),
)

#: Stable placeholders within a trace across batches and receivers: the number a (kind, value)
#: got, keyed by a keyed hash of the value (HMAC-SHA256 with the store's redaction key), never
#: the value itself.
trace_placeholders = Table(
    "trace_placeholders",
    metadata,
    Column("trace_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value_hash", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    PrimaryKeyConstraint("trace_id", "kind", "value_hash"),
    UniqueConstraint("trace_id", "kind", "number"),
)

#: Store-wide settings (the redaction key when ASSAY_REDACTION_KEY is not set).
store_settings = Table(
    "store_settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

#: Eval cases born from traces (A3, A4, E1, E2): drafts from the promotion policy and promoted
#: cases. ``origin`` is incident / sampled-production / authored / synthetic; an incident-born
#: case is deleted only with a reason (``deleted_at``/``delete_reason``; the row stays).
cases = Table(
    "cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset", String, nullable=False),
    Column("status", String(16), nullable=False),
    Column("origin", String(24), nullable=False),
    Column("created_from", String, nullable=True),
    Column("reason", Text, nullable=True),
    Column("input_json", Text, nullable=False),
    Column("target_json", Text, nullable=True),
    Column("negative_example", Text, nullable=True),
    Column("metadata_json", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("triaged_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("delete_reason", Text, nullable=True),
    Index(None, "created_from"),
    Index(None, "dataset"),
)

#: Review queues (annotation queues): a rubric, how many independent reviews each item needs.
review_queues = Table(
    "review_queues",
    metadata,
    Column("name", String, primary_key=True),
    Column("rubric_json", Text, nullable=False),
    Column("reviews_per_item", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: The items waiting in a queue: a draft case, a trace or a run's sample (``ref``).
review_items = Table(
    "review_items",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("queue", String, ForeignKey("review_queues.name", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String, nullable=False),
    Column("payload_json", Text, nullable=True),
    Column("assigned_to", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("queue", "kind", "ref"),
)

#: One reviewer's label on an item: pass/fail or a score, a note, a corrected answer.
review_labels = Table(
    "review_labels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "item_id", String(32), ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False
    ),
    Column("rater_id", String, nullable=False),
    Column("rater_role", String(16), nullable=False),
    Column("verdict", String(8), nullable=True),
    Column("value", Float, nullable=True),
    Column("note", Text, nullable=True),
    Column("correction", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("item_id", "rater_id"),
)


# -- agent, RAG and privacy assurance (issue 18, migration 0006) ----------------------------------

#: Ingestion batches checked against a source's contract (F4): record count (the volume check's
#: history), ``accepted`` or ``quarantined``, and the findings (the alert names the source).
ingestion_batches = Table(
    "ingestion_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("path", Text, nullable=True),
    Column("n_records", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("contract_hash", String(64), nullable=False),
    Column("quarantine_path", Text, nullable=True),
    Column("findings_json", Text, nullable=False),
    Index(None, "source", "received_at"),
)

#: Corpus health reports (F5), one row per ``assay corpus health``; the web page shows them.
corpus_reports = Table(
    "corpus_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("corpus", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("n_documents", Integer, nullable=False),
    Column("n_findings", Integer, nullable=False),
    Column("report_json", Text, nullable=False),
    Index(None, "created_at"),
)

#: The dead-letter queue (J4): a job whose output failed a semantic validator, with the reason
#: (``semantic:<validator>``), what the model step was given and produced, and the job's
#: idempotency key (a replay reuses it). One row per (job kind, job id, reason).
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("job", String, nullable=False),
    Column("job_id", String, nullable=False),
    Column("trace_id", String(32), nullable=True),
    Column("reason", String, nullable=False),
    Column("detail", Text, nullable=True),
    Column("input_json", Text, nullable=True),
    Column("output_json", Text, nullable=True),
    Column("model", String, nullable=True),
    Column("idempotency_key", String, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("job", "job_id", "reason"),
    Index(None, "status"),
)

#: Replays of a dead letter's model step through the runner with a fix (a new prompt or model):
#: the run, the output, and whether it now passes every validator of the job.
dead_letter_replays = Table(
    "dead_letter_replays",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "dead_letter_id",
        String(32),
        ForeignKey("dead_letters.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_id", String, nullable=False),
    Column("fix_json", Text, nullable=False),
    Column("output_json", Text, nullable=True),
    Column("passed", Boolean, nullable=False),
    Column("reason", Text, nullable=True),
    Column("idempotency_key", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "dead_letter_id"),
)


# -- monitoring quality in production (issue 14, migration 0007) ---------------------------------
#
# Every analysis is recomputed from the trace tables on each pass; these tables hold what a pass
# found (points, change points, substrate events) for the surfaces, and the state that is not a
# function of the traces: alerts with their lifecycle, sink deliveries, judge bookkeeping and
# embedding probes.

#: One point of a signal's series: a route's signal over one window (``segment`` '' = the whole
#: route), with its interval, the observations behind it, and the change statistic's level at
#: the window's end (1.0 = the alarm line).
monitor_points = Table(
    "monitor_points",
    metadata,
    Column("route", String, nullable=False),
    Column("signal", String, nullable=False),
    Column("segment", String, nullable=False),
    Column("window_seconds", Integer, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("value", Float, nullable=True),
    Column("low", Float, nullable=True),
    Column("high", Float, nullable=True),
    Column("n", Integer, nullable=False),
    Column("bad", Integer, nullable=True),
    Column("level", Float, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("route", "signal", "segment", "window_seconds", "window_start"),
)

#: Change points a pass detected on a signal: when the change began (estimated) and was
#: detected, its direction, and the shift between the segments before and after it.
monitor_changes = Table(
    "monitor_changes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("route", String, nullable=False),
    Column("signal", String, nullable=False),
    Column("segment", String, nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("detected_time", UTCDateTime, nullable=False),
    Column("direction", String(8), nullable=False),
    Column("worse", Boolean, nullable=False),
    Column("shift_json", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "route", "signal"),
)

#: The substrate timeline (B7, F8): every change of resolved model snapshot, fingerprint, prompt
#: version, parameters, judge, embedding fingerprint, index version or deployed version, seen in
#: traces (``source='traces'``), runs (``'runs'``) or embedding probes (``'probe'``).
substrate_events = Table(
    "substrate_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("route", String, nullable=True),
    Column("key", String, nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("source", String(16), nullable=False),
    Column("evidence", String, nullable=True),
    Column("detected_at", UTCDateTime, nullable=False),
    Index(None, "time"),
    Index(None, "route", "time"),
)

#: Alerts with a lifecycle: ``firing`` → (``acknowledged``) → ``resolved``. ``key`` deduplicates:
#: at most one open alert per key (route, signal, kind, segment).
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key", String, nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("route", String, nullable=True),
    Column("signal", String, nullable=True),
    Column("segment", String, nullable=True),
    Column("title", Text, nullable=False),
    Column("detail_json", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("acked_at", UTCDateTime, nullable=True),
    Column("acked_by", String, nullable=True),
    Column("ack_note", Text, nullable=True),
    Index(None, "key", "status"),
    Index(None, "opened_at"),
)

#: The outbox of alert notifications: one row per (alert, sink, event), retried with backoff
#: until delivered, so a sink that is down loses nothing and does not stop monitoring.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("alert_id", String(32), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("sink", String, nullable=False),
    Column("event", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("payload_json", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("alert_id", "sink", "event"),
    Index(None, "status", "next_attempt_at"),
)

#: Online judgements: which run and result produced a ``trace_scores`` row (source ``judge``),
#: at which scope (``span``, ``trace``, ``session``), and why the trace was sampled.
online_judgements = Table(
    "online_judgements",
    metadata,
    Column("trace_score_id", String(32), primary_key=True),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=True),
    Column("scope", String(8), nullable=False),
    Column("judge", String, nullable=False),
    Column("run_id", String, nullable=False),
    Column("result_id", String(32), nullable=False),
    Column("reason", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "run_id"),
    Index(None, "trace_id"),
)

#: Embedding fingerprint probes (F8): a fixed probe set embedded on a schedule; the first probe of
#: a model is its baseline, and a later one whose cosine to it falls below the threshold logs a
#: ``substrate_change(embedding)`` event.
embedding_probes = Table(
    "embedding_probes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("probe_hash", String(64), nullable=False),
    Column("vectors_json", Text, nullable=False),
    Column("min_cosine", Float, nullable=True),
    Index(None, "model", "taken_at"),
)

# --- Change management (issue 17, migration 0008): the prompt registry, model EOL entries and
# --- the claims registry.

#: One version of a named prompt (K1): its text, the text's hash (what runs record as
#: ``prompt_hash``), who committed it and why, the eval cases that motivated it, and the run
#: that approved it (set by ``promote``).
prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("name", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("author", String, nullable=False),
    Column("message", Text, nullable=True),
    Column("parent_version", Integer, nullable=True),
    Column("cases_json", Text, nullable=False),
    Column("approved_run", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("name", "version"),
    Index(None, "content_hash"),
)

#: The clause-level changes of a version against its parent, each with its rationale (K1).
prompt_changes = Table(
    "prompt_changes",
    metadata,
    Column("name", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("rationale", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "position"),
)

#: Which version a label (``production``, ``staging``) points at now.
prompt_labels = Table(
    "prompt_labels",
    metadata,
    Column("name", String, nullable=False),
    Column("label", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("name", "label"),
)

#: Every promotion: who moved which label to which version, why, and on what evidence.
prompt_promotions = Table(
    "prompt_promotions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String, nullable=False),
    Column("label", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous_version", Integer, nullable=True),
    Column("actor", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("run_id", String, nullable=True),
    Column("baseline_run_id", String, nullable=True),
    Column("verdict", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "name", "label"),
)

#: What the user entered about a model's end of life (K3): never fetched from the internet.
model_eol = Table(
    "model_eol",
    metadata,
    Column("model", String, primary_key=True),
    Column("provider", String, nullable=True),
    Column("eol_date", String(10), nullable=True),
    Column("replacement", String, nullable=True),
    Column("notice", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Named datasets' content-hashed versions (issue 17): the rows as JSON, counts per origin (A3),
#: and the reason given when a version removed or edited incident-born cases (``--force``).
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("rows_json", Text, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("origins_json", Text, nullable=False),
    Column("author", String, nullable=False),
    Column("message", Text, nullable=True),
    Column("protected_json", Text, nullable=True),
    Column("force_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("name", "version"),
)

#: Public or contractual claims and the evidence behind them (K5).
claims = Table(
    "claims",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("text", Text, nullable=False),
    Column("run_id", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("scorer", String, nullable=False),
    Column("claimed", Float, nullable=True),
    Column("measured", Float, nullable=True),
    Column("models_json", Text, nullable=False),
    Column("prompt_hash", String(64), nullable=True),
    Column("prompt_ref", String, nullable=True),
    Column("valid_days", Integer, nullable=True),
    Column("measured_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


# --- The web UI at scale (issue 12, migration 0009): run labels and the run summary cache.

#: Tags and a note given to a run (``assay run --tag v2 --note "..."``); ``tags_json`` is a list.
run_labels = Table(
    "run_labels",
    metadata,
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("tags_json", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: A run's summary (``summarise_run``, as JSON) with its result and error counts, valid while
#: the run's ``finished_at`` is the one recorded here; the Store deletes the row whenever it
#: writes the run's results, scores, status or manifest (see assay.store.summaries).
run_summaries = Table(
    "run_summaries",
    metadata,
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("n_results", Integer, nullable=False),
    Column("n_errors", Integer, nullable=False),
    Column("summary_json", Text, nullable=False),
    Column("label_json", Text, nullable=True),  # the run's label, see analyse/run_labels.py
    Column("computed_at", UTCDateTime, nullable=False),
)


# --- Incremental monitoring passes (issue 14, migration 0012; see assay.monitor.rollups).

#: One window of a route's per-trace observations (or one hour of the substrate groups), as
#: computed under the configuration whose hash is ``key``.
monitor_rollups = Table(
    "monitor_rollups",
    metadata,
    Column("key", String(32), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_seconds", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("key", "window_start"),
)

#: The trace of every score or feedback row inserted, updated or deleted, written by triggers,
#: with the database's clock (epoch seconds).
monitor_marks = Table(
    "monitor_marks",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("trace_id", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Index(None, "at"),
)

#: The monitor epoch (``key='epoch'``, bumped by triggers on deletes and in-place updates) and
#: each rollup key's watermark (``rollup:<key>``) and the last pass's summary (``last_pass``).
monitor_state = Table(
    "monitor_state",
    metadata,
    Column("key", String, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("value", Text, nullable=True),
)
