"""Conversations of named customers, written straight into every table that can hold a customer's data."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hibachi.records import (
    AdminCorrection,
    Candidate,
    ChatMessage,
    ChatSession,
    ShadowComparison,
    TrainingSignal,
)


def add_customer(session: Session, session_id: str, questions: list[str], *, start: datetime,
                 answer: str = "Our hibachi package is $60 per adult with two proteins.") -> list[str]:
    """One session: a signal per question (with candidates, a correction, a shadow comparison), its messages
    and an outcome. Returns the signal ids."""
    session.add(ChatSession(id=session_id, led_to_booking=True, customer_rating=5, outcome_at=start,
                            created_at=start))
    signal_ids, conversation = [], []
    for turn, question in enumerate(questions):
        when = start + timedelta(minutes=turn)
        signal_id = f"{session_id}-sig{turn}"
        session.add(TrainingSignal(
            id=signal_id, request_id=f"{session_id}-req{turn}", session_id=session_id, prompt=question,
            conversation=list(conversation), topic="pricing", chosen_response=answer, chosen_provider="openai",
            served_by="teacher", quality_score=0.97, critic_passed=True, created_at=when,
            candidates=[Candidate(provider="openai", model="gpt", role="teacher", response=answer,
                                  critic_passed=True, quality_score=0.97, chosen=True)],
            corrections=[AdminCorrection(corrected_response=answer + " Booking is online.", author="admin",
                                         created_at=when)]))
        session.flush()  # the signal exists before the rows that point at it
        session.add(ShadowComparison(signal_id=signal_id, provider="local", model="tiny", local_response=answer,
                                     teacher_response=answer, similarity=0.9, created_at=when))
        session.add_all([
            ChatMessage(session_id=session_id, position=2 * turn, role="user", content=question, created_at=when),
            ChatMessage(session_id=session_id, position=2 * turn + 1, role="assistant", content=answer,
                        signal_id=signal_id, created_at=when)])
        conversation += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        signal_ids.append(signal_id)
    session.flush()
    return signal_ids
