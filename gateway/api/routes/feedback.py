"""Session outcomes: whether the conversation led to a booking, and the customer's rating."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway.deps import CustomerCaller, State
from gateway.schemas import ID_PATTERN, Outcome
from hibachi.records import ChatSession, TrainingSignal, utcnow

router = APIRouter(tags=["feedback"])


@router.post("/v1/sessions/{session_id}/outcome", status_code=202,
             summary="Record a session's outcome (stored through the capture journal, like signals)")
async def record_outcome(session_id: Annotated[str, Path(pattern=ID_PATTERN)], outcome: Outcome,
                         caller: CustomerCaller, state: State) -> dict:
    if outcome.led_to_booking is None and outcome.customer_rating is None:
        raise HTTPException(422, "send led_to_booking, customer_rating or both")
    if not state.capture.knows_session(session_id) and not await asyncio.to_thread(_in_database, state, session_id):
        raise HTTPException(404, f"no session {session_id!r}")
    recorded = await state.service.record({
        "type": "outcome", "session_id": session_id, "tenant": state.settings.tenant,
        "led_to_booking": outcome.led_to_booking, "customer_rating": outcome.customer_rating,
        "created_at": utcnow().isoformat()})
    if not recorded:  # nothing was promised yet: the client can send it again
        raise HTTPException(503, "the outcome could not be recorded now (the gateway's journal cannot be written); "
                                 "retry later", headers={"Retry-After": "30"})
    arm = state.service.last_served.get(session_id) or await asyncio.to_thread(_last_arm, state, session_id)
    if outcome.led_to_booking is not None:
        state.metrics.bookings.labels(str(outcome.led_to_booking).lower(), *arm).inc()
    if outcome.customer_rating is not None:
        state.metrics.ratings.labels(*arm).observe(outcome.customer_rating)
    return {"session_id": session_id, "accepted": True}


def _in_database(state, session_id: str) -> bool:
    """True when stored; also True while the database is down (the journal keeps the outcome until it is back)."""
    try:
        with state.sessions() as session:
            return session.get(ChatSession, session_id) is not None
    except SQLAlchemyError:
        return True


def _last_arm(state, session_id: str) -> tuple[str, str]:
    """Who served the session's latest turn, from the database (another replica may have served it)."""
    try:
        with state.sessions() as session:
            row = session.execute(select(TrainingSignal.served_by, TrainingSignal.adapter_version)
                                  .where(TrainingSignal.session_id == session_id)
                                  .order_by(TrainingSignal.created_at.desc()).limit(1)).first()
    except SQLAlchemyError:
        row = None
    return (row[0], row[1] or "") if row else ("unknown", "")
