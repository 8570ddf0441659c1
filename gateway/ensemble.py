"""Calling providers and judging their answers: concurrent teachers, critic verdicts, the best passing answer.

A candidate is one provider's attempt with everything a training signal keeps about it (answer or
error, latency, tokens, cost, verdict). When no teacher passes, ``safe_answer`` builds a plain reply
from the knowledge base itself, so a customer never gets an invented fact or an empty page.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, fields
from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.providers import Completion, Provider, ProviderError
from hibachi.monitoring.arms import is_hallucination


@dataclass
class CandidateResult:
    provider: str
    model: str
    role: str
    response: str | None = None
    error: str | None = None
    error_kind: str | None = None
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    critic_passed: bool | None = None
    quality_score: float | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)
    chosen: bool = False

    @property
    def passed(self) -> bool:
        return self.response is not None and bool(self.critic_passed)

    def as_record(self) -> dict[str, Any]:
        # A shallow copy (not dataclasses.asdict's deep one): the violations are fresh JSON dicts, never shared.
        record = {name: getattr(self, name) for name in _RECORD_FIELDS}
        record["violations"] = list(self.violations)
        return record


_RECORD_FIELDS = tuple(f.name for f in fields(CandidateResult) if f.name != "error_kind")


class Judge:
    """Files the critic's verdict on a candidate.

    A fast critic (rules) runs inline: a thread hand-off would cost more than the check. One that turns
    out slow (say, an embedding model) is moved off the event loop so it never stalls other requests.
    "Fast" is judged by the CPU the check takes, not the wall clock: on a busy machine the wall clock also
    counts other processes' turns, and moved a 1 ms critic into threads (a hand-off per candidate, and the
    GIL contended) just when CPU was scarcest. A check that blocks (waits on I/O or sleeps) is told by the
    time it spends waiting beyond its CPU, and moves off too.
    """

    INLINE_BUDGET_S = 0.002  # CPU seconds per check
    BLOCKING_BUDGET_S = 0.005  # seconds per check spent waiting rather than computing

    def __init__(self, critic: Any, metrics: GatewayMetrics, hallucination_categories: list[str] | None = None) -> None:
        self.critic = critic
        self.metrics = metrics
        self.hallucination_categories = list(hallucination_categories or [])
        self.average_s: float | None = None  # CPU per check (moving average)
        self.average_wait_s: float | None = None  # wall minus CPU per check

    @property
    def off_loop(self) -> bool:
        return self.average_s is not None and (self.average_s > self.INLINE_BUDGET_S
                                               or self.average_wait_s > self.BLOCKING_BUDGET_S)

    def _timed(self, prompt: str, response: str) -> tuple[Any, float, float]:
        wall, cpu = time.perf_counter(), time.thread_time()
        verdict = self.critic.evaluate(prompt, response)
        cpu = time.thread_time() - cpu
        return verdict, cpu, max(0.0, time.perf_counter() - wall - cpu)

    async def evaluate(self, prompt: str, response: str) -> Any:
        if self.off_loop:
            verdict, cpu, wait = await asyncio.to_thread(self._timed, prompt, response)
        else:
            verdict, cpu, wait = self._timed(prompt, response)
        if self.average_s is None:
            self.average_s, self.average_wait_s = cpu, wait
        else:
            self.average_s = 0.9 * self.average_s + 0.1 * cpu
            self.average_wait_s = 0.9 * self.average_wait_s + 0.1 * wait
        return verdict

    async def judge(self, prompt: str, candidate: CandidateResult) -> CandidateResult:
        if candidate.response is None:
            return candidate
        verdict = await self.evaluate(prompt, candidate.response)
        candidate.critic_passed = bool(verdict.passed)
        candidate.quality_score = float(verdict.quality_score)
        candidate.violations = [v.model_dump(mode="json") for v in verdict.violations]
        adapter = candidate.model if candidate.role == "student" else ""
        for violation in candidate.violations:
            self.metrics.violations.labels(candidate.provider, candidate.role, adapter,
                                           violation.get("category", "other")).inc()
        if not candidate.critic_passed:
            self.metrics.critic_rejections.labels(candidate.provider, candidate.role, adapter).inc()
        if is_hallucination(candidate.violations, self.hallucination_categories):  # as the canary analysis counts
            self.metrics.hallucinations.labels(candidate.provider, candidate.role, adapter).inc()
        return candidate


def result_from(provider: Provider, completion: Completion | None, started: float,
                error: ProviderError | None = None) -> CandidateResult:
    config = provider.config
    candidate = CandidateResult(provider=config.name, model=config.model, role=config.role,
                                latency_ms=(time.perf_counter() - started) * 1000)
    if completion is not None:
        candidate.response = completion.text
        candidate.model = completion.model or config.model
        candidate.input_tokens = completion.input_tokens
        candidate.output_tokens = completion.output_tokens
        candidate.cost_usd = provider.cost(completion.input_tokens, completion.output_tokens)
    if error is not None:
        candidate.error, candidate.error_kind = str(error), error.kind
    return candidate


class Ensemble:
    def __init__(self, teachers: list[Provider], students: list[Provider], judge: Judge,
                 metrics: GatewayMetrics, grace_s: float | None = None) -> None:
        self.teachers = teachers
        self.students = students
        self.judge = judge
        self.metrics = metrics
        self.grace_s = grace_s  # how long the others may still take once one answer passed (None: all)

    def available_teachers(self) -> list[Provider]:
        ready = [t for t in self.teachers if t.breaker.available()]
        for teacher in self.teachers:
            if teacher not in ready:
                self.metrics.provider_skipped.labels(teacher.name).inc()
        return ready

    async def call(self, provider: Provider, messages: list[dict], system: str, prompt: str,
                   timeout_s: float | None = None) -> CandidateResult:
        started = time.perf_counter()
        try:
            completion = await provider.complete(messages, system, timeout_s)
        except ProviderError as exc:
            self.metrics.provider_errors.labels(provider.name, exc.kind).inc()
            return result_from(provider, None, started, exc)
        candidate = result_from(provider, completion, started)
        self.observe(candidate)
        return await self.judge.judge(prompt, candidate)

    def observe(self, candidate: CandidateResult) -> None:
        self.metrics.provider_latency.labels(candidate.provider, candidate.role).observe(candidate.latency_ms / 1000)
        self.metrics.tokens.labels(candidate.provider, "input").inc(candidate.input_tokens)
        self.metrics.tokens.labels(candidate.provider, "output").inc(candidate.output_tokens)
        self.metrics.cost.labels(candidate.provider).inc(candidate.cost_usd)

    async def ask_teachers(self, messages: list[dict], system: str, prompt: str) -> list[CandidateResult]:
        """Every available teacher at once, each under its own hard timeout. Once one answer has passed the critic
        the others get ``grace_s`` more and the rest are cancelled, so a teacher that is slow but never fails
        (which its breaker cannot catch) does not add its latency to every customer's answer."""
        teachers = self.available_teachers()
        if len(teachers) == 1:  # the common single-teacher setup: no task and gather future per request
            return [await self.call(teachers[0], messages, system, prompt)]
        if self.grace_s is None:
            return list(await asyncio.gather(*(self.call(t, messages, system, prompt) for t in teachers)))
        started = time.perf_counter()
        tasks = [asyncio.ensure_future(self.call(t, messages, system, prompt)) for t in teachers]
        pending: set[asyncio.Future] = set(tasks)
        deadline: float | None = None
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
            done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break  # the grace period is over
            if deadline is None and any(task.result().passed for task in done):
                deadline = time.perf_counter() + self.grace_s
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return [self._cancelled(teacher, started) if task in pending else task.result()
                for teacher, task in zip(teachers, tasks, strict=True)]

    def _cancelled(self, provider: Provider, started: float) -> CandidateResult:
        """A teacher still answering when the grace period ended: recorded (its latency a lower bound), not its
        fault, so neither its breaker nor its error count moves."""
        self.metrics.ensemble_cancelled.labels(provider.name).inc()
        return result_from(provider, None, started, ProviderError(
            "cancelled", f"{provider.name} was still answering {self.grace_s:g}s after an answer had passed"))

    @staticmethod
    def best(candidates: list[CandidateResult]) -> CandidateResult | None:
        passing = [c for c in candidates if c.passed]
        if not passing:
            return None
        # Highest quality wins; on a tie the faster answer (the candidates were all paid for already).
        return max(passing, key=lambda c: (c.quality_score or 0.0, -c.latency_ms))


def safe_answer(kb: Any, retriever: Any, question: str) -> str:
    """A reply made only of knowledge-base text, for when no model's answer can be trusted."""
    try:
        passages = retriever.top(question, k=1)
        fact = passages[0].text if passages else ""
    except Exception:  # noqa: BLE001 - the safe answer must not fail for a retrieval problem
        fact = ""
    name = kb.business.name
    lead = "I'm sorry, I can't give you a complete answer right now."
    known = f" Here is what I can tell you for certain: {fact}" if fact else ""
    return f"{lead}{known} For anything else, please contact {name} directly and we'll be glad to help."
