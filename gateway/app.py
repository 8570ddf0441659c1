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

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from gateway import dashboard
from gateway.api.routes import admin, chat, feedback, health
from gateway.capture import Capture
from gateway.ensemble import Ensemble, Judge
from gateway.logs import configure_logging
from gateway.metrics import GatewayMetrics
from gateway.middleware import BodyLimitMiddleware, RequestIdMiddleware
from gateway.policy import TrafficPolicy
from gateway.providers import build_provider
from gateway.service import ChatService
from gateway.state import GatewayState, RateLimiter
from hibachi.db import make_engine, session_factory
from hibachi.settings import Settings, get_settings

log = logging.getLogger("gateway.app")

ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
               413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable", 504: "timeout"}


def _error_body(status: int, message: str) -> dict:
    # Both shapes: FastAPI's ``detail`` and OpenAI's ``error`` object, which the openai SDK surfaces.
    return {"detail": message, "error": {"message": message, "type": ERROR_TYPES.get(status, "api_error"),
                                         "code": status}}


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
                        judge=Judge(critic, metrics), metrics=metrics)
    capture = Capture(settings.gateway.outbox_dir, settings.database_url,
                      batch_size=settings.gateway.capture_batch_size,
                      max_backoff_s=settings.gateway.capture_max_backoff_s,
                      migrate=settings.gateway.migrate_on_start,
                      on_stored=metrics.signals_stored.inc,
                      on_db_state=lambda up: metrics.database_up.set(1 if up else 0))
    policy = TrafficPolicy(policy=settings.traffic.policy, split_percent=settings.traffic.split_percent,
                           updated_by="settings")
    service = ChatService(settings, ensemble, capture, metrics, kb, retriever, policy)
    engine = make_engine(settings.database_url)
    return GatewayState(settings=settings, metrics=metrics, capture=capture, service=service, providers=providers,
                        sessions=session_factory(engine), limiter=RateLimiter(settings.gateway.rate_limit_per_minute),
                        kb=kb)


def create_app(settings: Settings | None = None, *, critic: Any = None, retriever: Any = None,
               kb: Any = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = build_state(settings, critic=critic, retriever=retriever, kb=kb)
        app.state.gateway = state
        await asyncio.to_thread(state.capture.try_migrate)
        state.capture.start()
        # The SDKs, ORM and framework leave ~300k long-lived objects; a full collection scanning them took
        # ~130 ms on a 2-core VM, a stall every request in flight would feel. Freeze them out of the GC.
        gc.collect()
        gc.freeze()
        log.info("gateway started", extra={"providers": [p.name for p in state.providers],
                                           "policy": state.policy.policy})
        try:
            yield
        finally:
            await state.service.drain_shadows()
            await asyncio.to_thread(state.capture.stop)
            for provider in state.providers:
                await provider.aclose()
            state.sessions.kw["bind"].dispose()
            log.info("gateway stopped")

    app = FastAPI(title="hibachi gateway", version="0.1.0", lifespan=lifespan,
                  description="OpenAI-compatible customer gateway: multi-LLM ensemble with a critic, shadow and "
                              "split traffic to the local model, and loss-free training-signal capture.")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(_error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}"
                             for e in exc.errors()[:5])
        return JSONResponse(_error_body(422, f"invalid request: {problems}"), status_code=422)

    for router in (chat.router, feedback.router, admin.router, health.router, dashboard.router):
        app.include_router(router)
    if settings.gateway.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.gateway.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-Id", "X-Session-Id", "X-Served-By"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
