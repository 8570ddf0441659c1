"""Typed dependencies: the app state, the caller behind an API key, admin-only access, a database session."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from gateway.state import GatewayState, retry_after_header
from hibachi.settings import Settings

BEARER = {"WWW-Authenticate": 'Bearer realm="hibachi-gateway"'}


@dataclass(frozen=True)
class Caller:
    key_id: str  # a fingerprint of the key (first 12 hex digits of its sha256), safe to store and log
    is_admin: bool


async def get_state(request: Request) -> GatewayState:
    return request.app.state.gateway


State = Annotated[GatewayState, Depends(get_state)]


async def get_settings_dep(state: State) -> Settings:
    return state.settings


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _matches(digest: str, hashes: list[str]) -> bool:
    return any(hmac.compare_digest(digest, h.lower()) for h in hashes)


def identify(settings: Settings, key: str) -> Caller | None:
    """Admin keys are checked first; development keys count only when no hashes of that kind are configured."""
    gw = settings.gateway
    digest = key_digest(key)
    admin = list(gw.admin_key_hashes)
    customer = list(gw.customer_key_hashes)
    if settings.accepts_dev_keys:
        admin += [] if gw.admin_key_hashes else [key_digest(gw.dev_admin_key)]
        customer += [] if gw.customer_key_hashes else [key_digest(gw.dev_customer_key)]
    if _matches(digest, admin):
        return Caller(key_id=digest[:12], is_admin=True)
    if _matches(digest, customer):
        return Caller(key_id=digest[:12], is_admin=False)
    return None


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request, state: State) -> Caller:
    key = presented_key(request)
    if key is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'", headers=BEARER)
    caller = identify(state.settings, key)
    if caller is None:
        raise HTTPException(401, "invalid API key", headers={**BEARER, "WWW-Authenticate":
                                                              'Bearer realm="hibachi-gateway", error="invalid_token"'})
    request.state.caller = caller
    return caller


async def require_customer(caller: Annotated[Caller, Depends(authenticate)], state: State) -> Caller:
    """Any valid key (admins may call the customer API), within its rate limit."""
    wait = state.limiter.acquire(caller.key_id)
    if wait:
        state.metrics.rate_limited.inc()
        raise HTTPException(429, f"rate limit of {state.settings.gateway.rate_limit_per_minute} requests a minute "
                                 "exceeded for this key", headers=retry_after_header(wait))
    return caller


async def require_admin(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    if not caller.is_admin:
        raise HTTPException(403, "this endpoint needs an admin key")
    return caller


def db_session(state: State) -> Iterator[Session]:
    session = state.sessions()
    try:
        yield session
        session.commit()
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
