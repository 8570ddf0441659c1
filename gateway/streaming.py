"""Serving a turn as OpenAI-style SSE: ``data: {chunk}`` lines and a final ``data: [DONE]``.

Two modes (``gateway.stream_mode``). "verified" (the default) answers exactly as a plain reply does (ensemble,
critic, fallback, capture) and then streams the chosen answer, so a streaming customer gets only answers the
critic passed. "relay" trades that for time to first token: the first healthy teacher's tokens go out as they
arrive. A relayed stream starts only once its first token is in hand, so every failure before that point can
still fall back to the next teacher (or, for strict clients, become a proper 503/504). Once tokens have reached
the customer a failure cannot be undone: the stream ends with an explicit error event and the turn is stored
with ``trainable=False``. An upstream that goes silent is cut off after the provider's timeout. The critic
judges a relayed answer once complete and the verdict is stored with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from gateway.ensemble import CandidateResult
from gateway.providers import Provider, ProviderError, StreamUsage
from gateway.service import ChatService, NoAnswer, Served, Turn
from hibachi.openai_sse import DONE, ChunkWriter, sse, usage

log = logging.getLogger("gateway.streaming")
STREAM_INTERRUPTED = "the answer was interrupted by an upstream error; please retry"


def split_text(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class TeacherStream:
    """An open teacher stream whose first token has arrived."""

    def __init__(self, provider: Provider, iterator: AsyncIterator[str], first: str, usage: StreamUsage,
                 started: float) -> None:
        self.provider, self.iterator, self.first, self.usage, self.started = provider, iterator, first, usage, started


async def open_teacher_stream(service: ChatService, turn: Turn, system: str,
                              candidates: list[CandidateResult]) -> TeacherStream | None:
    """Try healthy teachers in order until one yields a first token.

    All attempts share one deadline (the longest teacher timeout), so silent upstreams cost at most that long in
    total, never the sum of every teacher's timeout. Each attempt gets an even share of what is left, so a
    stalled first teacher cannot use it all and leave the next healthy one untried.
    """
    teachers = service.ensemble.available_teachers()
    deadline = time.perf_counter() + max((t.config.timeout_s for t in teachers), default=0.0)
    for tried, provider in enumerate(teachers):
        started = time.perf_counter()
        budget = min(provider.config.timeout_s, (deadline - started) / (len(teachers) - tried))
        if budget <= 0:
            break
        usage = StreamUsage()
        iterator = provider.stream(turn.messages, system, usage).__aiter__()
        try:
            first = await asyncio.wait_for(anext(iterator), budget)
            return TeacherStream(provider, iterator, first, usage, started)
        except (ProviderError, TimeoutError, StopAsyncIteration) as exc:
            await _close(iterator)
            if not isinstance(exc, ProviderError) or exc.provider_at_fault:
                provider.breaker.record_failure()
            error = exc if isinstance(exc, ProviderError) else ProviderError(
                "timeout" if isinstance(exc, TimeoutError) else "bad_response",
                f"{provider.name} sent no first token" + (f" within {budget:.3g}s"
                                                           if isinstance(exc, TimeoutError) else ""))
            service.metrics.provider_errors.labels(provider.name, error.kind).inc()
            candidates.append(CandidateResult(provider=provider.name, model=provider.config.model, role="teacher",
                                              error=str(error), error_kind=error.kind,
                                              latency_ms=(time.perf_counter() - started) * 1000))
    return None


async def _close(iterator: AsyncIterator[str]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # noqa: BLE001, S110 - closing a broken stream may fail again; nothing to add
            pass


async def prepare_stream(service: ChatService, turn: Turn, model: str,
                         include_usage: bool) -> tuple[AsyncIterator[bytes], str | None]:
    """Decide who answers (raising NoAnswer before any byte for strict clients); the body, and who served it
    when that is known before the first byte (always, except for a relayed teacher stream)."""
    writer = ChunkWriter(f"chatcmpl-{turn.request_id}", model)
    if service.settings.gateway.stream_mode == "verified":
        served = await service.answer(turn)
        shadow = service.route(turn.session_id) == "shadow"
        return _replay(service, turn, served, writer, include_usage, recorded=True, shadow=shadow), served.served_by
    return await _prepare_relay(service, turn, writer, include_usage)


async def _prepare_relay(service: ChatService, turn: Turn, writer: ChunkWriter,
                         include_usage: bool) -> tuple[AsyncIterator[bytes], str | None]:
    system = await service.system_prompt(turn.question)
    route = service.route(turn.session_id)
    candidates: list[CandidateResult] = []
    served_by = "teacher"
    if route == "local":
        local = await service.ask_student(turn, system)
        candidates.append(local)
        if local.passed:
            served = service.choose(local, candidates, "local")
            return _replay(service, turn, served, writer, include_usage), served.served_by
        service.count_fallback(local)
        served_by = "fallback"
    opened = await open_teacher_stream(service, turn, system, candidates)
    if opened is None:
        served = service.no_answer(turn, candidates)
        if turn.strict:
            await service.finish(turn, served)  # records the failure and raises NoAnswer
            raise NoAnswer(503, "unreachable")  # pragma: no cover - finish always raises here
        return _replay(service, turn, served, writer, include_usage), served.served_by
    return _relay(service, turn, opened, candidates, served_by, writer, include_usage, route), None


async def _replay(service: ChatService, turn: Turn, served: Served, writer: ChunkWriter, include_usage: bool, *,
                  recorded: bool = False, shadow: bool = False) -> AsyncIterator[bytes]:
    """Stream an answer that is already complete (verified, the local model's, or the safe answer)."""
    yield writer.chunk({"role": "assistant", "content": ""})
    for piece in split_text(served.text):
        yield writer.chunk({"content": piece})
    if not recorded:
        await service.finish(turn, served)
    yield writer.chunk({}, "stop")
    if include_usage:
        yield writer.chunk({}, usage=usage(served.input_tokens, served.output_tokens))
    yield DONE
    if shadow:  # after the last byte, as for a plain reply: the shadow call can never delay or change it
        service.schedule_shadow(turn, served)


async def _relay(service: ChatService, turn: Turn, opened: TeacherStream, candidates: list[CandidateResult],
                 served_by: str, writer: ChunkWriter, include_usage: bool, route: str) -> AsyncIterator[bytes]:
    provider, parts = opened.provider, [opened.first]
    candidate = CandidateResult(provider=provider.name, model=provider.config.model, role="teacher")
    candidates.append(candidate)
    error: str | None = None
    finished = False
    try:
        yield writer.chunk({"role": "assistant", "content": ""})
        yield writer.chunk({"content": opened.first})
        while True:
            try:
                piece = await asyncio.wait_for(anext(opened.iterator), provider.config.timeout_s)
            except StopAsyncIteration:
                break
            except TimeoutError:
                error = f"timeout: {provider.name} went silent for {provider.config.timeout_s:g}s mid-stream"
                break
            except ProviderError as exc:
                error = str(exc)
                break
            parts.append(piece)
            yield writer.chunk({"content": piece})
        await _close(opened.iterator)
        served = await _settle(service, turn, opened, candidate, candidates, served_by, "".join(parts), error)
        finished = True
        if error:
            # The customer learns only that it broke; which provider and why stay in the signal and this log line.
            log.warning("relayed stream interrupted", extra={"provider": provider.name, "error": error,
                                                             "session_id": turn.session_id})
            yield sse({"error": {"message": STREAM_INTERRUPTED, "type": "upstream_error",
                                 "code": "stream_interrupted"}})
            return
        yield writer.chunk({}, "stop")
        if include_usage:
            yield writer.chunk({}, usage=usage(opened.usage.input_tokens, opened.usage.output_tokens))
        yield DONE
        if route == "shadow":
            service.schedule_shadow(turn, served)
    finally:
        if not finished:  # the client went away mid-stream: keep the turn, out of training data
            candidate.response = "".join(parts)
            candidate.error = "client disconnected"
            served = service.choose(candidate, candidates, served_by)
            service.capture.journal.submit(service.signal_record(turn, served, stream_error="client disconnected"))


async def _settle(service: ChatService, turn: Turn, opened: TeacherStream, candidate: CandidateResult,
                  candidates: list[CandidateResult], served_by: str, text: str, error: str | None) -> Served:
    provider = opened.provider
    candidate.response = text
    candidate.model = opened.usage.model or provider.config.model
    candidate.latency_ms = (time.perf_counter() - opened.started) * 1000
    candidate.input_tokens, candidate.output_tokens = opened.usage.input_tokens, opened.usage.output_tokens
    candidate.cost_usd = provider.cost(candidate.input_tokens, candidate.output_tokens)
    if error:  # a stream that keeps breaking part way opens the breaker like any other failure
        candidate.error = error
        provider.breaker.record_failure()
        service.metrics.stream_errors.labels(provider.name).inc()
    else:
        provider.breaker.record_success()
    service.ensemble.observe(candidate)
    await service.ensemble.judge.judge(turn.question, candidate)
    served = service.choose(candidate, candidates, served_by)
    await service.finish(turn, served, stream_error=error)
    return served
