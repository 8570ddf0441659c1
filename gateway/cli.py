"""`hibachi gateway serve`: the customer gateway under uvicorn (SIGTERM drains and stops cleanly)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The customer gateway: OpenAI-compatible API, ensemble, capture.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: settings.gateway.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings.gateway.port).")] = None,
) -> None:
    """Start the gateway with the configured settings (environment, hibachi.yaml)."""
    import uvicorn

    from gateway.app import create_app
    from hibachi.settings import get_settings

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.gateway.host, port=port or settings.gateway.port,
                log_level="warning", timeout_graceful_shutdown=10, access_log=False)


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
