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
