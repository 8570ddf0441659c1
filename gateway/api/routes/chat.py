"""OpenAI-compatible chat completions: any OpenAI client library works against the gateway unchanged."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from gateway.deps import CustomerCaller, get_gateway_state
from gateway.schemas import ID_PATTERN, ChatCompletionRequest
from gateway.service import NoAnswer, Turn
from gateway.state import retry_after_header
from gateway.streaming import prepare_stream
from hibachi import fastjson

router = APIRouter(tags=["chat"])

SESSION_ID = re.compile(ID_PATTERN)
TRUE = {"1", "true", "yes", "on"}


def session_id_for_user(user: str) -> str:
    """The session of an OpenAI ``user`` (any text the client sends for its customer): the value itself when it is
    a session id and no email address; otherwise an id derived from it, stable (the same customer keeps the same
    sticky traffic arm) and without the text itself (an address must not spread to logs and every table)."""
    if SESSION_ID.match(user) and "@" not in user:
        return user
    return "user-" + hashlib.sha256(b"hibachi.session-of-user:" + user.encode()).hexdigest()[:32]


def _session_id(header: str | None, user: str | None) -> str:
    if header:  # the gateway's own id format, which clients echo back: a wrong one is the client's bug
        if not SESSION_ID.match(header):
            raise HTTPException(422, "session id (X-Session-Id) must be 1-64 letters, digits or ._:@-")
        return header
    return session_id_for_user(user) if user else uuid.uuid4().hex


@router.post("/v1/chat/completions", summary="Answer a customer (OpenAI chat-completions format, SSE with stream)")
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    caller: CustomerCaller,
    x_session_id: Annotated[str | None, Header()] = None,
    x_hibachi_strict: Annotated[str | None, Header(description="'true': 503/504 instead of the safe answer")] = None,
):
    body.refuse_unsupported()
    state = get_gateway_state(request)  # not a dependency: each one FastAPI resolves costs CPU on the busiest route
    limits = state.settings.gateway
    if len(body.messages) > limits.max_messages:
        raise HTTPException(422, f"too many messages: {len(body.messages)} (at most {limits.max_messages})")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    for index, message in enumerate(messages):
        if len(message["content"]) > limits.max_message_chars:
            raise HTTPException(422, f"messages[{index}] is {len(message['content'])} characters long "
                                     f"(at most {limits.max_message_chars})")
    turn = Turn(request_id=request.state.request_id, session_id=_session_id(x_session_id, body.user),
                api_key_id=caller.key_id, messages=messages, user=body.user,
                strict=(x_hibachi_strict or "").strip().lower() in TRUE)
    headers = {"X-Session-Id": turn.session_id}
    service = state.service
    try:
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            stream, served_by = await prepare_stream(service, turn, body.model, include_usage)
            if served_by is not None:
                headers["X-Served-By"] = served_by
            return StreamingResponse(stream, media_type="text/event-stream",
                                     headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        served = await service.answer(turn)
    except NoAnswer as exc:
        raise HTTPException(exc.status, str(exc), headers={
            **headers, **retry_after_header(state.settings.gateway.retry_after_s)}) from None
    headers["X-Served-By"] = served.served_by
    # Starts after the reply is sent, so the shadow call can never delay or change it.
    shadow = BackgroundTask(_start_shadow, service, turn, served) if service.route(turn.session_id) == "shadow" \
        else None
    return Response(fastjson.dumps({
        "id": f"chatcmpl-{turn.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": served.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": served.input_tokens, "completion_tokens": served.output_tokens,
                  "total_tokens": served.input_tokens + served.output_tokens},
    }), media_type="application/json", headers=headers, background=shadow)


async def _start_shadow(service, turn: Turn, served) -> None:
    service.schedule_shadow(turn, served)


@router.get("/v1/models", summary="The model name clients may send (the gateway picks providers itself)")
async def list_models(caller: CustomerCaller) -> dict:
    return {"object": "list", "data": [{"id": "hibachi", "object": "model", "created": 0, "owned_by": "hibachi"}]}
