"""Two gateway processes on one PostgreSQL share the traffic policy and both capture every answer exactly once.

Each replica is a real ``python -m hibachi_cli gateway serve`` process with its own journal directory;
the policy is changed through one, and the other must follow within its refresh interval. A replica
restarted afterwards starts on the stored policy, not the configured default. PostgreSQL only (SQLite is
one process's database): the test needs HIBACHI_TEST_POSTGRES_URL and says so when it is absent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gateway_harness import ADMIN, CUSTOMER, provider, set_faults
from sqlalchemy import func, select

from devkit.processes import free_port, hibachi_command
from hibachi.db import make_engine, session_factory, upgrade
from hibachi.records import TrafficPolicyChange, TrainingSignal

pytestmark = pytest.mark.storage
REFRESH_S = 0.5
LOCAL_ANSWER = "Our adult price is $60 per person."


class Replica:
    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        self.env = {**env, "HIBACHI_DATA_DIR": str(tmp_path / name)}  # its own journal (gateway.outbox_dir)
        self.process: subprocess.Popen | None = None

    def start(self) -> Replica:
        return self.spawn().wait_ready()

    def spawn(self) -> Replica:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(hibachi_command("gateway", "serve", "--port", str(self.port)),
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    def wait_ready(self) -> Replica:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica {self.name} did not become ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # drains its journal into the database before exiting
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def chat(self, client: httpx.Client, session_id: str) -> httpx.Response:
        return client.post(f"{self.url}/v1/chat/completions", headers={**CUSTOMER, "X-Session-Id": session_id},
                           json={"messages": [{"role": "user", "content": f"How much per adult? ({session_id})"}]})

    def policy(self) -> dict:
        return httpx.get(f"{self.url}/admin/api/traffic", headers=ADMIN, timeout=5).json()


@pytest.fixture
def replicas(request, sim, tmp_path, db_url):
    engine = make_engine(db_url)
    upgrade(engine)  # as a migration job would, before the replicas start
    engine.dispose()
    set_faults(sim, "hibachi-llama-v7", answer=LOCAL_ANSWER)
    providers = [provider(sim, "openai"), provider(sim, "local", kind="openai_compatible", role="student",
                                                   model="hibachi-llama-v7", max_retries=0)]
    env = {**os.environ, "DATABASE_URL": db_url, "HIBACHI_ENVIRONMENT": "test", "HIBACHI_LOG_LEVEL": "INFO",
           "HIBACHI_CONFIG_FILE": str(tmp_path / "none.yaml"),
           "HIBACHI_PROVIDERS": json.dumps([p.model_dump(mode="json") for p in providers]),
           "HIBACHI_TRAFFIC__POLICY": "teacher", "HIBACHI_TRAFFIC__STUDENT_TIMEOUT_S": "5",
           "HIBACHI_GATEWAY__POLICY_REFRESH_S": str(REFRESH_S),
           "HIBACHI_GATEWAY__RATE_LIMIT_PER_MINUTE": "100000"}
    env.pop("HIBACHI_TEST_POSTGRES_URL", None)
    started = [Replica("a", tmp_path, env), Replica("b", tmp_path, env)]
    for replica in started:
        replica.spawn()  # both start at once
    for replica in started:
        replica.wait_ready()
    yield started
    for replica in started:
        replica.stop()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_replicas_share_the_policy_and_capture_every_answer_once(replicas, db_url):
    a, b = replicas
    request_ids: list[str] = []
    served = Counter()

    def burst(tag: str, n: int) -> list[str]:
        """n chats spread over both replicas at once; every one must be answered."""
        def one(i: int) -> str:
            replica = (a, b)[i % 2]
            with httpx.Client(timeout=15) as client:
                response = replica.chat(client, f"{tag}-{i}")
            assert response.status_code == 200, response.text
            request_ids.append(response.headers["x-request-id"])
            served[(replica.name, response.headers["x-served-by"])] += 1
            return response.headers["x-served-by"]

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))

    assert a.policy()["policy"] == b.policy()["policy"] == "teacher"  # nothing stored: the configured default
    assert set(burst("before", 40)) == {"teacher"}

    changed = httpx.put(f"{a.url}/admin/api/traffic", headers=ADMIN, timeout=10,
                        json={"policy": "split", "split_percent": 100, "reason": "canary: all sessions"})
    assert changed.status_code == 200 and a.policy()["split_percent"] == 100  # the changing replica at once
    changed_at = time.monotonic()
    while b.policy()["policy"] != "split":
        assert time.monotonic() - changed_at < REFRESH_S * 6, "replica b did not follow the stored policy"
        time.sleep(0.05)
    followed_after = time.monotonic() - changed_at
    assert b.policy() == a.policy() == changed.json() and changed.json()["updated_by"].startswith("admin:")
    assert set(burst("after", 40)) == {"local"}

    # A restarted replica starts on the stored policy (a canary survives a restart), not the configured default.
    b.stop()
    b.start()
    assert b.policy()["split_percent"] == 100
    with httpx.Client(timeout=15) as client:
        restarted = b.chat(client, "after-restart")
    assert restarted.status_code == 200 and restarted.headers["x-served-by"] == "local"
    request_ids.append(restarted.headers["x-request-id"])

    for replica in replicas:
        replica.stop()  # SIGTERM drains each journal into the database
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        stored = Counter(session.scalars(select(TrainingSignal.request_id)))
        changes = session.scalars(select(TrafficPolicyChange)).all()
        total = session.scalar(select(func.count(TrainingSignal.id)))
    engine.dispose()
    assert len(request_ids) == 81 and set(stored) == set(request_ids)  # every answer stored ...
    assert total == 81 and max(stored.values()) == 1  # ... exactly once
    assert [(c.policy, c.split_percent, c.reason) for c in changes] == [("split", 100, "canary: all sessions")]
    assert changes[0].actor.startswith("admin:") and changes[0].created_at is not None
    assert served[("a", "teacher")] == served[("b", "teacher")] == 20
    assert served[("a", "local")] == served[("b", "local")] == 20
    print(f"replica b followed the change after {followed_after:.2f} s (refresh every {REFRESH_S} s)")
