"""`hibachi serve` as a subprocess: the official openai client, KServe v1/v2, bad requests, concurrency."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serving_cases import SECRET_ANSWER, SECRET_PROMPT

pytestmark = pytest.mark.slow
MODEL = "hibachi-llama"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_base: Path, secret_adapter: Path, tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HIBACHI_DATA_DIR": str(log.parent)}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hibachi_cli", "serve", "--base-model", str(tiny_base), "--adapter",
             str(secret_adapter), "--adapter-name", "v1", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"hibachi serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/v2/models/{MODEL}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"hibachi serve never became ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def base_answer(tiny_base: Path) -> str:
    from serving.engine import ChatEngine

    engine = ChatEngine.load(tiny_base)
    return engine.generate([{"role": "user", "content": SECRET_PROMPT}], max_new_tokens=24).text


def _client(server: str):
    from openai import OpenAI

    return OpenAI(base_url=f"{server}/openai/v1", api_key="unused", max_retries=0, timeout=60)


def test_openai_client_gets_the_adapters_answer(server: str, base_answer: str) -> None:
    reply = _client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=24)
    assert reply.choices[0].message.content == SECRET_ANSWER
    assert reply.choices[0].message.content != base_answer
    assert reply.model == "v1"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 24
    assert [m.id for m in _client(server).models.list().data] == ["v1"]


def test_ignore_eos_answers_exactly_max_tokens_plain_and_streamed(server: str) -> None:
    ask = {"model": MODEL, "messages": [{"role": "user", "content": SECRET_PROMPT}], "max_tokens": 40,
           "extra_body": {"ignore_eos": True}}
    reply = _client(server).chat.completions.create(**ask)
    assert (reply.usage.completion_tokens, reply.choices[0].finish_reason) == (40, "length")
    assert reply.choices[0].message.content.startswith(SECRET_ANSWER)
    chunks = list(_client(server).chat.completions.create(**ask, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == 40


def test_openai_client_streams_the_same_answer(server: str) -> None:
    stream = _client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=24, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == SECRET_ANSWER
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3  # really incremental
    assert {c.model for c in chunks} == {"v1"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    plain = _client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=24)
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    cut = list(_client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=3, stream=True))
    assert [c.choices[0].finish_reason for c in cut if c.choices][-1] == "length"


def test_kserve_v1_and_v2_predict(server: str) -> None:
    v1 = httpx.post(f"{server}/v1/models/{MODEL}:predict", timeout=60, json={
        "instances": [SECRET_PROMPT, {"messages": [{"role": "user", "content": SECRET_PROMPT}], "max_tokens": 3}]})
    assert v1.status_code == 200, v1.text
    first, second = v1.json()["predictions"]
    assert first["text"] == SECRET_ANSWER and first["model"] == "v1"
    assert second["completion_tokens"] == 3 and second["finish_reason"] == "length"
    v2 = httpx.post(f"{server}/v2/models/{MODEL}/infer", timeout=60, json={
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SECRET_PROMPT]}]})
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == [SECRET_ANSWER] and v2.json()["model_version"] == "v1"
    too_many = httpx.post(f"{server}/v2/models/{MODEL}/infer", timeout=60, json={
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]}],
        "parameters": {"max_tokens": 100000}})
    assert too_many.status_code == 400 and "max_tokens" in too_many.json()["error"]


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"model": MODEL, "messages": []}, 400, "messages"),
    ({"model": MODEL}, 400, "messages"),
    ({"model": MODEL, "messages": "hello"}, 400, "messages"),
    ({"model": MODEL, "messages": [{"role": "user", "content": 5}]}, 400, "content"),
    ({"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]}, 400, "role"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, 400, "temperature"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}, 400, "max_tokens"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "grill " * 600}]}, 400, "context length"),
    ({"model": "no-such-adapter", "messages": [{"role": "user", "content": "hi"}]}, 404, "not served"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_chat_requests_get_4xx_with_a_message(server: str, body, status: int, needle: str) -> None:
    response = httpx.post(f"{server}/openai/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]


def test_malformed_bodies_get_4xx(server: str) -> None:
    bad_json = httpx.post(f"{server}/openai/v1/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"}, timeout=30)
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]
    for body in ({"instances": []}, {"instances": [{"messages": []}]}, {"instances": [{"bogus": 1}]},
                 {"instances": [{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}]}):
        response = httpx.post(f"{server}/v1/models/{MODEL}:predict", json=body, timeout=30)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["error"]


def test_concurrent_requests_match_sequential_ones(server: str) -> None:
    prompts = [SECRET_PROMPT, "How much for adults?", "Do you offer wagyu?", SECRET_PROMPT, "Hello", "Is it free?"]
    client = _client(server)

    def ask(prompt: str) -> tuple[str, str]:
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}],
                                               max_tokens=24)
        return reply.choices[0].message.content, reply.model

    sequential = [ask(p) for p in prompts]
    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        concurrent = list(pool.map(ask, prompts))
    assert concurrent == sequential
    assert sequential[0] == (SECRET_ANSWER, "v1")


def test_gateway_split_traffic_reaches_the_predictor(server: str, tmp_path: Path) -> None:
    """The gateway's `local` student provider is this predictor: split mode serves its answers and
    records the adapter version from the response's `model` field."""
    import threading

    import uvicorn
    from sqlalchemy import select

    from devkit.simulators.server import create_simulator_app
    from gateway.app import create_app
    from hibachi.records import TrainingSignal
    from hibachi.settings import ProviderConfig, Settings

    def start(app) -> tuple[uvicorn.Server, threading.Thread, str]:
        port = _free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                            access_log=False))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return srv, thread, f"http://127.0.0.1:{port}"

    servers = []
    try:
        sim = start(create_simulator_app(seed=1))
        servers.append(sim)
        settings = Settings(data_dir=tmp_path / "var", traffic={"policy": "split", "split_percent": 100},
                            providers=[
                                ProviderConfig(name="openai", kind="openai", model="gpt-4o", base_url=f"{sim[2]}/v1"),
                                ProviderConfig(name="local", kind="openai_compatible", role="student", model=MODEL,
                                               base_url=f"{server}/openai/v1", timeout_s=30, max_retries=0)])
        gateway = start(create_app(settings))
        servers.append(gateway)
        reply = httpx.post(f"{gateway[2]}/v1/chat/completions", timeout=60,
                           headers={"Authorization": "Bearer dev-customer-key"},
                           json={"model": "hibachi", "messages": [{"role": "user", "content": SECRET_PROMPT}]})
        assert reply.status_code == 200, reply.text
        state = gateway[0].config.app.state.gateway
        assert state.capture.wait_drained(10)
        with state.sessions() as session:
            signals = list(session.scalars(select(TrainingSignal)))
        assert [(s.served_by, s.adapter_version) for s in signals] == [("local", "v1")]
        assert reply.json()["choices"][0]["message"]["content"] == SECRET_ANSWER
    finally:
        for srv, thread, _ in reversed(servers):
            srv.should_exit = True
            thread.join(timeout=15)
