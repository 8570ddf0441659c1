"""One FastAPI app serving OpenAI ``/v1/chat/completions`` (also under ``/xai/v1`` and ``/openai/v1``) and
Anthropic ``/v1/messages``, non-streaming and streaming in each provider's SSE format.

Answers come from the knowledge base (``devkit.synth.answers.answer_question``); faults (latency,
errors, hangs, malformed JSON, hallucinations, mid-stream silence) are configured per devkit.simulators.faults.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from devkit.simulators.faults import FaultBook, Faults
from hibachi import fastjson


class Simulator:
    def __init__(self, kb: Any = None, seed: int = 0) -> None:
        if kb is None:
            from hibachi.knowledge import load_knowledge_base

            kb = load_knowledge_base()
        self.kb = kb
        self.faults = FaultBook(seed)
        self.answer_rng = random.Random(seed + 1)
        self.requests: Counter[str] = Counter()
        self.last_system: dict[str, str] = {}

    def answer(self, name: str, messages: list[dict], faults: Faults) -> tuple[str, bool]:
        if faults.answer is not None:
            return faults.answer, False
        from devkit.synth.answers import answer_question

        hallucinate = self.faults.roll(faults.hallucination_rate)
        turns = [m for m in messages if m["role"] != "system"]
        return answer_question(self.kb, turns, self.answer_rng, hallucinate=hallucinate).text, hallucinate

    async def misbehave(self, faults: Faults, error_body: dict) -> Response | None:
        """Latency, then maybe an error, a hang or a broken body; None means answer normally."""
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if self.faults.roll(faults.hang_rate):
            await asyncio.sleep(faults.hang_s)
        if self.faults.roll(faults.error_rate):
            headers = {"retry-after": "1"} if faults.error_status == 429 else None
            return JSONResponse(error_body, status_code=faults.error_status, headers=headers)
        if self.faults.roll(faults.malformed_rate):
            return Response('{"id": "broken", "choices": [{"message": {"content": "He', media_type="application/json")
        return None


def _json(payload: dict) -> Response:
    # Serialized here rather than by FastAPI (jsonable_encoder walks the dict first): the simulator shares the
    # machine's cores with the gateway under load, so its CPU per answer is kept small.
    return Response(fastjson.dumps(payload), media_type="application/json")


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


async def _paced(pieces: list[str], faults: Faults, render) -> Any:
    """Yield rendered chunks with the configured delay, stalling or dropping where the faults say."""
    for index, piece in enumerate(pieces):
        if faults.stall_after_chunks is not None and index == faults.stall_after_chunks:
            await asyncio.sleep(faults.hang_s)
        if faults.break_after_chunks is not None and index == faults.break_after_chunks:
            raise ConnectionResetError("simulated upstream drop")
        if faults.chunk_delay_ms and index:
            await asyncio.sleep(faults.chunk_delay_ms / 1000)
        yield render(piece)


def openai_router(sim: Simulator) -> APIRouter:
    router = APIRouter()

    async def completions(request: Request):
        body = fastjson.loads(await request.body())
        name, faults = sim.faults.resolve(body.get("model", "gpt-4o"), request.headers.get("x-sim-faults"))
        sim.requests[name] += 1
        messages = body.get("messages", [])
        sim.last_system[name] = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        error = {"error": {"message": "simulated failure", "type": "server_error", "code": faults.error_status}}
        if (failure := await sim.misbehave(faults, error)) is not None:
            return failure
        text, _ = sim.answer(name, messages, faults)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in messages)
        if not body.get("stream"):
            return _json({"id": cid, "object": "chat.completion", "created": created, "model": name,
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                       "finish_reason": "stop", "logprobs": None}],
                          "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": _tokens(text),
                                    "total_tokens": prompt_tokens + _tokens(text)}})

        def chunk(delta: dict, finish: str | None = None) -> str:
            return "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                          "model": name, "choices": [{"index": 0, "delta": delta,
                                                                      "finish_reason": finish}]}) + "\n\n"

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            async for piece in _paced(_pieces(text), faults, lambda p: chunk({"content": p})):
                yield piece
            yield chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                yield "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                             "model": name, "choices": [], "usage": {
                                                 "prompt_tokens": prompt_tokens, "completion_tokens": _tokens(text),
                                                 "total_tokens": prompt_tokens + _tokens(text)}}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    for prefix in ("/v1", "/xai/v1", "/openai/v1"):
        router.add_api_route(f"{prefix}/chat/completions", completions, methods=["POST"])
    return router


def anthropic_router(sim: Simulator) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/messages")
    async def messages(request: Request):
        body = fastjson.loads(await request.body())
        name, faults = sim.faults.resolve(body.get("model", "claude"), request.headers.get("x-sim-faults"))
        sim.requests[name] += 1
        system = body.get("system") or ""
        sim.last_system[name] = system if isinstance(system, str) else " ".join(b.get("text", "") for b in system)
        error = {"type": "error", "error": {"type": "api_error" if faults.error_status >= 500
                                            else "rate_limit_error", "message": "simulated failure"}}
        if (failure := await sim.misbehave(faults, error)) is not None:
            return failure
        turns = [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str)
                  else "".join(b.get("text", "") for b in m["content"])} for m in body.get("messages", [])]
        text, _ = sim.answer(name, turns, faults)
        mid = f"msg_{uuid.uuid4().hex[:24]}"
        input_tokens = _tokens(sim.last_system[name]) + sum(_tokens(m["content"]) for m in turns)
        if not body.get("stream"):
            return _json({"id": mid, "type": "message", "role": "assistant", "model": name,
                          "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                          "stop_sequence": None,
                          "usage": {"input_tokens": input_tokens, "output_tokens": _tokens(text)}})

        def event(kind: str, data: dict) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        async def events():
            yield event("message_start", {"message": {
                "id": mid, "type": "message", "role": "assistant", "model": name, "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            yield event("ping", {})
            async for piece in _paced(_pieces(text), faults, lambda p: event(
                    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})):
                yield piece
            yield event("content_block_stop", {"index": 0})
            yield event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                          "usage": {"output_tokens": _tokens(text)}})
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    return router


def control_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/_sim")

    @router.get("/faults")
    def get_faults() -> dict:
        return {"default": sim.faults.default.model_dump(),
                "models": {k: v.model_dump() for k, v in sim.faults.per_model.items()}}

    @router.put("/faults")
    def set_default(faults: Faults) -> Faults:
        sim.faults.default = faults
        return faults

    @router.put("/faults/{model}")
    def set_model(model: str, faults: Faults) -> Faults:
        sim.faults.per_model[model] = faults
        return faults

    @router.delete("/faults")
    def clear() -> dict:
        sim.faults.default, sim.faults.per_model = Faults(), {}
        return {"cleared": True}

    @router.get("/stats")
    def stats() -> dict:
        return {"requests": dict(sim.requests), "last_system": sim.last_system}

    return router


def create_simulator_app(kb: Any = None, seed: int = 0) -> FastAPI:
    sim = Simulator(kb, seed)
    app = FastAPI(title="hibachi provider simulators", version="0.1.0")
    app.state.simulator = sim
    app.include_router(openai_router(sim))
    app.include_router(anthropic_router(sim))
    app.include_router(control_router(sim))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app
