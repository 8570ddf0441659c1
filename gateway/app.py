"""The gateway application factory: ``create_app(settings)`` wires providers, critic, capture and routes.

The lifespan opens the capture journal and its database writer and closes them (and the provider
clients) on shutdown, so SIGTERM through uvicorn stops cleanly with every acknowledged signal on disk.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException  # FastAPI's is a subclass; Starlette raises its own (404, 405, 400)

from gateway import dashboard
from gateway.api.routes import admin, chat, feedback, health, lineage
from gateway.auth import AdminSessions, LoginThrottle
from gateway.capture import Capture
from gateway.deps import LoginRequired, admin_key_ids
from gateway.ensemble import Ensemble, Judge
from gateway.logs import configure_logging
from gateway.metrics import GatewayMetrics
from gateway.middleware import BodyLimitMiddleware, RequestIdMiddleware
from gateway.policy_store import PolicyFollower, default_policy
from gateway.providers import build_provider
from gateway.rate_limit import RateLimiter
from gateway.schemas import UnsupportedParameter
from gateway.service import ChatService
from gateway.state import GatewayState
from hibachi.db import make_engine, session_factory
from hibachi.settings import Settings, get_settings

log = logging.getLogger("gateway.app")

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error",
               422: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable", 504: "timeout"}


def _error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict:
    # Both shapes: FastAPI's ``detail`` and OpenAI's ``error`` object, which the openai SDK surfaces.
    error = {"message": message, "type": ERROR_TYPES.get(status, "api_error"), "code": code or status}
    if param is not None:
        error["param"] = param
    return {"detail": message, "error": error}


def build_state(settings: Settings, *, critic: Any = None, retriever: Any = None, kb: Any = None) -> GatewayState:
    if kb is None:
        from hibachi.knowledge import load_knowledge_base

        kb = load_knowledge_base(settings.knowledge_base)
    if retriever is None:
        from hibachi.retrieval import Retriever

        retriever = Retriever(kb)
    if critic is None:
        from hibachi.critic import Critic

        critic = Critic(kb)
    metrics = GatewayMetrics()
    providers = [build_provider(p, settings.gateway) for p in settings.providers if p.enabled]
    ensemble = Ensemble(teachers=[p for p in providers if p.config.role == "teacher"],
                        students=[p for p in providers if p.config.role == "student"],
                        judge=Judge(critic, metrics, settings.analysis.hallucination_categories), metrics=metrics,
                        grace_s=settings.gateway.ensemble_grace_s)
    capture = Capture(settings.gateway.outbox_dir, settings.database_url,
                      batch_size=settings.gateway.capture_batch_size,
                      max_backoff_s=settings.gateway.capture_max_backoff_s,
                      migrate=settings.gateway.migrate_on_start,
                      on_stored=metrics.signals_stored.inc,
                      on_db_state=lambda up: metrics.database_up.set(1 if up else 0),
                      drain=settings.gateway.capture_writer == "worker")
    policy = default_policy(settings)
    service = ChatService(settings, ensemble, capture, metrics, kb, retriever, policy)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    follower = PolicyFollower(sessions, policy, lambda new: setattr(service, "policy", new),
                              settings.gateway.policy_refresh_s)
    gw = settings.gateway
    return GatewayState(settings=settings, metrics=metrics, capture=capture, service=service, providers=providers,
                        sessions=sessions, limiter=_rate_limiter(settings), kb=kb,
                        admin_sessions=AdminSessions.from_settings(settings),
                        throttle=LoginThrottle(gw.login_free_failures, gw.login_backoff_s, gw.login_max_backoff_s),
                        admin_key_ids=admin_key_ids(settings), policy_follower=follower)


def _rate_limiter(settings: Settings) -> RateLimiter:
    shared = settings.gateway.worker_shared_dir
    return RateLimiter(settings.gateway.rate_limit_per_minute,
                       shared_file=shared / "rate-limit-buckets" if shared is not None else None)


def create_app(settings: Settings | None = None, *, critic: Any = None, retriever: Any = None,
               kb: Any = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = build_state(settings, critic=critic, retriever=retriever, kb=kb)
        app.state.gateway = state
        await asyncio.to_thread(state.capture.try_migrate)
        # The stored traffic policy before the first request (a restarted replica resumes a canary), then
        # re-read in the background every gateway.policy_refresh_s.
        await asyncio.to_thread(state.policy_follower.refresh)
        follow_policy = asyncio.create_task(state.policy_follower.run(), name="policy-follower")
        state.capture.start()
        # The SDKs, ORM and framework leave ~300k long-lived objects; a full collection scanning them took
        # ~130 ms on a 2-core VM, a stall every request in flight would feel. Freeze them out of the GC.
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects, few of them in cycles: with the default 700 the
        # young generation was collected several times per request (about 3% of the gateway's CPU under load).
        gc.set_threshold(50_000, 20, 100)
        log.info("gateway started", extra={"providers": [p.name for p in state.providers],
                                           "policy": state.policy.policy})
        try:
            yield
        finally:
            follow_policy.cancel()
            await state.service.drain_shadows()
            await asyncio.to_thread(state.capture.stop)
            for provider in state.providers:
                await provider.aclose()
            state.sessions.kw["bind"].dispose()
            state.limiter.close()
            log.info("gateway stopped")

    app = FastAPI(title="hibachi gateway", version="0.1.0", lifespan=lifespan,
                  description="OpenAI-compatible customer gateway: multi-LLM ensemble with a critic, shadow and "
                              "split traffic to the local model, and loss-free training-signal capture.")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(_error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(UnsupportedParameter)
    async def unsupported_parameter(request: Request, exc: UnsupportedParameter) -> JSONResponse:
        return JSONResponse(_error_body(400, exc.message, param=exc.param, code="unsupported_parameter"),
                            status_code=400)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/admin/login?{urlencode({'next': exc.next_path})}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}"
                             for e in exc.errors()[:5])
        return JSONResponse(_error_body(422, f"invalid request: {problems}"), status_code=422)

    for router in (chat.router, feedback.router, admin.router, health.router, dashboard.login_router,
                   dashboard.router):
        app.include_router(router)
    app.include_router(lineage.router)  # admin: lineage and erasure
    if settings.gateway.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.gateway.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-Id", "X-Session-Id", "X-Served-By"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
