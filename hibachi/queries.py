"""The record queries that several steps share, written once: deployment state, model versions, signal windows.

Gateway, serving, components, monitoring and the dev kit all ask "what is deployed now?", "which versions
exist?" and "which turns fall in this window?"; each question has exactly one answer here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hibachi.records import DeploymentState, ModelVersion, ShadowComparison, TrainingSignal


def latest_deployment(session: Session, isvc: str) -> DeploymentState | None:
    """The newest recorded deployment state of an InferenceService (None before its first rollout)."""
    return session.scalars(select(DeploymentState).where(DeploymentState.isvc_name == isvc)
                           .order_by(DeploymentState.id.desc()).limit(1)).first()


def deployment_history(session: Session, isvc: str, limit: int = 20) -> list[DeploymentState]:
    """The newest ``limit`` deployment states of an InferenceService, newest first."""
    return list(session.scalars(select(DeploymentState).where(DeploymentState.isvc_name == isvc)
                                .order_by(DeploymentState.id.desc()).limit(limit)))


def known_rollouts(session: Session) -> list[str]:
    """Every InferenceService name that has a recorded rollout, sorted."""
    return sorted(set(session.scalars(select(DeploymentState.isvc_name))))


def latest_model_version(session: Session) -> ModelVersion | None:
    """The most recently registered model version (trained, whether or not the gate passed it)."""
    return session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()).limit(1)).first()


def recent_model_versions(session: Session, limit: int = 10) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()).limit(limit)))


def model_version_ids(session: Session) -> list[str]:
    return sorted(session.scalars(select(ModelVersion.id)).all())


def signals_between(session: Session, since: datetime, until: datetime) -> list[TrainingSignal]:
    """The turns captured in [since, until), with their candidates and chat session loaded."""
    query = (
        select(TrainingSignal)
        .where(TrainingSignal.created_at >= since, TrainingSignal.created_at < until)
        .options(selectinload(TrainingSignal.candidates), selectinload(TrainingSignal.session))
        .order_by(TrainingSignal.created_at)
    )
    return list(session.scalars(query))


def shadows_between(session: Session, since: datetime, until: datetime) -> list[ShadowComparison]:
    query = select(ShadowComparison).where(ShadowComparison.created_at >= since, ShadowComparison.created_at < until)
    return list(session.scalars(query))
