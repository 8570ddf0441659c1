"""OpenAI-compatible chat completions on the KServe app, without vllm (kserve's own module needs it).

``POST /openai/v1/chat/completions`` (plain JSON or SSE ``chat.completion.chunk`` events ending in
``data: [DONE]``) and ``GET /openai/v1/models``. Bad requests get 4xx in OpenAI's error shape. The
response's ``model`` is the adapter version id that served, which the gateway stores.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from hibachi.openai_sse import DONE, ChunkWriter, error_event, usage
from serving.engine import ChatEngine, RequestTooLarge, UnknownAdapter
from serving.schemas import ChatCompletionRequest


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "param": param,
                                                               "code": None}})


def build_router(predictor, max_tokens_limit: int = 256, default_max_tokens: int = 128) -> APIRouter:
    """Routes bound to a ``ChatPredictor``; they answer 503 until its weights are loaded."""
    router = APIRouter(prefix="/openai/v1")

    def engine() -> ChatEngine | None:
        return predictor.engine if predictor.ready else None

    def adapter_for(requested: str | None, eng: ChatEngine) -> str | None:
        # The InferenceService name (what the gateway's provider config calls the model) means the default.
        if requested in (None, "", predictor.name):
            return None
        return requested

    @router.get("/models")
    async def list_models():
        eng = engine()
        if eng is None:
            return _error(503, "model is loading", "service_unavailable")
        now = int(time.time())
        return {"object": "list", "data": [{"id": name, "object": "model", "created": now, "owned_by": "hibachi"}
                                           for name in eng.served_models]}

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        eng = engine()
        if eng is None:
            return _error(503, "model is loading", "service_unavailable")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        try:
            chat = ChatCompletionRequest.model_validate(body)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "body"
            return _error(400, f"{where}: {error['msg']}", param=where)
        max_tokens = chat.token_limit or default_max_tokens
        if max_tokens > max_tokens_limit:
            return _error(400, f"max_tokens: at most {max_tokens_limit}, got {max_tokens}", param="max_tokens")
        messages = [m.model_dump() for m in chat.messages]
        adapter = adapter_for(chat.model, eng)
        try:
            served = eng.resolve(adapter)
            prompt_ids = eng.prompt_ids(messages)  # tokenised once, reused by the generation below
            prompt_tokens = len(prompt_ids)
            eng.check_fits(prompt_tokens, max_tokens)
        except UnknownAdapter as exc:
            return _error(404, str(exc), "model_not_found", param="model")
        except RequestTooLarge as exc:
            return _error(400, str(exc), "context_length_exceeded", param="messages")
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if chat.stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _sse(eng, messages, max_tokens, chat.temperature, served, completion_id, created,
                          prompt_ids, include_usage, chat.ignore_eos)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        result = await run_in_threadpool(eng.generate, messages, max_tokens, chat.temperature, served,
                                         chat.ignore_eos, prompt_ids)
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": result.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": usage(result.prompt_tokens, result.completion_tokens),
        }

    return router


async def _sse(eng: ChatEngine, messages: list[dict], max_tokens: int, temperature: float, served: str,
               completion_id: str, created: int, prompt_ids: list[int], include_usage: bool,
               ignore_eos: bool = False) -> AsyncIterator[bytes]:
    chunk = ChunkWriter(completion_id, served, created).chunk
    prompt_tokens = len(prompt_ids)
    yield chunk({"role": "assistant", "content": ""})
    stats: dict = {}
    try:
        async for delta in iterate_in_threadpool(eng.stream(messages, max_tokens, temperature, served, stats,
                                                            ignore_eos, prompt_ids)):
            yield chunk({"content": delta})
    except Exception as exc:  # noqa: BLE001 - headers are sent; the error travels as an event
        yield error_event(str(exc))
        yield DONE
        return
    completion_tokens = stats.get("completion_tokens", 0)
    yield chunk({}, stats.get("finish_reason", "stop"))
    if include_usage:
        yield chunk({}, usage=usage(prompt_tokens, completion_tokens))
    yield DONE
