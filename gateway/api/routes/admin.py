"""Admin JSON API: browse signals, correct an answer, read and change the traffic policy."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from gateway.deps import AdminCaller, DbSession, State
from gateway.policy import TrafficPolicy, TrafficPolicyUpdate
from gateway.policy_store import policy_history, record_change
from gateway.schemas import ID_PATTERN, CorrectionIn, CorrectionOut, SignalDetail, SignalPage, SignalSummary
from hibachi.records import SERVED_BY, AdminCorrection, TrainingSignal

router = APIRouter(prefix="/admin/api", tags=["admin"])
log = logging.getLogger("gateway.admin")

# Bounds on every number a caller sends, so out-of-range input is a 422 and never reaches the database
# (an unbounded page once overflowed SQLite's 64-bit OFFSET: a 500).
MAX_PAGE = 100_000
SignalId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/signals", response_model=SignalPage, summary="List captured signals, newest first")
def list_signals(
    caller: AdminCaller,
    db: DbSession,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    served_by: Annotated[Literal[SERVED_BY] | None, Query()] = None,  # type: ignore[valid-type]
    session_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    critic_passed: bool | None = None,
    trainable: bool | None = None,
    policy: Literal["teacher", "shadow", "split"] | None = None,
) -> SignalPage:
    query = select(TrainingSignal)
    for column, value in ((TrainingSignal.served_by, served_by), (TrainingSignal.session_id, session_id),
                          (TrainingSignal.critic_passed, critic_passed), (TrainingSignal.trainable, trainable),
                          (TrainingSignal.policy, policy)):
        if value is not None:
            query = query.where(column == value)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(TrainingSignal.created_at.desc(), TrainingSignal.id)
                      .offset((page - 1) * page_size).limit(page_size))
    return SignalPage(items=[SignalSummary.model_validate(r) for r in rows], total=total, page=page,
                      page_size=page_size)


def _signal(db, signal_id: str) -> TrainingSignal:
    signal = db.scalar(select(TrainingSignal).where(TrainingSignal.id == signal_id)
                       .options(selectinload(TrainingSignal.candidates), selectinload(TrainingSignal.corrections)))
    if signal is None:
        raise HTTPException(404, f"no signal {signal_id!r}")
    return signal


@router.get("/signals/{signal_id}", response_model=SignalDetail, summary="One signal with candidates and verdicts")
def get_signal(signal_id: SignalId, caller: AdminCaller, db: DbSession) -> SignalDetail:
    return SignalDetail.model_validate(_signal(db, signal_id), from_attributes=True)


@router.post("/signals/{signal_id}/corrections", response_model=CorrectionOut, status_code=201,
             summary="Submit a better answer; export uses the newest correction instead of the served answer")
def add_correction(signal_id: SignalId, correction: CorrectionIn, caller: AdminCaller, db: DbSession) -> CorrectionOut:
    signal = _signal(db, signal_id)
    row = AdminCorrection(signal_id=signal.id, corrected_response=correction.corrected_response,
                          author=caller.labelled(correction.author), reason=correction.reason)
    db.add(row)
    db.flush()
    log.info("admin correction recorded", extra={"signal_id": signal.id, "actor": row.author})
    return CorrectionOut.model_validate(row, from_attributes=True)


@router.get("/traffic", response_model=TrafficPolicy,
            summary="The traffic policy this replica follows (the newest stored change, re-read every few seconds)")
def get_traffic(caller: AdminCaller, state: State) -> TrafficPolicy:
    return state.policy


@router.put("/traffic", response_model=TrafficPolicy,
            summary="Change the traffic policy of every replica (stored with who, when and why)")
def put_traffic(update: TrafficPolicyUpdate, caller: AdminCaller, state: State, db: DbSession) -> TrafficPolicy:
    if update.policy != "teacher" and not state.service.ensemble.students:
        raise HTTPException(409, f"policy {update.policy!r} needs a provider with role 'student'; none is enabled")
    version, policy = record_change(db, update, caller.labelled(update.updated_by))
    db.commit()  # stored before it is followed: a change that cannot be stored is a 503, applied nowhere
    state.policy_follower.follow(version, policy)  # this replica at once; the others within policy_refresh_s
    return policy


@router.get("/traffic/history", response_model=list[TrafficPolicy],
            summary="Stored traffic policy changes, newest first, with who, when and why")
def traffic_history(caller: AdminCaller, db: DbSession,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[TrafficPolicy]:
    return policy_history(db, limit)


@router.get("/providers", summary="Providers and whether each is cooling down")
def list_providers(caller: AdminCaller, state: State) -> list[dict]:
    return [{"name": p.name, "kind": p.config.kind, "role": p.config.role, "model": p.config.model,
             "available": p.breaker.available(), "consecutive_failures": p.breaker.consecutive}
            for p in state.providers]
