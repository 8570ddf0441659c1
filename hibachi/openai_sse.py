"""OpenAI chat-completion streaming on the wire: ``data: {chunk}`` events and the final ``data: [DONE]``.

The gateway (to customers) and the predictor (to the gateway) speak the same protocol; both build their
events here so a field added for one client reaches every stream.
"""

from __future__ import annotations

import json
import time

DONE = b"data: [DONE]\n\n"


def sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def error_event(message: str, kind: str = "server_error") -> bytes:
    """The event a stream ends with when it fails after headers were sent (clients raise it as an error)."""
    return sse({"error": {"message": message, "type": kind}})


class ChunkWriter:
    """Builds the ``chat.completion.chunk`` events of one response."""

    def __init__(self, completion_id: str, model: str, created: int | None = None) -> None:
        self.id = completion_id
        self.model = model
        self.created = int(time.time()) if created is None else created

    def chunk(self, delta: dict, finish_reason: str | None = None, usage: dict | None = None) -> bytes:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
        if usage is not None:
            body["choices"], body["usage"] = [], usage
        return sse(body)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}
