"""One customer turn end to end: grounding, traffic route, ensemble or local model, fallback, capture, shadow.

``ChatService.answer`` serves a complete reply; ``gateway.streaming`` serves the same turn as SSE.
Either way the signal is appended to the journal (fsynced) before the customer gets the end of the reply. A
journal that cannot be written (a full or broken disk) costs that signal, never the customer's answer: the loss is
counted (``gateway_capture_failures_total``) and logged, and readiness reports the journal until it can write again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gateway.capture import Capture
from gateway.ensemble import CandidateResult, Ensemble, safe_answer
from gateway.metrics import GatewayMetrics
from gateway.middleware import new_id
from gateway.policy import TrafficPolicy, route_for
from hibachi import prompt as prompt_contract
from hibachi.monitoring.addressed import answer_similarity
from hibachi.records import utcnow
from hibachi.settings import Settings

log = logging.getLogger("gateway.service")


class NoAnswer(Exception):
    """Strict clients get an HTTP error instead of the safe answer: 504 when every teacher timed out, else 503."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Turn:
    request_id: str
    session_id: str
    api_key_id: str | None
    messages: list[dict]
    strict: bool = False
    user: str | None = None  # the OpenAI `user` field: the client's id for its customer
    started: float = field(default_factory=time.perf_counter)

    @property
    def question(self) -> str:
        return self.messages[-1]["content"]


@dataclass
class Served:
    text: str
    served_by: str
    provider: str | None
    model: str | None
    policy: str
    candidates: list[CandidateResult]
    adapter_version: str | None = None
    signal_id: str = field(default_factory=new_id)
    input_tokens: int = 0
    output_tokens: int = 0


class ChatService:
    def __init__(self, settings: Settings, ensemble: Ensemble, capture: Capture, metrics: GatewayMetrics,
                 kb: Any, retriever: Any, policy: TrafficPolicy) -> None:
        self.settings = settings
        self.ensemble = ensemble
        self.capture = capture
        self.metrics = metrics
        self.kb = kb
        self.retriever = retriever
        self.policy = policy
        self._shadows: set[asyncio.Task] = set()
        # Who last served each recent session, so an outcome can be credited to an arm (teacher, adapter).
        self.last_served: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.grounding = lru_cache(maxsize=4096)(self._grounding)
        # What every stored grounding was built from (see signal_record): the retriever's facts, hashed once.
        self.grounding_kb_sha256 = prompt_contract.facts_sha256(retriever)
        # The topic comes from the knowledge base this gateway was built with, not the global settings.
        self.topic = lru_cache(maxsize=4096)(retriever.topic)

    def _grounding(self, question: str) -> str:
        # The prompt contract's grounding (facts and computed quote); teachers get it too.
        return prompt_contract.grounding(self.retriever, question)

    async def system_prompt(self, question: str) -> str:
        return self.grounding(question)

    def route(self, session_id: str) -> str:
        return route_for(self.policy, session_id, has_student=bool(self.ensemble.students))

    # --- complete answers ---

    async def answer(self, turn: Turn) -> Served:
        system = await self.system_prompt(turn.question)
        route = self.route(turn.session_id)
        candidates: list[CandidateResult] = []
        served_by = "teacher"
        if route == "local":
            local = await self.ask_student(turn, system)
            candidates.append(local)
            if local.passed:
                return await self.finish(turn, self.choose(local, candidates, "local"))
            self.count_fallback(local)
            served_by = "fallback"
        teachers = await self.ensemble.ask_teachers(turn.messages, system, turn.question)
        candidates.extend(teachers)
        best = self.ensemble.best(teachers)
        if best is None:
            served = self.no_answer(turn, candidates)
        else:
            served = self.choose(best, candidates, served_by)
        return await self.finish(turn, served)

    async def ask_student(self, turn: Turn, system: str) -> CandidateResult:
        student = self.ensemble.students[0]
        if not student.breaker.available():
            self.metrics.provider_skipped.labels(student.name).inc()
            return CandidateResult(provider=student.name, model=student.config.model, role="student",
                                   error=f"cooldown: {student.name} is cooling down after failures",
                                   error_kind="cooldown")
        # Exactly what training rows and evaluation use (hibachi.prompt): grounding, recent turns, question.
        messages = prompt_contract.assemble(system, turn.messages[:-1], turn.question)
        return await self.ensemble.call(student, messages, "", turn.question,
                                        timeout_s=self.settings.traffic.student_timeout_s)

    def count_fallback(self, local: CandidateResult) -> None:
        reason = local.error_kind or ("critic" if local.response is not None else "error")
        self.metrics.fallbacks.labels(local.model if local.response else "", reason).inc()

    def choose(self, chosen: CandidateResult, candidates: list[CandidateResult], served_by: str) -> Served:
        chosen.chosen = True
        return Served(text=chosen.response or "", served_by=served_by, provider=chosen.provider,
                      model=chosen.model, policy=self.policy.policy, candidates=candidates,
                      adapter_version=chosen.model if chosen.role == "student" else None,
                      input_tokens=chosen.input_tokens, output_tokens=chosen.output_tokens)

    def no_answer(self, turn: Turn, candidates: list[CandidateResult]) -> Served:
        """Nothing passed: the safe answer, or for a strict client the failure is recorded and raised."""
        teachers = [c for c in candidates if c.role == "teacher"]
        mode = "strict" if turn.strict else "safe_answer"
        self.metrics.safe_answers.labels(mode).inc()
        log.warning("no teacher answer passed", extra={
            "session_id": turn.session_id, "errors": [c.error for c in teachers if c.error],
            "rejected": [c.provider for c in teachers if c.response is not None]})
        return Served(text=safe_answer(self.kb, self.retriever, turn.question), served_by="safe_default",
                      provider=None, model=None, policy=self.policy.policy, candidates=candidates)

    @staticmethod
    def failure_status(candidates: list[CandidateResult]) -> int:
        teachers = [c for c in candidates if c.role == "teacher"]
        timed_out = teachers and all(c.error_kind == "timeout" for c in teachers)
        return 504 if timed_out else 503

    async def finish(self, turn: Turn, served: Served, *, stream_error: str | None = None) -> Served:
        """Capture the signal durably; for strict clients a failed turn is recorded and then raised."""
        if served.served_by == "safe_default" and turn.strict:
            status = self.failure_status(served.candidates)
            await self.record(self.signal_record(turn, served, stream_error=f"no answer: HTTP {status}"))
            self.count_request(turn, served, status=str(status))
            raise NoAnswer(status, "no provider could answer this request; retry later")
        await self.record(self.signal_record(turn, served, stream_error=stream_error))
        self.count_request(turn, served, status="error" if stream_error else "ok")
        return served

    async def record(self, record: dict) -> bool:
        """Journal a record (a signal, a shadow comparison, an outcome); False when the journal could not take it."""
        try:
            await self.capture.record(record)
        except OSError as exc:
            self.metrics.capture_failures.labels(record["type"]).inc()
            log.error("record not captured: the journal cannot be written", extra={
                "type": record["type"], "session_id": record.get("session_id"), "error": str(exc)})
            return False
        return True

    def count_request(self, turn: Turn, served: Served, *, status: str) -> None:
        adapter = served.adapter_version or ""
        self.last_served[turn.session_id] = (served.served_by, adapter)
        self.last_served.move_to_end(turn.session_id)
        while len(self.last_served) > 50_000:
            self.last_served.popitem(last=False)
        latency_s = time.perf_counter() - turn.started
        log.info("answered", extra={"session_id": turn.session_id, "served_by": served.served_by,
                                    "provider": served.provider, "adapter_version": served.adapter_version,
                                    "status": status, "latency_ms": round(latency_s * 1000, 1),
                                    "candidates": len(served.candidates)})
        self.metrics.requests.labels(served.served_by, adapter, served.policy, status).inc()
        self.metrics.request_latency.labels(served.served_by, adapter).observe(latency_s)

    def signal_record(self, turn: Turn, served: Served, *, stream_error: str | None = None) -> dict:
        chosen = next((c for c in served.candidates if c.chosen), None)
        history = turn.messages[:-1]
        return {
            "type": "signal", "id": served.signal_id, "request_id": turn.request_id, "session_id": turn.session_id,
            "tenant": self.settings.tenant, "api_key_id": turn.api_key_id, "customer_user": turn.user,
            "prompt": turn.question,
            "conversation": history, "topic": self.topic(turn.question), "chosen_response": served.text,
            "chosen_provider": served.provider, "served_by": served.served_by, "policy": served.policy,
            "adapter_version": served.adapter_version,
            "quality_score": (chosen.quality_score or 0.0) if chosen else 0.0,
            "critic_passed": bool(chosen and chosen.critic_passed),
            # A safe default or a broken stream is not an answer to learn from.
            "trainable": served.served_by != "safe_default" and stream_error is None,
            "stream_error": stream_error,
            "latency_ms": round((time.perf_counter() - turn.started) * 1000, 3),
            "input_tokens": sum(c.input_tokens for c in served.candidates),
            "output_tokens": sum(c.output_tokens for c in served.candidates),
            "cost_usd": sum(c.cost_usd for c in served.candidates),
            "created_at": utcnow().isoformat(),
            "candidates": [c.as_record() for c in served.candidates],
            # The grounding this turn was answered with (teachers and student alike get it): the one cached per
            # question that answer()/prepare_stream() built, so no new work. Export uses it instead of rebuilding
            # it while the knowledge base and the prompt contract are still the ones it was built from.
            "grounding": self.grounding(turn.question),
            "grounding_kb_sha256": self.grounding_kb_sha256,
            "grounding_version": prompt_contract.PROMPT_VERSION,
        }

    # --- shadow ---

    def schedule_shadow(self, turn: Turn, served: Served) -> None:
        """Start the local model's shadow answer; called only after the customer's reply is on its way."""
        if not self.ensemble.students or served.served_by == "safe_default":
            return
        if len(self._shadows) >= self.settings.gateway.max_pending_shadows:
            self.metrics.shadow.labels("skipped_backlog").inc()
            return
        task = asyncio.get_running_loop().create_task(self.run_shadow(turn, served))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def run_shadow(self, turn: Turn, served: Served) -> None:
        try:
            system = await self.system_prompt(turn.question)
            local = await self.ask_student(turn, system)
            similarity = None
            if local.response is not None:
                # Word-level, the measure the analysis judges "addresses the question" with (cheap: no model).
                similarity = answer_similarity(local.response, served.text)
            await self.record({
                "type": "shadow", "signal_id": served.signal_id, "provider": local.provider, "model": local.model,
                "adapter_version": local.model if local.response is not None else None,
                "local_response": local.response, "error": local.error, "teacher_response": served.text,
                "similarity": similarity, "critic_passed": local.critic_passed,
                "quality_score": local.quality_score, "violations": local.violations,
                "latency_ms": local.latency_ms, "created_at": utcnow().isoformat(),
            })
            result = "error" if local.response is None else "passed" if local.passed else "failed"
            self.metrics.shadow.labels(result).inc()
        except Exception:  # noqa: BLE001 - a shadow problem must never reach a customer
            log.exception("shadow comparison failed")
            self.metrics.shadow.labels("crashed").inc()

    async def drain_shadows(self, timeout_s: float = 5.0) -> None:
        if self._shadows:
            await asyncio.wait(set(self._shadows), timeout=timeout_s)

