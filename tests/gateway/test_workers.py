"""``hibachi gateway serve --workers 2``: one port, a journal per worker (stored by the supervisor), every answer
captured once, metrics added up across workers, and an admin session cookie that every worker accepts."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_harness import ADMIN, CUSTOMER, provider

from devkit.processes import free_port, hibachi_command

CHATS = 40


@pytest.fixture
def two_workers(sim, tmp_path, request):
    """The gateway under ``serve --workers 2``; indirect parametrization sets its per-key limit a minute."""
    port = free_port()
    env = {**os.environ, "HIBACHI_DATA_DIR": str(tmp_path / "data"), "HIBACHI_ENVIRONMENT": "development",
           "HIBACHI_CONFIG_FILE": str(tmp_path / "none.yaml"), "HIBACHI_LOG_LEVEL": "WARNING",
           "HIBACHI_GATEWAY__RATE_LIMIT_PER_MINUTE": str(getattr(request, "param", 100000)),
           "HIBACHI_PROVIDERS": json.dumps([provider(sim, "openai").model_dump(mode="json")])}
    for name in ("DATABASE_URL", "HIBACHI_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "HIBACHI_GATEWAY__SESSION_SECRET"):
        env.pop(name, None)
    log = tmp_path / "gateway.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(hibachi_command("gateway", "serve", "--port", str(port), "--workers", "2"),
                                   env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    # One worker answering readiness says nothing of the other, which on a loaded machine may still be importing:
    # until it has claimed its journal, the first worker takes every connection.
    outbox = tmp_path / "data" / "outbox"
    while not all((d / ".owner.lock").exists() for d in (outbox, outbox / "worker-1")):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    yield url, process, tmp_path / "data"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def _chat(url: str, i: int) -> httpx.Response:
    with httpx.Client(timeout=20) as client:  # a connection each: the kernel hands them to either worker
        return client.post(f"{url}/v1/chat/completions", headers={**CUSTOMER, "X-Session-Id": f"w{i}"},
                           json={"messages": [{"role": "user", "content": f"How much per adult? ({i})"}]})


def test_two_workers_share_a_port_and_capture_every_answer_once(two_workers):
    url, process, data = two_workers
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda i: _chat(url, i), range(CHATS)))
    assert [r.status_code for r in responses] == [200] * CHATS
    request_ids = {r.headers["x-request-id"] for r in responses}

    # Each worker journals in its own directory.
    journals = [data / "outbox", data / "outbox" / "worker-1"]
    assert all((d / ".owner.lock").exists() and list(d.glob("seg-*.jsonl")) for d in journals)

    # Whichever worker answers the scrape, the counters are the sum over both.
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    answered = sum(float(v) for v in re.findall(r'^gateway_requests_total\{[^}]*status="ok"[^}]*\} (\S+)$', metrics,
                                                re.MULTILINE))
    assert answered == CHATS
    # The workers only journal; the supervisor stores their journals (and counts into the same metrics).
    assert httpx.get(f"{url}/health/ready", timeout=5).json()["database_up"] is None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "gateway_signals_stored_total 40.0" not in metrics:
        time.sleep(0.2)
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert "gateway_signals_stored_total 40.0" in metrics

    # One development session secret for all workers: a login cookie from one is good on every other.
    with httpx.Client(base_url=url, timeout=10) as browser:
        key = ADMIN["Authorization"].split()[1]
        assert browser.post("/admin/login", data={"key": key}, follow_redirects=False).status_code == 303
        cookies = dict(browser.cookies)
    for _ in range(8):
        with httpx.Client(base_url=url, cookies=cookies, timeout=10) as fresh:  # a new connection each time
            assert fresh.get("/admin/api/traffic").status_code == 200

    process.send_signal(signal.SIGTERM)  # the workers stop; then the supervisor's relay stores what they left
    assert process.wait(timeout=60) == 0
    with sqlite3.connect(data / "hibachi.db") as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM training_signals")}
    assert stored == request_ids


@pytest.mark.parametrize("two_workers", [6], indirect=True)
def test_the_per_key_rate_limit_holds_for_the_gateway_not_per_worker(two_workers):
    url, process, data = two_workers
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:  # a connection each, many at once, so both workers take some
        responses = list(pool.map(lambda i: _chat(url, i), range(40)))
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in responses]
    # 6 a minute: a burst of 6 for the gateway (a 7th only once a token has refilled, after 10 s), not 6 a worker.
    assert 6 <= codes.count(200) <= 6 + int(elapsed // 10) and codes.count(429) == 40 - codes.count(200), codes
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
