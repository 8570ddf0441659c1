"""Who answered: the local answers of each adapter version (stable or canary) and the teacher's, as plain samples.

A turn the gateway routed to the local model carries a student candidate; its ``model`` is the adapter
version the predictor reported (on a fallback the signal's own ``adapter_version`` is empty, because the
teacher's answer was served). Shadow comparisons add the local model's answers to turns it did not serve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hibachi.monitoring.addressed import AnswerCheck
from hibachi.queries import shadows_between, signals_between
from hibachi.records import ChatSession, ShadowComparison, TrainingSignal

TEACHER = "teacher"


@dataclass(frozen=True)
class Answer:
    """One answer by one arm: what the analysis counts."""

    version: str  # adapter version, or "teacher"
    source: str  # served | shadow
    error: bool
    critic_passed: bool | None  # None when there was no answer to judge
    hallucinated: bool | None
    latency_ms: float
    fell_back: bool | None  # served turns routed to the local model only
    session_id: str | None
    booked: bool | None  # the session's outcome, when known and this arm served it
    addressed: bool | None = None  # None when there was no answer (or no check was asked for)


def is_hallucination(violations: Iterable[dict] | None, categories: list[str]) -> bool:
    items = list(violations or [])
    if not categories:
        return bool(items)
    return any(str(v.get("category", "")) in categories for v in items if isinstance(v, dict))


def _outcome(chat: ChatSession | None) -> bool | None:
    return None if chat is None else chat.led_to_booking


def _addressed(check: AnswerCheck | None, prompt: str, answer: str | None, answered: bool,
               reference: str | None = None) -> bool | None:
    if check is None or not answered:
        return None
    return check.addresses(prompt, answer, reference=reference)


def answers_from_signal(signal: TrainingSignal, categories: list[str],
                        check: AnswerCheck | None = None) -> list[Answer]:
    """The local answer of a turn routed to the local model, or the teacher's answer of a teacher-served turn."""
    student = next((c for c in signal.candidates if c.role == "student"), None)
    if student is not None:
        served_locally = signal.served_by == "local"
        version = (signal.adapter_version if served_locally else None) or student.model
        answered = student.response is not None and student.error is None
        return [Answer(
            version=version, source="served",
            error=not answered or (served_locally and signal.stream_error is not None),
            critic_passed=student.critic_passed if answered else None,
            hallucinated=is_hallucination(student.violations, categories) if answered else None,
            latency_ms=float(student.latency_ms or 0.0),
            fell_back=signal.served_by in ("fallback", "safe_default"),
            session_id=signal.session_id,
            booked=_outcome(signal.session) if served_locally else None,
            addressed=_addressed(check, signal.prompt, student.response, answered),
        )]
    if signal.served_by != "teacher":
        return []
    chosen = next((c for c in signal.candidates if c.chosen), None)
    violations = chosen.violations if chosen is not None else []
    return [Answer(
        version=TEACHER, source="served", error=signal.stream_error is not None,
        critic_passed=signal.critic_passed, hallucinated=is_hallucination(violations, categories),
        latency_ms=float(signal.latency_ms or 0.0), fell_back=None, session_id=signal.session_id,
        booked=_outcome(signal.session),
        addressed=_addressed(check, signal.prompt, signal.chosen_response, signal.stream_error is None),
    )]


def answers_from_shadow(row: ShadowComparison, categories: list[str], check: AnswerCheck | None = None,
                        prompt: str = "") -> list[Answer]:
    if not row.adapter_version:  # a failed call cannot be told apart between stable and canary
        return []
    answered = row.local_response is not None and row.error is None
    return [Answer(
        version=row.adapter_version, source="shadow", error=not answered,
        critic_passed=row.critic_passed if answered else None,
        hallucinated=is_hallucination(row.violations, categories) if answered else None,
        latency_ms=float(row.latency_ms or 0.0), fell_back=None, session_id=None, booked=None,
        # Compared with the teacher's answer to the same turn (recomputed from the stored texts, so rows
        # stored before the measure changed are judged alike).
        addressed=_addressed(check, prompt, row.local_response, answered, reference=row.teacher_response or None),
    )]


def collect_answers(session: Session, since: datetime, until: datetime, categories: list[str],
                    check: AnswerCheck | None = None) -> list[Answer]:
    """Every arm's answers in the window; with ``check``, each answered one says whether it addressed the question."""
    answers: list[Answer] = []
    prompts: dict[str, str] = {}
    for signal in signals_between(session, since, until):
        prompts[signal.id] = signal.prompt
        answers.extend(answers_from_signal(signal, categories, check))
    for row in shadows_between(session, since, until):
        prompt = prompts.get(row.signal_id)
        if prompt is None and check is not None:  # the turn itself fell just outside the window
            turn = session.get(TrainingSignal, row.signal_id)
            prompt = turn.prompt if turn is not None else ""
        answers.extend(answers_from_shadow(row, categories, check, prompt or ""))
    return answers
