"""Liveness, readiness and Prometheus metrics.

Readiness deliberately ignores the database: signals wait in the journal while it is down, so a
database outage must not take the gateway out of rotation. It fails only when the journal cannot be
written (capture would be lost) or when every teacher is cooling down.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.deps import State

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict:
    return {"status": "ok"}


@router.get("/health/ready", summary="Ready for traffic (the database is reported, never required)")
async def ready(state: State) -> JSONResponse:
    journal_ok = state.capture.journal.directory.is_dir()
    teachers = [p for p in state.providers if p.config.role == "teacher"]
    teachers_ok = any(p.breaker.available() for p in teachers)
    body = {
        "status": "ready" if journal_ok and teachers_ok else "not_ready",
        "journal_writable": journal_ok,
        "teachers_available": [p.name for p in teachers if p.breaker.available()],
        "database_up": state.capture.database_up,
        "capture_backlog_bytes": state.capture.backlog_bytes(),
        "policy": state.policy.model_dump(include={"policy", "split_percent"}),
    }
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(state: State) -> Response:
    state.metrics.capture_backlog.set(state.capture.backlog_bytes())
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
