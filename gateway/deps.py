"""Typed dependencies: the app state, the caller behind an API key or admin session, a database session.

The API authenticates with bearer keys (``Authorization: Bearer <key>`` or ``X-API-Key``); the admin
routes also accept the browser session cookie set by ``/admin/login`` (see ``gateway.auth``), with its
CSRF token on anything that changes state. Wrong keys are slowed down per client IP.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.auth import CSRF_HEADER, SAFE_METHODS, csrf_ok, revoked, same_site_request
from gateway.state import GatewayState, retry_after_header
from hibachi.settings import Settings

BEARER = {"WWW-Authenticate": 'Bearer realm="hibachi-gateway"'}


@dataclass(frozen=True)
class Caller:
    key_id: str  # a fingerprint of the key (first 12 hex digits of its sha256), safe to store and log
    is_admin: bool
    via: str = "key"  # "key" (bearer) or "session" (the admin's browser cookie)

    @property
    def actor(self) -> str:
        """How changes made by this caller are attributed in the records."""
        return f"admin:{self.key_id}" if self.via == "key" else f"admin-session:{self.key_id}"

    def labelled(self, label: str | None) -> str:
        """The actor with the caller's own label when it sent one ("ops (admin:<key id>)"): a label names, it never
        replaces the credential, so no admin can record a change under another's name."""
        return f"{label} ({self.actor})" if label else self.actor


def get_gateway_state(request: Request) -> GatewayState:
    return request.app.state.gateway


async def get_state(request: Request) -> GatewayState:
    return get_gateway_state(request)


State = Annotated[GatewayState, Depends(get_state)]


async def get_settings_dep(state: State) -> Settings:
    return state.settings


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(digest: str) -> str:
    """A key's public name (in records, logs and sessions): the start of its digest, never the key."""
    return digest[:12]


def _matches(digest: str, hashes: list[str]) -> bool:
    return any(hmac.compare_digest(digest, h.lower()) for h in hashes)


def _accepted_hashes(settings: Settings) -> tuple[list[str], list[str]]:
    """(admin, customer) key hashes; development keys count only when no hashes of that kind are configured."""
    gw = settings.gateway
    admin = list(gw.admin_key_hashes)
    customer = list(gw.customer_key_hashes)
    if settings.accepts_dev_keys:
        admin += [] if gw.admin_key_hashes else [key_digest(gw.dev_admin_key)]
        customer += [] if gw.customer_key_hashes else [key_digest(gw.dev_customer_key)]
    return admin, customer


def admin_key_ids(settings: Settings) -> frozenset[str]:
    """Fingerprints of the admin keys configured now (a session of a removed key is no longer accepted)."""
    return frozenset(key_id(h.strip().lower()) for h in _accepted_hashes(settings)[0])


def identify(settings: Settings, key: str) -> Caller | None:
    """Admin keys are checked first; development keys count only when no hashes of that kind are configured."""
    digest = key_digest(key)
    admin, customer = _accepted_hashes(settings)
    if _matches(digest, admin):
        return Caller(key_id=key_id(digest), is_admin=True)
    if _matches(digest, customer):
        return Caller(key_id=key_id(digest), is_admin=False)
    return None


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def client_address(request: Request) -> str:
    """The client's IP (behind a proxy: run uvicorn with --proxy-headers and --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def too_many_failures(wait: float) -> HTTPException:
    return HTTPException(429, "too many wrong keys from this address; try again later",
                         headers=retry_after_header(wait))


async def authenticate(request: Request, state: State) -> Caller:
    key = presented_key(request)
    if key is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'", headers=BEARER)
    client = client_address(request)
    wait = state.throttle.wait(client)
    if wait and not state.throttle.proven(client, key_id(key_digest(key))):
        raise too_many_failures(wait)
    caller = identify(state.settings, key)
    if caller is None:
        state.throttle.failed(client)
        raise HTTPException(401, "invalid API key", headers={**BEARER, "WWW-Authenticate":
                                                              'Bearer realm="hibachi-gateway", error="invalid_token"'})
    state.throttle.worked(client, caller.key_id)
    request.state.caller = caller
    return caller


async def session_caller(request: Request, state: GatewayState) -> Caller | None:
    """The admin behind a valid session cookie, or None; a mutating request must pass the CSRF checks too.

    A session ended by logout on any replica is refused: the database says so (read off the event loop, so
    customers never wait on it). Fail closed: when it cannot be read, a 503 (bearer admin keys still work).
    """
    session = state.admin_sessions.read(request.cookies.get(state.admin_sessions.cookie_name))
    if session is None or session.key_id not in state.admin_key_ids:
        return None
    if request.method not in SAFE_METHODS:
        own_origin = f"{request.url.scheme}://{request.url.netloc}"
        if not same_site_request(request.headers, own_origin):
            raise HTTPException(403, "cross-site request refused")
        if not csrf_ok(session, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong CSRF token: send the session's token as X-CSRF-Token")
    try:
        if await asyncio.to_thread(revoked, state.sessions, session):
            return None
    except SQLAlchemyError as exc:
        raise HTTPException(503, "admin sessions cannot be checked while the database is unavailable; "
                                 "try again shortly or use an admin key",
                            headers=retry_after_header(state.settings.gateway.retry_after_s)) from exc
    return Caller(key_id=session.key_id, is_admin=True, via="session")


async def require_customer(request: Request) -> Caller:
    """Any valid key (admins may call the customer API), within its rate limit. (Calls ``authenticate`` itself
    rather than depending on it: each dependency FastAPI resolves is measurable CPU on the busiest route.)"""
    state = get_gateway_state(request)
    caller = await authenticate(request, state)
    wait = state.limiter.acquire(caller.key_id)
    if wait:
        state.metrics.rate_limited.inc()
        raise HTTPException(429, f"rate limit of {state.settings.gateway.rate_limit_per_minute} requests a minute "
                                 "exceeded for this key", headers=retry_after_header(wait))
    return caller


async def require_admin(request: Request, state: State) -> Caller:
    """An admin key as a bearer token, or (without one) the admin's session cookie."""
    if presented_key(request) is None:
        caller = await session_caller(request, state)
        if caller is not None:
            request.state.caller = caller
            return caller
    caller = await authenticate(request, state)
    if not caller.is_admin:
        raise HTTPException(403, "this endpoint needs an admin key")
    return caller


class LoginRequired(Exception):
    """A browser page needs a login: the app answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


async def require_admin_page(request: Request, state: State) -> Caller:
    """Like require_admin, but a browser without any credential is sent to the login form instead of a 401."""
    if presented_key(request) is not None:
        return await require_admin(request, state)
    caller = await session_caller(request, state)
    if caller is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    request.state.caller = caller
    return caller


def db_session(state: State) -> Iterator[Session]:
    session = state.sessions()
    try:
        yield session
        session.commit()
    except DataError as exc:  # a value the schema let through but the database cannot hold: the caller's input
        session.rollback()
        raise HTTPException(422, "invalid request: the database refused a value in it") from exc
    except (OperationalError, ProgrammingError) as exc:
        session.rollback()
        raise HTTPException(503, "the database is unavailable; try again shortly",
                            headers=retry_after_header(state.settings.gateway.retry_after_s)) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


CustomerCaller = Annotated[Caller, Depends(require_customer)]
AdminCaller = Annotated[Caller, Depends(require_admin)]
DbSession = Annotated[Session, Depends(db_session)]
