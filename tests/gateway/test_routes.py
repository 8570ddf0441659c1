"""Auth, feedback, admin, health and metrics routes: ok / unauthorized / forbidden / not-found / bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from gateway_harness import ADMIN, CUSTOMER, chat, provider, state_of, wait_stored
from sqlalchemy import select

from gateway.deps import identify
from hibachi.records import ChatSession


@pytest.fixture
def gateway(sim, make_settings, start_gateway):
    return start_gateway(make_settings([provider(sim, "openai")], gateway={"rate_limit_per_minute": 1000}))


ADMIN_KEY_ID = hashlib.sha256(b"dev-admin-key").hexdigest()[:12]


def get(server, path, headers=None, **params):
    return httpx.get(f"{server.url}{path}", headers=headers, params=params, timeout=10)


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_chat_without_a_valid_key_is_401_with_www_authenticate(gateway, headers):
    response = httpx.post(f"{gateway.url}/v1/chat/completions", headers=headers, timeout=10,
                          json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["type"] == "authentication_error"


def test_customer_key_on_admin_routes_is_403_and_admin_key_is_ok(gateway):
    assert get(gateway, "/admin/api/signals", CUSTOMER).status_code == 403
    assert get(gateway, "/admin/api/signals").status_code == 401
    assert get(gateway, "/admin/api/signals", ADMIN).status_code == 200


def test_errors_raised_by_starlette_carry_the_openai_error_object_too(gateway):
    """Unknown routes, wrong methods and unparseable bodies once came back as a bare ``{"detail": ...}``."""
    url = f"{gateway.url}/v1/chat/completions"
    json_body = {**CUSTOMER, "Content-Type": "application/json"}
    cases = {
        "unknown route": (get(gateway, "/v1/nope", CUSTOMER), 404, "not_found_error"),
        "wrong method": (get(gateway, "/v1/chat/completions", CUSTOMER), 405, "invalid_request_error"),
        "not UTF-8": (httpx.post(url, headers=json_body, content=b'{"messages": "\xff\xfe"}'), 400,
                      "invalid_request_error"),
        "nested too deeply": (httpx.post(url, headers=json_body, content=b"[" * 5000 + b"]" * 5000), 400,
                              "invalid_request_error"),
        "not JSON": (httpx.post(url, headers=json_body, content=b"{nope"), 422, "invalid_request_error"),
    }
    for case, (response, status, kind) in cases.items():
        body = response.json()
        assert response.status_code == status, case
        assert body.get("error", {}).get("type") == kind and body["error"]["message"] == body["detail"], (case, body)
    assert cases["wrong method"][0].headers["allow"] == "POST"  # Starlette's own headers are kept


def test_hashed_keys_replace_the_development_keys(make_settings):
    digest = hashlib.sha256(b"real-customer").hexdigest()
    settings = make_settings([], gateway={"customer_key_hashes": [digest]})
    assert identify(settings, "real-customer").is_admin is False
    assert identify(settings, "dev-customer-key") is None  # hashes configured: the dev key is off
    assert identify(settings, "dev-admin-key").is_admin is True  # no admin hashes yet: dev admin key still works
    assert identify(settings, "real-customer").key_id == digest[:12]


def test_rate_limit_gives_429_with_retry_after(sim, make_settings, start_gateway):
    gateway = start_gateway(make_settings([provider(sim, "openai")], gateway={"rate_limit_per_minute": 2}))
    assert [chat(gateway).status_code for _ in range(2)] == [200, 200]
    limited = chat(gateway)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "rate limit" in limited.json()["detail"]
    other_key = chat(gateway, headers=ADMIN)  # the limit is per key
    assert other_key.status_code == 200


def test_outcome_feedback_is_stored_on_the_session(gateway):
    chat(gateway, headers={"X-Session-Id": "s-1"})
    response = httpx.post(f"{gateway.url}/v1/sessions/s-1/outcome", headers=CUSTOMER, timeout=10,
                          json={"led_to_booking": True, "customer_rating": 5})
    assert response.status_code == 202
    wait_stored(gateway)
    with state_of(gateway).sessions() as session:
        stored = session.get(ChatSession, "s-1")
    assert stored.led_to_booking is True and stored.customer_rating == 5 and stored.outcome_at is not None
    metrics = get(gateway, "/metrics").text
    assert 'gateway_outcomes_total{adapter_version="",led_to_booking="true",served_by="teacher"} 1.0' in metrics


@pytest.mark.parametrize(("session_id", "body", "status"), [
    ("unknown", {"led_to_booking": True}, 404),
    ("s-2", {"customer_rating": 6}, 422),
    ("s-2", {}, 422),
    ("s-2", {"led_to_booking": "maybe"}, 422),
])
def test_outcome_feedback_rejects_bad_input(gateway, session_id, body, status):
    chat(gateway, headers={"X-Session-Id": "s-2"})
    response = httpx.post(f"{gateway.url}/v1/sessions/{session_id}/outcome", headers=CUSTOMER, json=body, timeout=10)
    assert response.status_code == status


def test_outcome_needs_a_key(gateway):
    assert httpx.post(f"{gateway.url}/v1/sessions/x/outcome", json={"customer_rating": 3}).status_code == 401


def test_admin_lists_filters_pages_and_inspects_signals(gateway):
    for session_id in ("a", "a", "b"):
        assert chat(gateway, headers={"X-Session-Id": session_id}).status_code == 200
    wait_stored(gateway)
    page = get(gateway, "/admin/api/signals", ADMIN, page_size=2).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert len(get(gateway, "/admin/api/signals", ADMIN, page_size=2, page=2).json()["items"]) == 1
    only_a = get(gateway, "/admin/api/signals", ADMIN, session_id="a").json()
    assert only_a["total"] == 2 and {s["session_id"] for s in only_a["items"]} == {"a"}
    assert get(gateway, "/admin/api/signals", ADMIN, served_by="local").json()["total"] == 0
    assert get(gateway, "/admin/api/signals", ADMIN, served_by="nobody").status_code == 422
    assert get(gateway, "/admin/api/signals", ADMIN, page=0).status_code == 422
    signal_id = page["items"][0]["id"]
    detail = get(gateway, f"/admin/api/signals/{signal_id}", ADMIN).json()
    assert detail["candidates"][0]["provider"] == "openai" and detail["corrections"] == []
    assert get(gateway, "/admin/api/signals/missing", ADMIN).status_code == 404
    assert get(gateway, f"/admin/api/signals/{signal_id}", CUSTOMER).status_code == 403


def test_admin_correction_is_recorded(gateway):
    chat(gateway)
    wait_stored(gateway)
    signal_id = get(gateway, "/admin/api/signals", ADMIN).json()["items"][0]["id"]
    url = f"{gateway.url}/admin/api/signals/{signal_id}/corrections"
    created = httpx.post(url, headers=ADMIN, json={"corrected_response": "Adults are $60.", "reason": "shorter"})
    assert created.status_code == 201 and created.json()["author"] == f"admin:{ADMIN_KEY_ID}"
    # A label names the author; the authenticated key stays in the audit trail (it once replaced it entirely).
    labelled = httpx.post(url, headers=ADMIN, json={"corrected_response": "Adults: $60.", "author": "admin:0000"})
    assert labelled.status_code == 201 and labelled.json()["author"] == f"admin:0000 (admin:{ADMIN_KEY_ID})"
    assert httpx.post(url, headers=ADMIN, json={"corrected_response": "x", "author": "x" * 65}).status_code == 422
    detail = get(gateway, f"/admin/api/signals/{signal_id}", ADMIN).json()
    assert [(c["corrected_response"], c["author"]) for c in detail["corrections"]] == [
        ("Adults are $60.", f"admin:{ADMIN_KEY_ID}"), ("Adults: $60.", f"admin:0000 (admin:{ADMIN_KEY_ID})")]
    assert httpx.post(url, headers=ADMIN, json={"corrected_response": ""}).status_code == 422
    assert httpx.post(url, headers=CUSTOMER, json={"corrected_response": "x"}).status_code == 403
    missing = f"{gateway.url}/admin/api/signals/nope/corrections"
    assert httpx.post(missing, headers=ADMIN, json={"corrected_response": "x"}).status_code == 404


def test_traffic_policy_read_and_change(sim, make_settings, start_gateway):
    gateway = start_gateway(make_settings([provider(sim, "openai"), provider(sim, "local", role="student")]))
    url = f"{gateway.url}/admin/api/traffic"
    assert httpx.get(url, headers=ADMIN).json()["policy"] == "teacher"
    changed = httpx.put(url, headers=ADMIN, json={"policy": "split", "split_percent": 10, "reason": "canary"})
    assert changed.status_code == 200 and changed.json()["split_percent"] == 10
    assert state_of(gateway).policy.policy == "split"
    assert httpx.put(url, headers=ADMIN, json={"policy": "split", "split_percent": 150}).status_code == 422
    assert httpx.put(url, headers=ADMIN, json={"policy": "everyone"}).status_code == 422
    assert httpx.put(url, headers=CUSTOMER, json={"policy": "teacher"}).status_code == 403
    assert httpx.get(url).status_code == 401


def test_split_without_a_student_is_refused(gateway):
    response = httpx.put(f"{gateway.url}/admin/api/traffic", headers=ADMIN, json={"policy": "shadow"})
    assert response.status_code == 409 and "student" in response.json()["detail"]


def test_health_readiness_and_metrics(gateway):
    assert get(gateway, "/health/live").json() == {"status": "ok"}
    ready = get(gateway, "/health/ready")
    assert ready.status_code == 200 and ready.json()["teachers_available"] == ["openai"]
    chat(gateway)
    text = get(gateway, "/metrics").text
    assert 'gateway_requests_total{adapter_version="",policy="teacher",served_by="teacher",status="ok"} 1.0' in text
    assert "gateway_provider_latency_seconds_bucket" in text and "gateway_cost_usd_total" in text


def test_openapi_documents_the_routes(gateway):
    paths = get(gateway, "/openapi.json").json()["paths"]
    for path in ("/v1/chat/completions", "/v1/sessions/{session_id}/outcome", "/admin/api/signals",
                 "/admin/api/signals/{signal_id}/corrections", "/admin/api/traffic", "/health/ready"):
        assert path in paths


def test_signals_and_journal_hold_no_api_keys(gateway):
    chat(gateway)
    wait_stored(gateway)
    state = state_of(gateway)
    database = state.settings.database_url.removeprefix("sqlite:///")
    assert b"dev-customer-key" not in Path(database).read_bytes()
    with state.sessions() as session:
        key_id = session.scalars(select(ChatSession.api_key_id)).one()
    assert key_id == hashlib.sha256(b"dev-customer-key").hexdigest()[:12]
