"""Liveness, readiness and Prometheus metrics.

Readiness deliberately ignores the database (signals wait in the journal while it is down) and the
providers (with every teacher cooling down a replica still gives the safe answer, and so would any
other replica): it fails only when the journal cannot be written, since training signals would then be lost
(the replica still answers whoever reaches it).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.deps import State
from gateway.journal import outbox_backlog_bytes

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict:
    return {"status": "ok"}


@router.get("/health/ready", summary="Ready for traffic (the database is reported, never required)")
async def ready(state: State) -> JSONResponse:
    journal_ok = await asyncio.to_thread(state.capture.journal.writable)
    teachers = [p for p in state.providers if p.config.role == "teacher"]
    body = {
        "status": "ready" if journal_ok else "not_ready",
        "journal_writable": journal_ok,
        "teachers_available": [p.name for p in teachers if p.breaker.available()],
        "database_up": state.capture.database_up,
        "capture_backlog_bytes": state.capture.backlog_bytes(),
        "policy": state.policy.model_dump(include={"policy", "split_percent"}),
    }
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(state: State) -> Response:
    outbox = state.settings.gateway.outbox_dir
    state.metrics.capture_backlog.set(outbox_backlog_bytes(outbox))
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
