"""Admin sessions for the browser, cross-site request checks, and per-client backoff after wrong keys.

* **Session cookie.** Logging in with an admin key at ``/admin/login`` sets a cookie signed with
  ``gateway.session_secret`` (itsdangerous, the signer starlette's SessionMiddleware uses): HttpOnly,
  SameSite=Strict, Secure in production, expiring after ``gateway.session_ttl_s``. It carries the
  admin key's fingerprint (never the key) and a random CSRF token; a session whose key is no longer
  configured is refused, so removing a key also ends its sessions.
* **Logout.** Each session has a random id in its cookie; ``/admin/logout`` stores it in
  ``revoked_admin_sessions`` until the cookie would have expired, and every replica refuses a revoked
  session (one primary-key read per cookie-authenticated admin request; customer requests never look).
  Fail closed: while the database cannot be read, no admin session is accepted (bearer admin keys are).
* **Cross-site requests.** A request authenticated by the cookie that changes something (any method but
  GET/HEAD/OPTIONS) must carry the session's CSRF token (``X-CSRF-Token`` header, or the ``csrf_token``
  form field) and must not come from another site (``Sec-Fetch-Site`` / ``Origin``). SameSite=Strict
  already keeps the cookie off cross-site requests; the token is the defence that does not depend on
  the browser. Bearer-key requests need neither: a browser never attaches them on its own.
* **Backoff.** Wrong keys, on the login form or as a bearer key, are counted per client IP: the first
  ``login_free_failures`` are free, then each further attempt waits twice as long as the one before
  (from ``login_backoff_s`` up to ``login_max_backoff_s``), answered with 429 and Retry-After.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from hibachi.records import RevokedAdminSession, utcnow
from hibachi.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class AdminSession:
    key_id: str  # the admin key's fingerprint
    csrf: str  # compared with the X-CSRF-Token header / csrf_token field of mutating requests
    id: str  # random, what logout revokes (not the CSRF token: that one stays out of the database)


class AdminSessions:
    """Issues and reads the signed admin session cookie (stateless: everything is in the signed value)."""

    def __init__(self, secret: str, ttl_s: int, secure: bool) -> None:
        self.ttl_s = ttl_s
        self.secure = secure
        # The __Host- prefix makes the browser refuse the cookie unless Secure, Path=/ and host-only.
        self.cookie_name = "__Host-hibachi_admin" if secure else "hibachi_admin"
        self._signer = URLSafeTimedSerializer(secret, salt="hibachi.admin-session")

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminSessions:
        gw = settings.gateway
        # Outside production (which refuses to start without a real secret) a random one per process.
        secret = gw.session_secret.get_secret_value() if gw.session_secret else secrets.token_urlsafe(32)
        secure = gw.session_cookie_secure if gw.session_cookie_secure is not None \
            else settings.environment == "production"
        return cls(secret, gw.session_ttl_s, secure)

    def issue(self, key_id: str) -> tuple[str, AdminSession]:
        session = AdminSession(key_id=key_id, csrf=secrets.token_urlsafe(24), id=secrets.token_urlsafe(16))
        return self._signer.dumps({"k": session.key_id, "c": session.csrf, "i": session.id}), session

    def read(self, value: str | None) -> AdminSession | None:
        """The session in a cookie value, or None when absent, tampered with, malformed or expired."""
        if not value:
            return None
        try:
            data = self._signer.loads(value, max_age=self.ttl_s)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        # A cookie without an id (issued before logout could revoke) is refused: it could never be ended.
        if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in "kci"):
            return None
        return AdminSession(key_id=data["k"], csrf=data["c"], id=data["i"])

    def cookie_args(self, value: str) -> dict:
        return {"key": self.cookie_name, "value": value, "max_age": self.ttl_s, "path": "/", "httponly": True,
                "samesite": "strict", "secure": self.secure}


def revoke(db: Session, session: AdminSession, ttl_s: int) -> None:
    """End ``session`` for every replica (the caller commits). Its row lasts ``ttl_s`` from now, longer than the
    cookie can still be valid; rows past that are purged here (logouts are rare, so this stays cheap)."""
    now = utcnow()
    db.execute(delete(RevokedAdminSession).where(RevokedAdminSession.expires_at < now))
    db.merge(RevokedAdminSession(session_id=session.id, expires_at=now + timedelta(seconds=ttl_s)))


def revoked(sessions: sessionmaker[Session], session: AdminSession) -> bool:
    """Whether logout ended this session (on any replica). Raises SQLAlchemyError when the database cannot say."""
    with sessions() as db:
        return db.get(RevokedAdminSession, session.id) is not None


def csrf_ok(session: AdminSession, presented: str | None) -> bool:
    return bool(presented) and secrets.compare_digest(session.csrf.encode(), presented.encode())


def same_site_request(headers: dict[str, str] | object, host_origin: str) -> bool:
    """False when the browser says the request comes from another site (Sec-Fetch-Site, else Origin).

    Requests without either header (curl, the CLI, old browsers) pass here; the CSRF token still applies.
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = headers.get("origin")
    return origin is None or origin == host_origin


class LoginThrottle:
    """Failed key checks per client; after ``free`` failures each attempt waits twice as long as the last.

    While a client waits, keys are refused unchecked (so guessing cannot go on), except the keys that have already
    worked from that address: one misconfigured or hostile client behind the same NAT or proxy must not lock every
    other customer out, and a key that worked before tells a guesser nothing new.

    ``wait(client)`` is a dict lookup, cheap enough for every authenticated request. At most ``max_clients``
    clients are remembered (the oldest forgotten first), so a flood of addresses cannot exhaust memory.
    """

    MAX_KEYS_PER_CLIENT = 16

    def __init__(self, free: int, base_s: float, max_s: float, *, max_clients: int = 100_000,
                 clock=time.monotonic) -> None:
        self.free, self.base_s, self.max_s, self.max_clients = free, base_s, max_s, max_clients
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (count, blocked until)
        self._worked: OrderedDict[str, set[str]] = OrderedDict()  # client -> ids of keys that worked from it
        self._lock = threading.Lock()

    def proven(self, client: str, key_id: str) -> bool:
        """Whether this key has already worked from this client (it is let through while the client waits)."""
        ids = self._worked.get(client)
        return ids is not None and key_id in ids

    def worked(self, client: str, key_id: str) -> None:
        if self.proven(client, key_id):  # the common case: a dict and a set lookup, no lock
            return
        with self._lock:
            ids = self._worked.pop(client, set())
            if len(ids) < self.MAX_KEYS_PER_CLIENT:
                ids.add(key_id)
            self._worked[client] = ids
            while len(self._worked) > self.max_clients:
                self._worked.popitem(last=False)

    def wait(self, client: str) -> float:
        """Seconds this client must still wait before its next attempt (0: go ahead)."""
        entry = self._failures.get(client)
        if entry is None:
            return 0.0
        return max(0.0, entry[1] - self._clock())

    def failed(self, client: str) -> float:
        """Count a wrong key; returns the wait now imposed on the client (0 while it is within the free ones)."""
        now = self._clock()
        with self._lock:
            count, until = self._failures.pop(client, (0, now))
            if now - until > self.max_s:  # quiet for longer than the longest wait: start afresh
                count = 0
            count += 1
            excess = count - self.free
            delay = 0.0 if excess <= 0 else min(self.max_s, self.base_s * 2 ** min(excess - 1, 40))
            self._failures[client] = (count, now + delay)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
        return delay

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
