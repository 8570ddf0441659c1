"""Loss-free capture: SIGKILL under load, a database outage, replay exactly once, the journal itself."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gateway_harness import CUSTOMER, chat, provider, set_faults, state_of, wait_stored
from sqlalchemy import create_engine, func, select, text

from devkit.processes import free_port
from gateway.journal import Journal
from gateway.storage import store_records
from hibachi.db import make_engine, session_factory
from hibachi.records import Candidate, ChatSession, ShadowComparison, TrainingSignal

pytestmark = pytest.mark.fault
HARNESS = Path(__file__).with_name("gateway_harness.py")


def _start_gateway_process(tmp_path: Path, sim, port: int, log_name: str) -> subprocess.Popen:
    env = {**os.environ, "HIBACHI_DATA_DIR": str(tmp_path / "var"), "HIBACHI_ENVIRONMENT": "test",
           "HIBACHI_GATEWAY__RATE_LIMIT_PER_MINUTE": "100000",
           "HIBACHI_PROVIDERS": json.dumps([provider(sim, "openai").model_dump(mode="json")]),
           "PYTHONPATH": os.pathsep.join([str(Path.cwd()), str(HARNESS.parent)])}
    log = (tmp_path / log_name).open("wb")
    process = subprocess.Popen([sys.executable, str(HARNESS), str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
        assert process.poll() is None, (tmp_path / log_name).read_text()
    raise AssertionError("gateway process did not become ready")


def test_sigkill_under_load_loses_no_answered_request(sim, tmp_path, fault_table):
    set_faults(sim, "openai-model", latency_ms=3)
    port = free_port()
    process = _start_gateway_process(tmp_path, sim, port, "first.log")
    answered: list[str] = []
    cut_off: list[dict] = []  # requests in flight when the process died, to retry as a client would
    sent = Counter()
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            i = 0
            while not stop.is_set():
                i += 1
                request = {"headers": {**CUSTOMER, "X-Session-Id": f"w{worker}-{i % 3}"},
                           "json": {"messages": [{"role": "user", "content": f"question {worker}-{i}"}]}}
                try:
                    response = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", **request)
                except httpx.HTTPError:
                    if not stop.is_set():
                        sent["cut off"] += 1  # in flight when the process died: no reply yet, nothing owed
                        cut_off.append(request)
                        stop.wait(0.05)
                    continue
                sent["answered"] += 1
                if response.status_code == 200:
                    answered.append(response.headers["x-request-id"])

    workers = [threading.Thread(target=load, args=(w,)) for w in range(6)]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    assert len(answered) >= 5  # enough load that the kill lands among requests in flight

    restart_port = free_port()
    restarted = _start_gateway_process(tmp_path, sim, restart_port, "second.log")
    try:
        # The clients retry what was cut off (the openai SDK does so on a dropped connection).
        with httpx.Client(timeout=10) as client:
            for request in cut_off:
                retried = client.post(f"http://127.0.0.1:{restart_port}/v1/chat/completions", **request)
                assert retried.status_code == 200, retried.text
                answered.append(retried.headers["x-request-id"])
        engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'hibachi.db'}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                stored = Counter(conn.scalars(select(TrainingSignal.request_id)))
            if all(stored[r] for r in answered):
                break
            time.sleep(0.2)
        engine.dispose()
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=15)
    missing = [r for r in answered if stored[r] != 1]
    fault_table.record("SIGKILL under load, restart", sent=len(answered), answered=len(answered),
                       stored=sum(1 for r in answered if stored[r] == 1),
                       note=f"{len(cut_off)} cut off by the kill and retried after restart; every 200 stored once")
    assert not missing, f"{len(missing)} answered requests without exactly one signal"
    assert all(count == 1 for count in stored.values())
    # SIGTERM stops the gateway cleanly (uvicorn shuts down, then re-raises the signal as its exit status).
    assert restarted.returncode in (0, -signal.SIGTERM)
    assert "gateway stopped" in (tmp_path / "second.log").read_text()


def test_a_reachable_database_is_reported_up_before_the_first_signal(sim, make_settings, start_gateway):
    gateway = start_gateway(make_settings([provider(sim, "openai")]))
    assert httpx.get(f"{gateway.url}/health/ready").json()["database_up"] is True
    assert "gateway_database_up 1.0" in httpx.get(f"{gateway.url}/metrics").text


def test_database_outage_keeps_answering_and_catches_up(sim, make_settings, start_gateway, tmp_path, fault_table):
    down = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens on port 1: refused at once
    gateway = start_gateway(make_settings([provider(sim, "openai")], database_url=down,
                                          gateway={"capture_max_backoff_s": 0.2, "rate_limit_per_minute": 10_000}))
    state = state_of(gateway)
    with ThreadPoolExecutor(8) as pool:  # concurrent customers while the database is down
        responses = list(pool.map(lambda i: chat(gateway, headers={"X-Session-Id": f"o{i}"}), range(25)))
    assert all(r.status_code == 200 for r in responses)
    ready = httpx.get(f"{gateway.url}/health/ready").json()
    assert ready["status"] == "ready" and ready["database_up"] is False and ready["capture_backlog_bytes"] > 0
    assert httpx.get(f"{gateway.url}/admin/api/signals", headers={"Authorization": "Bearer dev-admin-key"}
                     ).status_code == 503
    feedback = httpx.post(f"{gateway.url}/v1/sessions/o1/outcome", headers=CUSTOMER, json={"led_to_booking": True})
    assert feedback.status_code == 202  # journaled like the signals

    restored = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    state.capture.writer.swap_engine(restored)  # the database is back
    more = [chat(gateway, headers={"X-Session-Id": f"p{i}"}) for i in range(5)]
    wait_stored(gateway)
    with session_factory(restored)() as session:
        stored = session.scalar(select(func.count()).select_from(TrainingSignal))
        booked = session.execute(text("select led_to_booking from chat_sessions where id = 'o1'")).scalar()
    fault_table.record("database down during load", sent=30, answered=len(responses) + len(more), stored=stored)
    assert stored == 30 and booked
    assert state.capture.database_up is True
    assert "gateway_database_up 1.0" in httpx.get(f"{gateway.url}/metrics").text


def _signal(request_id: str) -> dict:
    return {"type": "signal", "id": f"sig-{request_id}", "request_id": request_id, "session_id": "s",
            "prompt": "q", "conversation": [], "chosen_response": "a", "served_by": "teacher", "policy": "teacher",
            "quality_score": 1.0, "critic_passed": True, "candidates": [
                {"provider": "p", "model": "m", "role": "teacher", "response": "a", "chosen": True}]}


@pytest.mark.storage
def test_replaying_records_stores_each_request_once(db):
    _, factory = db
    outcome = {"type": "outcome", "session_id": "s", "led_to_booking": True, "customer_rating": 4}
    shadow = {"type": "shadow", "signal_id": "sig-r1", "provider": "local", "model": "v1", "teacher_response": "a",
              "local_response": "b", "similarity": 0.5, "violations": []}
    for _ in range(2):  # the second pass is a replay after a crash between commit and checkpoint
        with factory.begin() as session:
            store_records(session, [_signal("r1"), _signal("r2"), _signal("r1"), shadow, outcome])
    with factory() as session:
        assert sorted(session.scalars(select(TrainingSignal.request_id))) == ["r1", "r2"]
        assert session.scalar(select(func.count()).select_from(ShadowComparison)) == 1
        assert session.scalar(select(func.count()).select_from(Candidate)) == 2
        assert session.get(ChatSession, "s").customer_rating == 4


def test_journal_ignores_a_torn_tail_and_resumes_from_its_checkpoint(tmp_path):
    journal = Journal(tmp_path)
    for i in range(3):
        journal.append_sync({"n": i})
    journal.close()
    segment = journal.segments()[0]
    with segment.open("ab") as handle:
        handle.write(b'{"n": 3, "torn')  # a crash in the middle of a write that was never acknowledged
    reopened = Journal(tmp_path)
    batch = reopened.read(limit=2)
    assert [r["n"] for r in batch.records] == [0, 1]
    reopened.commit(batch)
    batch = reopened.read(limit=10)
    assert [r["n"] for r in batch.records] == [2]
    reopened.commit(batch)
    assert reopened.read(limit=10) is None and segment not in reopened.segments()  # drained and removed
    reopened.append_sync({"n": 4})
    assert [r["n"] for r in reopened.read(limit=10).records] == [4]
    reopened.close()


@pytest.mark.storage
def test_capture_and_admin_work_on_each_backend(sim, make_settings, start_gateway, db_url):
    gateway = start_gateway(make_settings([provider(sim, "openai")], database_url=db_url))
    for i in range(12):
        assert chat(gateway, headers={"X-Session-Id": f"b{i % 4}"}).status_code == 200
    wait_stored(gateway)
    page = httpx.get(f"{gateway.url}/admin/api/signals", headers={"Authorization": "Bearer dev-admin-key"}).json()
    assert page["total"] == 12


@pytest.mark.storage
def test_the_customer_user_field_is_kept_and_erasure_by_user_finds_it(sim, make_settings, start_gateway, db_url):
    from hibachi.erasure import Selector, erase

    gateway = start_gateway(make_settings([provider(sim, "openai")], database_url=db_url))
    # The client names its own session and, separately, its customer (OpenAI's `user` field).
    assert chat(gateway, headers={"X-Session-Id": "web-7f3a"}, user="customer-42").status_code == 200
    assert chat(gateway, headers={"X-Session-Id": "web-7f3a"}, user="customer-42").status_code == 200
    assert chat(gateway, headers={"X-Session-Id": "web-other"}, user="customer-9").status_code == 200
    wait_stored(gateway)
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            assert session.get(ChatSession, "web-7f3a").customer_user == "customer-42"
            result = erase(session, Selector("user", "customer-42"), actor="test")
            session.commit()
            assert session.get(ChatSession, "web-7f3a") is None
            assert session.scalar(select(func.count()).select_from(TrainingSignal)
                                  .where(TrainingSignal.session_id == "web-7f3a")) == 0
            assert session.get(ChatSession, "web-other").customer_user == "customer-9"
            assert result.rows.get("chat_sessions") == 1
    finally:
        engine.dispose()


def test_journal_keeps_a_record_orjson_refuses(tmp_path):
    journal = Journal(tmp_path)
    journal.append_sync({"prompt": "lone surrogate \ud800 from a JSON escape", 7: "int key"})
    assert journal.read(10).records == [{"prompt": "lone surrogate \ud800 from a JSON escape", "7": "int key"}]
    journal.close()


def test_a_failed_flush_reaches_every_request_waiting_on_it(tmp_path, monkeypatch):
    journal = Journal(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gateway.journal.os.fsync", disk_full)

    async def three_requests():
        return await asyncio.gather(*(journal.append({"n": n}) for n in range(3)), return_exceptions=True)

    assert [type(r) for r in asyncio.run(three_requests())] == [OSError] * 3
    with pytest.raises(OSError, match="No space"):
        journal.append_sync({"n": 3})
    monkeypatch.undo()
    asyncio.run(journal.append({"n": 4}))  # the disk is back: the next flush succeeds
    journal.close()


@pytest.mark.storage
def test_a_relay_stores_what_non_draining_processes_journal(db_url, tmp_path):
    """``gateway serve --workers N``: workers only journal (``drain=False``); the supervisor's relay stores every
    worker's records once, and at its stop what was left in the newest segments too."""
    from gateway.capture import Capture
    from gateway.journal import OutboxReader
    from gateway.signal_writer import SignalWriter

    workers = [Capture(tmp_path / "outbox", db_url, drain=False) for _ in range(2)]
    relay = SignalWriter(OutboxReader(tmp_path / "outbox"), db_url, linger_s=0.01)
    relay.start()
    try:
        for n, worker in enumerate(workers):
            worker.start()
            for i in range(3):
                worker.record_sync(_signal(f"w{n}-{i}"))
        assert relay.wait_drained(10)
        assert workers[0].database_up is None  # the worker never touched the database
    finally:
        for worker in workers:
            worker.stop()
        relay.stop()
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            stored = sorted(session.scalars(select(TrainingSignal.request_id)))
    finally:
        engine.dispose()
    assert stored == sorted(f"w{n}-{i}" for n in range(2) for i in range(3))
    assert not list((tmp_path / "outbox").rglob("seg-*.jsonl"))  # all stored, so all removed once writers stopped
