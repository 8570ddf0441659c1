"""`hibachi gateway serve`: the customer gateway under uvicorn (SIGTERM drains and stops cleanly)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hibachi.settings import Settings

app = typer.Typer(help="The customer gateway: OpenAI-compatible API, ensemble, capture.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: settings.gateway.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings.gateway.port).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Processes sharing the port, each with its own "
                                                "journal (default: settings.gateway.workers).")] = None,
) -> None:
    """Start the gateway with the configured settings (environment, hibachi.yaml)."""
    from hibachi.settings import get_settings

    settings = get_settings()
    options = {"host": host or settings.gateway.host, "port": port or settings.gateway.port, "log_level": "warning",
               "timeout_graceful_shutdown": 10, "access_log": False,
               "timeout_keep_alive": settings.gateway.keep_alive_s}
    if settings.gateway.migrate_on_start:
        _migrate_once(settings.database_url)
    # One worker too runs under the supervisor: the relay that stores the journals then never holds a worker's
    # interpreter lock (in the worker's own process, at 400 requests/s on two cores, it doubled the p99).
    with worker_environment(settings), capture_relay(settings):
        if supervise(workers or settings.gateway.workers, options) == "startup_failure":
            raise typer.Exit(3)


def supervise(workers: int, options: dict) -> str:
    """uvicorn's supervisor: one listening socket, ``workers`` processes each building the app from the same settings
    (a worker that dies is replaced; SIGTERM stops them). Returns "startup_failure" when a worker could not start
    (the app, or the socket, is broken, and would be on every restart), else "stopped"."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("gateway.app:create_app", factory=True, workers=workers, **options)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return "startup_failure" if failed else "stopped"


def _migrate_once(database_url: str) -> None:
    """Bring the schema up to date before the workers start, so they do not all race to migrate it. A database
    that does not answer yet is left to the workers' capture writers, which migrate once it does."""
    from hibachi.db import make_engine, upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - the gateway starts without its database (signals wait in journals)
        typer.echo(f"database not migrated before the workers start ({type(exc).__name__}); they will retry",
                   err=True)
    finally:
        engine.dispose()


@contextmanager
def capture_relay(settings: Settings) -> Iterator[None]:
    """The supervisor stores every worker's journal in the database (a ``SignalWriter`` over all of them), so a
    worker's interpreter lock is never held by the database writer while it answers customers (at 400 requests/s on
    two cores that writer thread's turns were most of the p99). Metrics go to the workers' shared Prometheus
    directory."""
    from gateway.journal import OutboxReader
    from gateway.metrics import GatewayMetrics  # after worker_environment: multiprocess values
    from gateway.signal_writer import SignalWriter

    metrics = GatewayMetrics()
    gw = settings.gateway
    relay = SignalWriter(OutboxReader(gw.outbox_dir), settings.database_url, batch_size=gw.capture_batch_size,
                         max_backoff_s=gw.capture_max_backoff_s, migrate=gw.migrate_on_start,
                         on_stored=metrics.signals_stored.inc,
                         on_db_state=lambda up: metrics.database_up.set(1 if up else 0))
    relay.start()
    try:
        yield
    finally:
        relay.stop(drain_timeout_s=30)


@contextmanager
def worker_environment(settings: Settings) -> Iterator[None]:
    """What the workers of one gateway must share beyond its settings: a session secret (an admin cookie signed by
    one worker is read by another), one Prometheus directory (``/metrics`` adds up every worker's series), the
    rate-limit buckets (``gateway.worker_shared_dir``) and who stores their journals (the supervisor:
    ``capture_relay``)."""
    import secrets

    directory = Path(tempfile.mkdtemp(prefix="hibachi-gateway-workers-"))
    (directory / "metrics").mkdir()
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"), "HIBACHI_GATEWAY__CAPTURE_WRITER": "supervisor",
              "HIBACHI_GATEWAY__WORKER_SHARED_DIR": str(directory)}
    if settings.gateway.session_secret is None:
        shared["HIBACHI_GATEWAY__SESSION_SECRET"] = secrets.token_urlsafe(32)
    previous = {name: os.environ.get(name) for name in shared}
    os.environ.update(shared)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(directory, ignore_errors=True)


@app.command("traffic")
def traffic(
    policy: Annotated[str | None, typer.Option(help="teacher | shadow | split (omit to show the current policy).")]
    = None,
    percent: Annotated[float, typer.Option(help="Share of sessions the local model serves under split.")] = 0.0,
    reason: Annotated[str | None, typer.Option(help="Why (stored with the change, with who and when).")] = None,
    url: Annotated[str | None, typer.Option(help="Gateway base URL (default: settings.gateway host and port).")]
    = None,
    admin_key: Annotated[str | None, typer.Option(help="Admin key (default: settings.admin_key, HIBACHI_ADMIN_KEY).")]
    = None,
) -> None:
    """Show or change a running gateway's traffic policy (PUT /admin/api/traffic)."""
    import httpx

    from hibachi.errors import UserError
    from hibachi.settings import get_settings

    settings = get_settings()
    base = (url or f"http://{settings.gateway.host}:{settings.gateway.port}").rstrip("/")
    configured = settings.admin_key.get_secret_value() if settings.admin_key else None
    key = admin_key or configured or (settings.gateway.dev_admin_key if settings.accepts_dev_keys else None)
    if not key:
        raise UserError("--admin-key (or the admin_key setting, HIBACHI_ADMIN_KEY) is needed outside development")
    headers = {"Authorization": f"Bearer {key}"}
    try:
        if policy is None:
            response = httpx.get(f"{base}/admin/api/traffic", headers=headers, timeout=10)
        else:
            response = httpx.put(f"{base}/admin/api/traffic", headers=headers, timeout=10,
                                 json={"policy": policy, "split_percent": percent, "reason": reason})
    except httpx.HTTPError as exc:
        raise UserError(f"gateway at {base} is unreachable: {exc}") from None
    if response.status_code != 200:
        raise UserError(f"gateway refused ({response.status_code}): {response.json().get('detail', response.text)}")
    body = response.json()
    typer.echo(f"policy {body['policy']} split {body['split_percent']:g}% (by {body.get('updated_by')})")
