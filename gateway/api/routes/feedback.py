"""Session outcomes: whether the conversation led to a booking, and the customer's rating."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from sqlalchemy.exc import SQLAlchemyError

from gateway.deps import CustomerCaller, State
from gateway.schemas import Outcome
from hibachi.records import ChatSession, utcnow

router = APIRouter(tags=["feedback"])


@router.post("/v1/sessions/{session_id}/outcome", status_code=202,
             summary="Record a session's outcome (stored through the capture journal, like signals)")
async def record_outcome(session_id: str, outcome: Outcome, caller: CustomerCaller, state: State) -> dict:
    if outcome.led_to_booking is None and outcome.customer_rating is None:
        raise HTTPException(422, "send led_to_booking, customer_rating or both")
    if not state.capture.knows_session(session_id) and not await asyncio.to_thread(_in_database, state, session_id):
        raise HTTPException(404, f"no session {session_id!r}")
    await state.capture.record({"type": "outcome", "session_id": session_id, "tenant": state.settings.tenant,
                                "led_to_booking": outcome.led_to_booking,
                                "customer_rating": outcome.customer_rating, "created_at": utcnow().isoformat()})
    if outcome.led_to_booking is not None:
        state.metrics.bookings.labels(str(outcome.led_to_booking).lower()).inc()
    if outcome.customer_rating is not None:
        state.metrics.ratings.observe(outcome.customer_rating)
    return {"session_id": session_id, "accepted": True}


def _in_database(state, session_id: str) -> bool:
    """True when stored; also True while the database is down (the journal keeps the outcome until it is back)."""
    try:
        with state.sessions() as session:
            return session.get(ChatSession, session_id) is not None
    except SQLAlchemyError:
        return True
