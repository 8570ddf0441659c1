"""gateway.auth as plain objects: the signed session, the cross-site checks and the per-client backoff."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from gateway.auth import AdminSessions, LoginThrottle, csrf_ok, revoke, revoked, same_site_request
from hibachi.records import RevokedAdminSession
from hibachi.settings import Settings

SECRET = "x" * 40


def test_a_session_round_trips_and_a_tampered_or_foreign_one_is_refused():
    sessions = AdminSessions(SECRET, ttl_s=3600, secure=False)
    value, issued = sessions.issue("abc123abc123")
    assert sessions.read(value) == issued and issued.key_id == "abc123abc123" and len(issued.csrf) >= 24
    assert sessions.read(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
    assert sessions.read("") is None and sessions.read(None) is None and sessions.read("not-a-cookie") is None
    assert AdminSessions("y" * 40, ttl_s=3600, secure=False).read(value) is None  # another secret
    forged = URLSafeTimedSerializer(SECRET, salt="hibachi.admin-session").dumps(["not", "a", "dict"])
    assert sessions.read(forged) is None
    assert sessions.issue("abc123abc123")[1].csrf != issued.csrf  # a new token per login
    assert sessions.issue("abc123abc123")[1].id != issued.id and len(issued.id) >= 16  # and a new session id


def test_a_cookie_without_a_session_id_is_refused():
    """Cookies signed before logout could revoke carry no id: they could never be ended, so they are no session."""
    old = URLSafeTimedSerializer(SECRET, salt="hibachi.admin-session").dumps({"k": "k" * 12, "c": "c" * 32})
    assert AdminSessions(SECRET, ttl_s=3600, secure=False).read(old) is None


@pytest.mark.storage
def test_revoked_sessions_are_kept_until_their_cookie_expires_then_purged(db):
    _, factory = db
    sessions = AdminSessions(SECRET, ttl_s=3600, secure=False)
    (_, expired), (_, ended), (_, live) = (sessions.issue("k" * 12) for _ in range(3))
    with factory() as db_session:
        revoke(db_session, expired, ttl_s=-1)  # a row whose cookie can no longer be valid anyway
        db_session.commit()
    assert revoked(factory, expired)
    with factory() as db_session:
        revoke(db_session, ended, ttl_s=3600)
        revoke(db_session, ended, ttl_s=3600)  # logging out twice (two tabs) is one row
        db_session.commit()
    assert revoked(factory, ended) and not revoked(factory, live)
    with factory() as db_session:
        assert db_session.scalars(select(RevokedAdminSession.session_id)).all() == [ended.id]  # purged


def test_a_session_expires_after_its_lifetime(monkeypatch):
    import itsdangerous.timed

    sessions = AdminSessions(SECRET, ttl_s=60, secure=False)
    now = [1_000_000.0]
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now[0])
    value, issued = sessions.issue("k" * 12)
    now[0] += 59
    assert sessions.read(value) == issued
    now[0] += 2
    assert sessions.read(value) is None


def test_cookie_attributes_and_secure_in_production():
    plain = AdminSessions.from_settings(Settings())
    assert not plain.secure and plain.cookie_name == "hibachi_admin"
    args = plain.cookie_args("v")
    assert args["httponly"] and args["samesite"] == "strict" and args["max_age"] == 8 * 3600 and args["path"] == "/"
    production = Settings(environment="production", database_url="postgresql+psycopg://db/app",
                          gateway={"customer_key_hashes": ["a" * 64], "admin_key_hashes": ["b" * 64],
                                   "session_secret": "Jq3v-8mZb1xKf0T2pWc7rYd5uNh9sLe4aGk6oVi"})
    secure = AdminSessions.from_settings(production)
    assert secure.secure and secure.cookie_name == "__Host-hibachi_admin" and secure.cookie_args("v")["secure"]
    # The configured secret signs: another process with the same settings reads the same cookie.
    value, issued = secure.issue("b" * 12)
    assert AdminSessions.from_settings(production).read(value) == issued
    # Without a configured secret (development) each process has its own.
    dev_value, _ = plain.issue("c" * 12)
    assert AdminSessions.from_settings(Settings()).read(dev_value) is None


def test_csrf_token_must_match():
    _, session = AdminSessions(SECRET, 60, False).issue("k" * 12)
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, "") and not csrf_ok(session, session.csrf + "x")


@pytest.mark.parametrize(("headers", "allowed"), [
    ({}, True),  # curl, the CLI: the CSRF token still applies
    ({"sec-fetch-site": "same-origin"}, True),
    ({"sec-fetch-site": "none"}, True),  # typed into the address bar
    ({"sec-fetch-site": "cross-site"}, False),
    ({"sec-fetch-site": "same-site"}, False),  # a sibling subdomain is another origin
    ({"origin": "http://gw.example:8900"}, True),
    ({"origin": "https://evil.example"}, False),
    ({"origin": "null"}, False),
    ({"sec-fetch-site": "cross-site", "origin": "http://gw.example:8900"}, False),  # the browser's word wins
])
def test_same_site_request(headers, allowed):
    assert same_site_request(headers, "http://gw.example:8900") is allowed


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_starts_after_the_free_failures_and_doubles_up_to_the_cap():
    clock = Clock()
    throttle = LoginThrottle(free=3, base_s=1.0, max_s=8.0, clock=clock)
    assert [throttle.failed("1.2.3.4") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.wait("1.2.3.4") == 0.0
    delays = [throttle.failed("1.2.3.4") for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.wait("1.2.3.4") == 8.0 and throttle.wait("5.6.7.8") == 0.0  # per client
    clock.now += 5
    assert throttle.wait("1.2.3.4") == 3.0
    clock.now += 3
    assert throttle.wait("1.2.3.4") == 0.0


def test_success_or_a_long_quiet_spell_forgets_the_failures():
    clock = Clock()
    throttle = LoginThrottle(free=1, base_s=1.0, max_s=4.0, clock=clock)
    throttle.failed("a")
    assert throttle.failed("a") == 1.0
    throttle.succeeded("a")
    assert throttle.wait("a") == 0.0 and throttle.failed("a") == 0.0
    assert throttle.failed("a") == 1.0
    clock.now += 100  # longer than the longest wait since the last one
    assert throttle.failed("a") == 0.0


def test_the_throttle_remembers_a_bounded_number_of_clients():
    throttle = LoginThrottle(free=0, base_s=10.0, max_s=10.0, max_clients=100, clock=Clock())
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._failures) == 100
    assert throttle.wait("10.0.3.231") == 10.0 and throttle.wait("10.0.0.0") == 0.0  # newest kept, oldest gone


def test_keys_that_worked_from_a_client_are_let_through_while_it_waits():
    throttle = LoginThrottle(free=0, base_s=10.0, max_s=10.0, clock=Clock())
    throttle.worked("nat", "good-key")
    throttle.failed("nat")
    assert throttle.wait("nat") == 10.0
    assert throttle.proven("nat", "good-key") and not throttle.proven("nat", "new-key")
    assert not throttle.proven("elsewhere", "good-key")  # per address: a key is proven where it worked


def test_the_keys_remembered_per_client_are_bounded():
    throttle = LoginThrottle(free=0, base_s=1.0, max_s=1.0, max_clients=2, clock=Clock())
    for i in range(100):
        throttle.worked("a", f"key-{i}")
    assert len(throttle._worked["a"]) == LoginThrottle.MAX_KEYS_PER_CLIENT
    for client in ("b", "c"):
        throttle.worked(client, "k")
    assert list(throttle._worked) == ["b", "c"]
