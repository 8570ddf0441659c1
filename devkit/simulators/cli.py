"""`hibachi providers simulate`: the OpenAI/Anthropic simulators on loopback."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Provider simulators: OpenAI- and Anthropic-compatible servers for offline use.",
                  no_args_is_help=True)


@app.command("simulate")
def simulate(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8901,
    host: Annotated[str, typer.Option(help="Interface (loopback by default).")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed for answers and injected faults.")] = 0,
) -> None:
    """Serve /v1/chat/completions, /xai/v1/chat/completions, /openai/v1/chat/completions and /v1/messages."""
    import uvicorn

    from devkit.simulators.server import create_simulator_app

    uvicorn.run(create_simulator_app(seed=seed), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=2)
