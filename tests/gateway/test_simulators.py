"""The provider simulators: each wire protocol through its official SDK, and every way to inject a fault."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest
from gateway_harness import TRUE_ANSWER

from devkit.simulators.faults import FaultBook, split_model


def test_model_name_directives_parse_values_as_json():
    assert split_model("gpt-4o") == ("gpt-4o", {})
    assert split_model("gpt-4o@error_rate=0.5;error_status=429;answer=hello") == (
        "gpt-4o", {"error_rate": 0.5, "error_status": 429, "answer": "hello"})


def test_header_overrides_model_settings_which_override_the_default():
    book = FaultBook()
    book.per_model["m"] = book.default.model_copy(update={"latency_ms": 5.0, "error_rate": 0.1})
    name, faults = book.resolve("m@error_rate=0.2", json.dumps({"hang_rate": 1.0}))
    assert name == "m" and (faults.latency_ms, faults.error_rate, faults.hang_rate) == (5.0, 0.2, 1.0)
    with pytest.raises(ValueError):
        book.resolve("m@error_rate=2", None)


def test_openai_protocol_plain_streamed_and_usage(sim):
    client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == TRUE_ANSWER and reply.usage.completion_tokens == 11
    chunks = list(client.chat.completions.create(model="gpt-4o", stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TRUE_ANSWER
    assert chunks[-1].usage.completion_tokens == 11
    xai = openai.OpenAI(base_url=f"{sim.url}/xai/v1", api_key="x", max_retries=0)
    assert xai.chat.completions.create(model="grok", messages=[{"role": "user", "content": "hi"}]).model == "grok"


def test_anthropic_protocol_plain_and_streamed(sim):
    client = anthropic.Anthropic(base_url=sim.url, api_key="x", max_retries=0)
    reply = client.messages.create(model="claude", max_tokens=64, system="facts",
                                   messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == TRUE_ANSWER and reply.stop_reason == "end_turn"
    with client.messages.stream(model="claude", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        assert "".join(s.text_stream) == TRUE_ANSWER
        assert s.get_final_message().usage.output_tokens == 11
    assert httpx.get(f"{sim.url}/_sim/stats").json()["last_system"]["claude"] == ""


def test_faults_through_the_admin_endpoint_reach_the_sdks(sim):
    client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0)
    assert httpx.put(f"{sim.url}/_sim/faults/bad", json={"error_rate": 1.0, "error_status": 429}).status_code == 200
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="bad", messages=[{"role": "user", "content": "hi"}])
    httpx.put(f"{sim.url}/_sim/faults/bad", json={"malformed_rate": 1.0})
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own decoding error, whatever its class
        client.chat.completions.create(model="bad", messages=[{"role": "user", "content": "hi"}])
    httpx.put(f"{sim.url}/_sim/faults/bad", json={"latency_ms": 150, "answer": "late"})
    started = time.perf_counter()
    assert client.chat.completions.create(model="bad", messages=[{"role": "user", "content": "hi"}]
                                          ).choices[0].message.content == "late"
    assert time.perf_counter() - started >= 0.15
    claude = anthropic.Anthropic(base_url=sim.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(model="c@error_rate=1", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert httpx.delete(f"{sim.url}/_sim/faults").json() == {"cleared": True}
    assert httpx.put(f"{sim.url}/_sim/faults", json={"error_rate": 7}).status_code == 422
