"""`hibachi rollout analyze`: the canary analysis from the command line (registered in serving/rollout_cli.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer


def analyze_command(
    name: Annotated[str | None, typer.Option("--name", help="InferenceService (default: settings.rollout.isvc_name).")]
    = None,
    window: Annotated[str | None, typer.Option(help="How far back to look, e.g. 30m, 24h, 7d "
                                                    "(default: settings.analysis.window_hours).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Perform the decision (advance, promote or roll back).")]
    = False,
    actor: Annotated[str, typer.Option(help="Recorded as who made the change.")] = "canary-analysis",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Compare canary and stable over a window; print promote / hold / rollback and why (--apply performs it)."""
    from hibachi.db import cli_session
    from hibachi.monitoring import canary
    from hibachi.monitoring.windows import parse_duration
    from hibachi.settings import get_settings

    settings = get_settings()
    span = parse_duration(window) if window else timedelta(hours=settings.analysis.window_hours)
    isvc = name or settings.rollout.isvc_name
    with cli_session() as session:
        decision = canary.analyze(session, isvc, span, settings)
        if as_json:
            typer.echo(decision.model_dump_json(indent=2))
        else:
            typer.echo(f"{isvc}: {decision.summary()}")
            for c in decision.comparisons:
                typer.echo(f"  [{c.verdict:>12}] {c.describe()}")
        if apply and decision.action != "hold":
            canary.apply(session, decision, actor)
            session.commit()
            typer.echo(f"applied: {decision.action}, recorded by {actor}")
        elif apply:
            typer.echo("nothing to apply: the decision is hold")
