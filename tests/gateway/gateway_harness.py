"""Gateway test harness: real uvicorn servers on free loopback ports (simulators and gateways), in threads.

The critic and retriever here are small stand-ins with the contracts' shapes so these tests pin the
gateway's own behaviour; tests/gateway/test_integration.py runs the real critic, retriever and answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import BaseModel

from devkit.processes import free_port
from devkit.simulators.faults import Faults
from devkit.simulators.server import create_simulator_app
from gateway.app import create_app
from hibachi.settings import ProviderConfig, Settings

TRUE_ANSWER = "Adults are $60 per person and children are $30 per person."
FALSE_ANSWER = "Yes, we offer wagyu beef for $20 extra."
CUSTOMER = {"Authorization": "Bearer dev-customer-key"}
ADMIN = {"Authorization": "Bearer dev-admin-key"}


class FakeViolation(BaseModel):
    category: str
    claim: str
    fact: str


class FakeVerdict(BaseModel):
    passed: bool
    violations: list[FakeViolation]
    quality_score: float


class WagyuCritic:
    """Fails any answer that offers wagyu (not on the menu); every other answer passes with quality 0.95."""

    def evaluate(self, prompt: str, response: str) -> FakeVerdict:
        if "wagyu" in response.lower():
            return FakeVerdict(passed=False, quality_score=0.2, violations=[
                FakeViolation(category="not_offered", claim="wagyu beef", fact="wagyu beef: not offered")])
        return FakeVerdict(passed=True, violations=[], quality_score=0.95)


@dataclass
class FakePassage:
    topic: str
    text: str


class FactsRetriever:
    def top(self, question: str, k: int = 3) -> list[FakePassage]:
        return [FakePassage("pricing", "Adults are $60 per person.")][:k]

    def system_prompt(self, question: str) -> str:
        return "You are the assistant of My Hibachi. Facts:\n- Adults are $60 per person."

    def topic(self, question: str) -> str:
        return self.top(question, k=1)[0].topic


class ServerThread:
    """A uvicorn server in a thread; ``stop`` shuts it down (lifespan included)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def sim() -> Iterator[ServerThread]:
    app = create_simulator_app(seed=7)
    app.state.simulator.faults.default = Faults(answer=TRUE_ANSWER)
    server = ServerThread(app).start()
    yield server
    server.stop()


def set_faults(sim: ServerThread, model: str, **faults: Any) -> None:
    sim.app.state.simulator.faults.per_model[model] = Faults(**{"answer": TRUE_ANSWER, **faults})


def provider(sim: ServerThread, name: str, kind: str = "openai", role: str = "teacher", model: str | None = None,
             **extra: Any) -> ProviderConfig:
    base = {"openai": f"{sim.url}/v1", "anthropic": sim.url, "openai_compatible": f"{sim.url}/xai/v1"}[kind]
    return ProviderConfig(name=name, kind=kind, role=role, model=model or f"{name}-model", base_url=base,
                          **{"timeout_s": 2.0, "max_retries": 1, **extra})


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(providers: list[ProviderConfig], **overrides: Any) -> Settings:
        gateway = {"retry_initial_backoff_s": 0.001, "breaker_cooldown_s": 30.0, **overrides.pop("gateway", {})}
        return Settings(data_dir=tmp_path / "var", providers=providers, gateway=gateway, **overrides)

    return build


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., ServerThread]]:
    servers: list[ServerThread] = []

    def start(settings: Settings, critic: Any = None, retriever: Any = None) -> ServerThread:
        app = create_app(settings, critic=critic or WagyuCritic(), retriever=retriever or FactsRetriever())
        server = ServerThread(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def state_of(server: ServerThread):
    return server.app.state.gateway


def wait_stored(server: ServerThread, timeout_s: float = 10.0) -> None:
    assert state_of(server).capture.wait_drained(timeout_s), "capture journal did not drain"


def chat(server: ServerThread, text: str = "How much per adult?", *, headers: dict | None = None,
         timeout: float = 10.0, **body: Any) -> httpx.Response:
    payload = {"model": "hibachi", "messages": [{"role": "user", "content": text}], **body}
    return httpx.post(f"{server.url}/v1/chat/completions", json=payload, headers={**CUSTOMER, **(headers or {})},
                      timeout=timeout)


def serve_in_subprocess() -> None:
    """Entry point for tests that need a real gateway process (SIGKILL): settings from the environment."""
    import sys

    from hibachi.settings import get_settings

    port = int(sys.argv[1])
    uvicorn.run(create_app(get_settings(), critic=WagyuCritic(), retriever=FactsRetriever()), host="127.0.0.1",
                port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    serve_in_subprocess()
