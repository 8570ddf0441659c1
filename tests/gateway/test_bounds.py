"""Out-of-range numbers and text the database or a provider cannot take: a 422 on every route (SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from gateway_harness import ADMIN, FactsRetriever, WagyuCritic, provider

from gateway.app import create_app

pytestmark = pytest.mark.storage

HUGE = 10**30  # the fuzz-found case: larger than any database integer
MESSAGES = [{"role": "user", "content": "How much per adult?"}]

CASES = [
    ("GET", "/admin/api/signals", {"params": {"page": HUGE}}),
    ("GET", "/admin/api/signals", {"params": {"page": 0}}),
    ("GET", "/admin/api/signals", {"params": {"page_size": 201}}),
    ("GET", "/admin/api/signals", {"params": {"session_id": "a\x00b"}}),
    ("GET", "/admin/api/signals", {"params": {"session_id": "x" * 65}}),
    ("GET", "/admin/api/signals/a%00b", {}),
    ("POST", "/admin/api/signals/abc/corrections", {"json": {"corrected_response": "a\x00b"}}),
    ("POST", "/admin/api/signals/abc/corrections", {"json": {"corrected_response": "a", "author": "x" * 65}}),
    ("GET", "/admin/api/traffic/history", {"params": {"limit": HUGE}}),
    ("PUT", "/admin/api/traffic", {"json": {"policy": "teacher", "split_percent": HUGE}}),
    ("PUT", "/admin/api/traffic", {"json": {"policy": "teacher", "split_percent": -1}}),
    ("PUT", "/admin/api/traffic", {"content": b'{"policy": "split", "split_percent": Infinity}'}),
    ("PUT", "/admin/api/traffic", {"json": {"policy": "teacher", "reason": "a\x00b"}}),
    ("PUT", "/admin/api/traffic", {"json": {"policy": "teacher", "updated_by": "x" * 65}}),
    ("GET", "/admin", {"params": {"days": HUGE}}),
    ("POST", "/v1/sessions/a%00b/outcome", {"json": {"customer_rating": 5}}),
    ("POST", "/v1/sessions/abc/outcome", {"json": {"customer_rating": HUGE}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "max_tokens": HUGE}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "temperature": 3}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "n": 0}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "seed": 2**64}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "user": "x" * 257}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": MESSAGES, "user": "a\x00b"}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": "price\x00?"}]}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "price\x00?"}]}]}}),
    # An unpaired surrogate is valid JSON but not text; it once failed every teacher call (and opened their breakers).
    ("POST", "/v1/chat/completions", {"content": b'{"messages": [{"role": "user", "content": "hi \\udc80"}]}'}),
    ("POST", "/admin/api/signals/abc/corrections", {"content": b'{"corrected_response": "a \\ud83d b"}'}),
]
JSON_BODY = {**ADMIN, "Content-Type": "application/json"}  # raw `content` bodies are JSON too


@pytest.fixture
def client(sim, make_settings, db_url):
    settings = make_settings([provider(sim, "openai"), provider(sim, "local", role="student")], database_url=db_url)
    with TestClient(create_app(settings, critic=WagyuCritic(), retriever=FactsRetriever())) as test_client:
        yield test_client


def test_out_of_range_input_is_a_422_everywhere(client):
    answers = {f"{method} {url} {kwargs}"[:120]: client.request(method, url, headers=JSON_BODY, **kwargs)
               for method, url, kwargs in CASES}
    wrong = {case: (r.status_code, r.text[:160]) for case, r in answers.items() if r.status_code != 422}
    assert not wrong
    # Refused for what the case is about, not because the body was never read as JSON.
    assert not [case for case, r in answers.items() if "valid dictionary" in r.text]
    assert all(r.json()["error"]["type"] == "invalid_request_error" for r in answers.values())


def test_in_range_values_still_work(client):
    assert client.get("/admin/api/signals", headers=ADMIN, params={"page": 100_000, "page_size": 200}).json()[
        "items"] == []
    chat = client.post("/v1/chat/completions", headers=ADMIN, json={
        "messages": MESSAGES, "max_tokens": 64, "temperature": 0.2, "n": 1, "seed": -(2**63),
        "stream_options": {"include_usage": True}, "logit_bias": {"50256": -100}})
    assert chat.status_code == 200
    put = client.put("/admin/api/traffic", headers=ADMIN, json={"policy": "split", "split_percent": 12.5,
                                                                 "reason": "first step", "updated_by": "ops"})
    assert put.status_code == 200 and put.json()["updated_by"].startswith("ops (admin:")
