"""`hibachi providers simulate` and `hibachi gateway serve`: they start, answer and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from devkit.processes import free_port
from hibachi_cli import app


def _wait(url: str, process: subprocess.Popen, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def _stop(process: subprocess.Popen) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    return process.wait(timeout=15)


def test_the_commands_are_registered():
    result = CliRunner().invoke(app, ["--help"])
    assert "gateway" in result.output and "providers" in result.output
    assert "--port" in CliRunner().invoke(app, ["providers", "simulate", "--help"]).output
    assert "--host" in CliRunner().invoke(app, ["gateway", "serve", "--help"]).output


def test_simulate_serves_both_protocols_and_stops_on_sigterm():
    import anthropic
    import openai

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "hibachi_cli", "providers", "simulate", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _wait(f"http://127.0.0.1:{port}/health", process).status_code == 200
        model = 'gpt-4o@answer="Adults are $60 per person."'  # a model-name directive fixes the answer
        oa = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        assert oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "price?"}]
                                          ).choices[0].message.content == "Adults are $60 per person."
        an = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="x", max_retries=0)
        reply = an.messages.create(model='claude@answer="Hi there"', max_tokens=50,
                                   messages=[{"role": "user", "content": "hi"}])
        assert reply.content[0].text == "Hi there"
        with an.messages.stream(model='claude@answer="Hi there again"', max_tokens=50,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
            assert "".join(stream.text_stream) == "Hi there again"
    finally:
        code = _stop(process)
    assert code in (0, -signal.SIGTERM)


def test_gateway_serve_starts_answers_and_stops_on_sigterm(tmp_path):
    sim_port, port = free_port(), free_port()
    env = {**os.environ, "HIBACHI_DATA_DIR": str(tmp_path / "var"),
           "HIBACHI_PROVIDERS": f'[{{"name": "openai", "kind": "openai", "model": "gpt-4o", '
                                f'"base_url": "http://127.0.0.1:{sim_port}/v1"}}]'}
    sim = subprocess.Popen([sys.executable, "-m", "hibachi_cli", "providers", "simulate", "--port", str(sim_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    gateway = subprocess.Popen([sys.executable, "-m", "hibachi_cli", "gateway", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{sim_port}/health", sim)
        assert _wait(f"http://127.0.0.1:{port}/health/ready", gateway).status_code == 200
        response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=20,
                              headers={"Authorization": "Bearer dev-customer-key"},
                              json={"messages": [{"role": "user", "content": "How much is it per adult?"}]})
        assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"]
    finally:
        gateway_code, sim_code = _stop(gateway), _stop(sim)
    assert gateway_code in (0, -signal.SIGTERM) and sim_code in (0, -signal.SIGTERM)
    # One worker also runs under the supervisor, whose relay stored the worker's journal before it exited.
    with sqlite3.connect(tmp_path / "var" / "hibachi.db") as db:
        assert db.execute("SELECT COUNT(*) FROM training_signals").fetchone()[0] == 1


def test_a_worker_that_cannot_start_stops_serve_instead_of_being_restarted(tmp_path):
    blocker = tmp_path / "somefile"  # gateway.outbox_dir a file: the worker's journal cannot be created
    blocker.write_text("")
    env = {**os.environ, "HIBACHI_DATA_DIR": str(tmp_path / "var"), "HIBACHI_GATEWAY__OUTBOX_DIR": str(blocker)}
    done = subprocess.run([sys.executable, "-m", "hibachi_cli", "gateway", "serve", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "FileExistsError" in done.stderr and done.stderr.count("Application startup failed") == 1


def test_traffic_command_shows_and_changes_the_policy(sim, make_settings, start_gateway):
    from gateway_harness import provider

    gateway = start_gateway(make_settings([provider(sim, "openai"), provider(sim, "local", role="student")]))
    runner = CliRunner()
    shown = runner.invoke(app, ["gateway", "traffic", "--url", gateway.url])
    assert shown.exit_code == 0 and "policy teacher" in shown.output
    changed = runner.invoke(app, ["gateway", "traffic", "--url", gateway.url, "--policy", "split", "--percent", "10",
                                  "--reason", "first canary step"])
    assert changed.exit_code == 0 and "policy split split 10%" in changed.output
    refused = runner.invoke(app, ["gateway", "traffic", "--url", gateway.url, "--policy", "all"])
    assert refused.exit_code != 0 and "422" in str(refused.exception)
    wrong_key = runner.invoke(app, ["gateway", "traffic", "--url", gateway.url, "--admin-key", "nope"])
    assert "401" in str(wrong_key.exception)


def test_serve_keeps_idle_connections_open_longer_than_a_load_balancer(monkeypatch):
    """uvicorn's default keep-alive (5 s) is shorter than a balancer's idle timeout: a request sent on a connection the
    gateway is just closing would be lost. ``gateway.keep_alive_s`` sets it (75 s unless configured)."""
    from hibachi.settings import get_settings

    started: list[dict] = []
    monkeypatch.setattr("gateway.cli.supervise", lambda workers, options: started.append(options) or "stopped")
    for configured, expected in ((None, 75), ("120", 120)):
        if configured:
            monkeypatch.setenv("HIBACHI_GATEWAY__KEEP_ALIVE_S", configured)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["gateway", "serve", "--workers", "1"])
        assert result.exit_code == 0, result.output
        assert started[-1]["timeout_keep_alive"] == expected
    get_settings.cache_clear()
