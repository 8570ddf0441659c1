"""The admin's browser way in: login form, session cookie, CSRF on changes, logout, backoff on wrong keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from gateway_harness import ADMIN, FactsRetriever, WagyuCritic, provider

from gateway.app import create_app

COOKIE = "hibachi_admin"


@pytest.fixture
def client(sim, make_settings):
    settings = make_settings([provider(sim, "openai"), provider(sim, "local", role="student")],
                             gateway={"login_free_failures": 2, "login_backoff_s": 30})
    with TestClient(create_app(settings, critic=WagyuCritic(), retriever=FactsRetriever())) as test_client:
        yield test_client


def login(client: TestClient, key: str = "dev-admin-key", next_path: str = "/admin", **headers):
    return client.post("/admin/login", data={"key": key, "next": next_path}, headers=headers,
                       follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    page = client.get("/admin").text
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_login_form_sets_a_strict_httponly_expiring_cookie_and_opens_the_dashboard(client):
    form = client.get("/admin/login?next=/admin%3Fdays%3D7")
    assert form.status_code == 200 and 'type="password"' in form.text and 'value="/admin?days=7"' in form.text
    assert form.headers["cache-control"] == "no-store"
    response = login(client, next_path="/admin?days=7")
    assert response.status_code == 303 and response.headers["location"] == "/admin?days=7"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "dev-admin-key" not in cookie
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP outside production; Secure there (tests/gateway/test_auth.py)
    page = client.get("/admin?days=7")
    assert page.status_code == 200 and 'id="stage-name"' in page.text and 'id="logout"' in page.text


def test_wrong_or_customer_key_is_refused_on_the_form(client):
    for key in ("wrong", "dev-customer-key"):
        refused = login(client, key)
        assert refused.status_code == 401 and 'id="login-error"' in refused.text and "set-cookie" not in refused.headers
    assert client.get("/admin", follow_redirects=False).status_code == 303  # still not logged in


def test_repeated_wrong_keys_are_slowed_down_per_client(client):
    assert [login(client, "wrong").status_code for _ in range(2)] == [401, 401]  # the free ones
    assert login(client, "wrong").status_code == 401  # counted; from now on this address waits
    locked = login(client)  # even the right key waits: guessing cannot continue during the backoff
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 29 and "Too many" in locked.text
    # Bearer keys from the same address are held back too, so the API is no way around the form.
    assert client.get("/admin/api/traffic", headers=ADMIN).status_code == 429


def test_a_key_that_worked_from_an_address_keeps_working_while_that_address_waits(client):
    """Customers behind one NAT: a client sending wrong keys must not lock out the ones whose keys work."""
    customer = {"Authorization": "Bearer dev-customer-key"}
    assert client.get("/v1/models", headers=customer).status_code == 200
    for _ in range(4):
        client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert client.get("/v1/models", headers={"Authorization": "Bearer guess"}).status_code == 429
    assert client.get("/v1/models", headers=customer).status_code == 200
    assert client.get("/admin/api/traffic", headers=ADMIN).status_code == 429  # never worked from here: waits


def test_bearer_failures_count_toward_the_same_backoff(client):
    for _ in range(3):
        assert client.get("/admin/api/traffic", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert login(client).status_code == 429


def test_changes_with_the_cookie_need_the_csrf_token_and_a_same_site_request(client):
    login(client)
    url = "/admin/api/traffic"
    assert client.get(url).status_code == 200  # reading needs no token
    body = {"policy": "shadow", "reason": "from the browser"}
    assert client.put(url, json=body).status_code == 403
    assert client.put(url, json=body, headers={"X-CSRF-Token": "guess"}).status_code == 403
    token = csrf_of(client)
    cross = client.put(url, json=body, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "cross-site" in cross.json()["detail"]
    changed = client.put(url, json=body, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"})
    assert changed.status_code == 200 and changed.json()["updated_by"].startswith("admin-session:")
    assert changed.json()["reason"] == "from the browser"


def test_the_cookie_opens_no_customer_route_and_bearer_keys_need_no_csrf(client):
    login(client)
    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "price?"}]})
    assert chat.status_code == 401
    fresh = TestClient(client.app)
    assert fresh.put("/admin/api/traffic", json={"policy": "teacher"}, headers=ADMIN).status_code == 200


def test_logout_needs_the_token_and_ends_the_session(client):
    login(client)
    token = csrf_of(client)
    assert client.post("/admin/logout", data={"csrf_token": "wrong"}, follow_redirects=False).status_code == 403
    out = client.post("/admin/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/admin/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "max-age=0" in out.headers["set-cookie"].lower()
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_logout_revokes_the_session_so_a_copied_cookie_stops_working(client):
    """Logout once only deleted the cookie: a copy of it stayed valid for session_ttl_s (8 h)."""
    copied = login(client).cookies[COOKIE]
    out = client.post("/admin/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert out.status_code == 303
    thief = TestClient(client.app)
    thief.cookies.set(COOKIE, copied)
    assert thief.get("/admin", follow_redirects=False).status_code == 303
    assert thief.get("/admin/api/traffic").status_code == 401
    assert client.get("/admin/api/traffic", headers=ADMIN).status_code == 200  # admin keys are not sessions
    login(client)
    assert client.get("/admin/api/traffic").status_code == 200  # a new login is a new session


def test_logout_on_one_replica_ends_the_session_on_every_replica(sim, make_settings, tmp_path):
    settings = make_settings([provider(sim, "openai")], database_url=f"sqlite:///{tmp_path / 'shared.db'}",
                             gateway={"session_secret": "s" * 40})
    with TestClient(create_app(settings, critic=WagyuCritic(), retriever=FactsRetriever())) as a, \
            TestClient(create_app(settings, critic=WagyuCritic(), retriever=FactsRetriever())) as b:
        b.cookies.set(COOKIE, login(a).cookies[COOKIE])
        assert b.get("/admin/api/traffic").status_code == 200  # one secret: the cookie works on every replica
        a.post("/admin/logout", data={"csrf_token": csrf_of(a)}, follow_redirects=False)
        assert b.get("/admin/api/traffic").status_code == 401


def test_admin_sessions_fail_closed_while_the_database_is_down(sim, make_settings):
    down = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens on port 1: refused at once
    settings = make_settings([provider(sim, "openai")], database_url=down)
    with TestClient(create_app(settings, critic=WagyuCritic(), retriever=FactsRetriever())) as client:
        login(client)
        refused = client.get("/admin/api/traffic")
        assert refused.status_code == 503 and "admin key" in refused.json()["detail"]
        assert "retry-after" in refused.headers
        assert client.get("/admin", follow_redirects=False).status_code == 503
        assert client.get("/admin/api/traffic", headers=ADMIN).status_code == 200  # bearer admin keys still work
        assert client.post("/v1/chat/completions", headers={"Authorization": "Bearer dev-customer-key"},
                           json={"messages": [{"role": "user", "content": "price?"}]}).status_code == 200
        # A logout that cannot be stored says so, and the browser keeps the cookie to log out again later.
        csrf = client.app.state.gateway.admin_sessions.read(client.cookies[COOKIE]).csrf  # the page needs the db
        out = client.post("/admin/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 503 and "set-cookie" not in out.headers


def test_a_tampered_cookie_is_no_session(client):
    value = login(client).cookies[COOKIE]
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-3] + ("abc" if not value.endswith("abc") else "xyz"))
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert client.get("/admin/api/traffic").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/admin//evil.example",
                                    "/admin\\\\evil", "/v1/models", "/admin/login?next=/admin"])
def test_login_only_returns_into_the_dashboard(client, target):
    response = login(client, next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/admin"


def test_a_cross_site_login_is_refused(client):
    assert login(client, **{"Origin": "https://evil.example"}).status_code == 403
    assert login(client, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
