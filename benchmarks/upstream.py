"""The hosted teacher as the gateway benchmark sees it: OpenAI chat completions over HTTP/1.1, one fixed answer after
a fixed latency, and as little CPU per request as a Python server can spend.

In production the teacher runs on the provider's machines; here it shares two cores with the gateway and the load
generator, so every CPU-millisecond it spends is taken from the gateway under test. The provider simulator
(devkit.simulators) carries the fault injection tests need through FastAPI; this one carries nothing but the wire
format, as a plain ASGI app under uvicorn: ``/v1/chat/completions`` and ``/openai/v1/chat/completions``, the latency
taken from the model name (``gpt-4o@latency_ms=20``, the simulator's notation), ``GET /health``.

    python -m benchmarks.upstream PORT "ANSWER"
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

import orjson

_LATENCY = re.compile(rb'"model"\s*:\s*"[^"@]*@latency_ms=([0-9.]+)')
_MODEL = re.compile(rb'"model"\s*:\s*"([^"]*)"')
PATHS = {"/v1/chat/completions", "/openai/v1/chat/completions"}
JSON = [(b"content-type", b"application/json")]


def create_upstream(answer: str):
    """The ASGI app; the request body is checked to be a JSON object with messages, not otherwise interpreted."""

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] == "/health":
            await _reply(send, 200, b'{"status":"ok"}')
            return
        if scope["method"] != "POST" or scope["path"] not in PATHS:
            await _reply(send, 404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')
            return
        try:
            request = orjson.loads(body)
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request["messages"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            await _reply(send, 400, b'{"error":{"message":"invalid request","type":"invalid_request_error"}}')
            return
        latency = _LATENCY.search(body)
        if latency:
            await asyncio.sleep(float(latency.group(1)) / 1000)
        model = _MODEL.search(body)
        completion_tokens = len(answer.split())
        await _reply(send, 200, orjson.dumps({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": model.group(1).decode() if model else "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop",
                         "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}))

    return app


async def _reply(send, status: int, payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*JSON, (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    port, answer = (argv or sys.argv[1:])[:2]
    uvicorn.run(create_upstream(answer), host="127.0.0.1", port=int(port), log_level="warning", access_log=False,
                lifespan="on")


if __name__ == "__main__":
    main()
