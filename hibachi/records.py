"""The record schema: every table of the platform, in one module (SQLAlchemy 2, typed mappings).

The tables follow DESIGN.md's contracts: chat sessions and messages, training signals with every
candidate and its critic verdict, outcomes, admin corrections, shadow comparisons, model versions,
evaluation runs and deployment states. Schema changes go through Alembic (``hibachi/migrations``);
``hibachi db upgrade`` applies them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SERVED_BY = ("teacher", "local", "fallback", "safe_default")
ROLES = ("system", "user", "assistant")
STAGES = ("shadow", "canary", "stable", "rolled_back")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    # Stable constraint names so Alembic migrations are portable between SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class ChatSession(Base):
    """A customer conversation; its outcome (booking, rating) arrives later through feedback."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), default="my-hibachi")
    api_key_id: Mapped[str | None] = mapped_column(String(16))  # a key fingerprint, never the key
    # The OpenAI `user` field the client sent: its own id for the customer, so `data erase --user` finds them.
    customer_user: Mapped[str | None] = mapped_column(String(256), index=True)
    led_to_booking: Mapped[bool | None] = mapped_column(Boolean)
    customer_rating: Mapped[int | None] = mapped_column(Integer)
    outcome_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="session", order_by="ChatMessage.position", cascade="all, delete-orphan"
    )
    signals: Mapped[list[TrainingSignal]] = relationship(back_populates="session")

    __table_args__ = (Index("ix_chat_sessions_outcome", "led_to_booking", "customer_rating"),)


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    signal_id: Mapped[str | None] = mapped_column(String(64))  # the signal an assistant turn came from
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[ChatSession] = relationship(back_populates="messages")

    __table_args__ = (UniqueConstraint("session_id", "position", name="uq_chat_messages_session_position"),)


class TrainingSignal(Base):
    """One answered customer turn: the prompt, every candidate with its verdict, and what was served.

    ``request_id`` is unique, so a signal replayed from the outbox after a crash is stored once.
    """

    __tablename__ = "training_signals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), index=True)
    tenant: Mapped[str] = mapped_column(String(64), default="my-hibachi")
    prompt: Mapped[str] = mapped_column(Text)  # the customer's last message
    conversation: Mapped[list[Any]] = mapped_column(default=list)  # messages before the answer
    topic: Mapped[str | None] = mapped_column(String(32))
    chosen_response: Mapped[str] = mapped_column(Text)
    chosen_provider: Mapped[str | None] = mapped_column(String(64))
    served_by: Mapped[str] = mapped_column(String(16))  # one of SERVED_BY
    policy: Mapped[str] = mapped_column(String(16), default="teacher")
    adapter_version: Mapped[str | None] = mapped_column(String(64))  # the local model that served, if any
    quality_score: Mapped[float] = mapped_column(Float)
    critic_passed: Mapped[bool] = mapped_column(Boolean)
    ground_truth: Mapped[str | None] = mapped_column(Text)
    # False when the turn must stay out of training data (a stream that broke after it began).
    trainable: Mapped[bool] = mapped_column(Boolean, default=True)
    stream_error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    # The grounding system turn the gateway built for this question (hibachi.prompt.grounding), with what it was
    # built from: the knowledge base's sha256 (hibachi.retraining.knowledge_sha256) and the prompt contract's
    # version. Export uses it while both still hold and rebuilds it otherwise; NULL for turns stored before.
    grounding: Mapped[str | None] = mapped_column(Text)
    grounding_kb_sha256: Mapped[str | None] = mapped_column(String(64))
    grounding_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[ChatSession] = relationship(back_populates="signals")
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="signal", cascade="all, delete-orphan", order_by="Candidate.id"
    )
    corrections: Mapped[list[AdminCorrection]] = relationship(
        back_populates="signal", cascade="all, delete-orphan", order_by="AdminCorrection.created_at"
    )

    __table_args__ = (
        # What export filters on: a time window (the watermark), quality and who served.
        Index("ix_training_signals_created_at", "created_at", "id"),
        Index("ix_training_signals_quality", "critic_passed", "quality_score"),
        Index("ix_training_signals_served_by", "served_by", "created_at"),
    )


class Candidate(Base):
    """One provider's answer to a signal's prompt, with the critic's verdict on it."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(ForeignKey("training_signals.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # teacher | student
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why the provider gave no answer
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    critic_passed: Mapped[bool | None] = mapped_column(Boolean)
    quality_score: Mapped[float | None] = mapped_column(Float)
    violations: Mapped[list[Any]] = mapped_column(default=list)
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)

    signal: Mapped[TrainingSignal] = relationship(back_populates="candidates")


class AdminCorrection(Base):
    """A human's better answer for a signal; export uses the newest one instead of the served answer."""

    __tablename__ = "admin_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(ForeignKey("training_signals.id", ondelete="CASCADE"), index=True)
    corrected_response: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    signal: Mapped[TrainingSignal] = relationship(back_populates="corrections")


class ShadowComparison(Base):
    """The local model's answer to a turn it did not serve, scored against what the customer saw."""

    __tablename__ = "shadow_comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(ForeignKey("training_signals.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    adapter_version: Mapped[str | None] = mapped_column(String(64))
    local_response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    teacher_response: Mapped[str] = mapped_column(Text)
    similarity: Mapped[float | None] = mapped_column(Float)  # to the served teacher answer, in [0, 1]
    critic_passed: Mapped[bool | None] = mapped_column(Boolean)
    quality_score: Mapped[float | None] = mapped_column(Float)
    violations: Mapped[list[Any]] = mapped_column(default=list)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ExportRun(Base):
    """One export of signals: the window it covered (its watermark) and the hash of what it wrote."""

    __tablename__ = "export_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime]
    rows: Mapped[int] = mapped_column(Integer)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The facts the export was judged with (sha256 of the knowledge base), its preference pairs, and how many
    # stored answers it left out because the critic built from those facts now fails them.
    knowledge_sha256: Mapped[str | None] = mapped_column(String(64))
    pairs: Mapped[int | None] = mapped_column(Integer)
    stale_rows: Mapped[int | None] = mapped_column(Integer)


class ModelVersion(Base):
    """A trained adapter, traceable to its data (dataset hash) and its evaluation."""

    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "hibachi-llama-20261125-0300"
    base_model: Mapped[str] = mapped_column(Text)
    adapter_uri: Mapped[str] = mapped_column(Text)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    train_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    eval_report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    gate_passed: Mapped[bool | None] = mapped_column(Boolean)
    gate_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    knowledge_sha256: Mapped[str | None] = mapped_column(String(64))  # the facts it was trained and judged on


class DeploymentState(Base):
    """Append-only rollout history: each row is the state after one change, with who and why.

    The newest row per InferenceService is the current state; ``previous_id`` links the chain,
    so a rollback is one step back.
    """

    __tablename__ = "deployment_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    isvc_name: Mapped[str] = mapped_column(String(128))
    stable_version: Mapped[str | None] = mapped_column(String(64))
    canary_version: Mapped[str | None] = mapped_column(String(64))
    canary_percent: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))  # one of STAGES
    action: Mapped[str] = mapped_column(String(32))  # deploy | set | promote | rollback | analyze
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("deployment_states.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_deployment_states_isvc", "isvc_name", "id"),)


class TrafficPolicyChange(Base):
    """Append-only history of the gateway's traffic policy: each row is the policy after one change.

    The newest row is the policy every gateway replica follows (each re-reads it every
    ``gateway.policy_refresh_seconds``); with no row, replicas use ``settings.traffic``.
    """

    __tablename__ = "traffic_policy_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy: Mapped[str] = mapped_column(String(16))  # teacher | shadow | split
    split_percent: Mapped[float] = mapped_column(Float, default=0.0)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedAdminSession(Base):
    """An admin browser session ended by logout: every gateway replica refuses its cookie from then on.

    The cookie is signed and expires by itself (``gateway.session_ttl_s``); a row is kept until then
    (``expires_at``) and purged by a later logout, so the table holds at most a few hours of logouts.
    """

    __tablename__ = "revoked_admin_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the random id in the cookie
    expires_at: Mapped[datetime]


class RetrainingDecision(Base):
    """One decision of the monitoring pipeline on whether to start a training run now, with its evidence.

    ``reasons`` lists each trigger that fired; ``evidence`` holds the numbers behind them (rates, counts,
    drift AUC, knowledge-base hashes); ``run_id`` is the training run started for it, when one was.
    """

    __tablename__ = "retraining_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    triggered: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    knowledge_sha256: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_retraining_decisions_triggered", "triggered", "created_at"),)


class ExportSignal(Base):
    """Which signals an export held: one (dataset hash, signal id) row each, shared by re-runs of the same export.

    Keyed by the export's content hash, so exporting the same window twice adds nothing; looked up by
    signal for "which datasets and model versions used this signal" and for erasure.
    """

    __tablename__ = "export_signals"

    dataset_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    signal_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_export_signals_signal", "signal_id"),)


class ModelLineage(Base):
    """Where a model version came from: its export, pipeline run, settings and code version.

    ``erased_data_at`` is set when a customer whose signals were in its export was erased: the
    version was trained on erased data and a retrain without them is due.
    """

    __tablename__ = "model_lineage"

    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    export_run_id: Mapped[int | None] = mapped_column(ForeignKey("export_runs.id", ondelete="SET NULL"))
    export_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    train_sha256: Mapped[str] = mapped_column(String(64))  # the filtered training set the adapter saw
    pipeline_run: Mapped[str | None] = mapped_column(String(256))
    code_version: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    erased_data_at: Mapped[datetime | None]
    erasure_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """A record that an erasure (or a retention run) happened: who, when, how many rows; never what was erased."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # erase | retention
    selector: Mapped[str] = mapped_column(String(16))  # session | user | email | phone | age (the kind, not the value)
    actor: Mapped[str] = mapped_column(String(128))
    rows: Mapped[dict[str, Any]] = mapped_column(default=dict)  # table -> rows deleted
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # rewritten / redacted / lines removed
    model_versions: Mapped[list[Any]] = mapped_column(default=list)  # versions marked "trained on erased data"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
