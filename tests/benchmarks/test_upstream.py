"""The benchmark's minimal teacher speaks OpenAI chat completions well enough for the official SDK."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest
import uvicorn

from benchmarks.upstream import create_upstream
from devkit.processes import free_port


@pytest.fixture
def upstream():
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_upstream("Adults are $60."), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_the_sdk_reads_its_answers_and_it_waits_the_latency_the_model_name_asks(upstream):
    client = openai.OpenAI(api_key="x", base_url=f"{upstream}/v1", max_retries=0)
    started = time.perf_counter()
    reply = client.chat.completions.create(model="gpt-4o@latency_ms=50",
                                           messages=[{"role": "user", "content": "How much per adult?"}])
    assert time.perf_counter() - started >= 0.05
    assert reply.choices[0].message.content == "Adults are $60."
    assert reply.model == "gpt-4o@latency_ms=50"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 3)


def test_it_refuses_what_is_not_a_chat_request(upstream):
    assert httpx.post(f"{upstream}/v1/chat/completions", content=b"not json").status_code == 400
    assert httpx.post(f"{upstream}/v1/chat/completions", json={"model": "m"}).status_code == 400
    assert httpx.post(f"{upstream}/v1/embeddings", json={}).status_code == 404
    assert httpx.get(f"{upstream}/health").json() == {"status": "ok"}
