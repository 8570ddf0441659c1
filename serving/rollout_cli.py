"""`hibachi rollout status | deploy | set | promote | rollback | analyze | queries`: the rollout from the command
line."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from hibachi.db import cli_session
from hibachi.errors import UserError

app = typer.Typer(help="Canary rollout of adapter versions on the InferenceService.", no_args_is_help=True)

NameOption = Annotated[str | None, typer.Option("--name",
                                                help="InferenceService (default: settings.rollout.isvc_name)")]
ActorOption = Annotated[str | None, typer.Option(help="Who makes the change (default: the OS user).")]
ReasonOption = Annotated[str, typer.Option(help="Why; recorded with the change.")]


def _name(name: str | None) -> str:
    from hibachi.settings import get_settings
    from serving.rollout import check_isvc_name

    return check_isvc_name(name or get_settings().rollout.isvc_name)


def _describe(state) -> str:
    canary = f", canary {state.canary_version} at {state.canary_percent}%" if state.canary_version else ""
    return (f"{state.isvc_name}: stage {state.stage}, stable {state.stable_version or '-'}{canary} "
            f"(#{state.id} {state.action} by {state.actor}: {state.reason})")


def _report(result) -> None:
    from hibachi.settings import get_settings

    typer.echo(_describe(result.state))
    where = "cluster" if get_settings().rollout.use_cluster else "files"
    for path in result.written:
        typer.echo(f"wrote {path}")
    typer.echo(f"# equivalent ({where} mode): {result.kubectl}")


@app.command("status")
def status_command(name: NameOption = None,
                   history: Annotated[int, typer.Option(help="How many past changes to list.", min=0)] = 5) -> None:
    """The current rollout state and the recent history (in cluster mode, also what the server serves)."""
    from hibachi.settings import get_settings
    from serving import rollout

    isvc = _name(name)
    with cli_session() as session:
        rows = rollout.history(session, isvc, limit=max(history, 1))
        if not rows:
            raise UserError(f"no rollout recorded for {isvc!r}; start one with `hibachi rollout deploy`")
        typer.echo(_describe(rows[0]))
        settings = get_settings()
        if settings.rollout.use_cluster:  # what the server serves, and whether someone changed it with kubectl
            from serving import cluster

            typer.echo(cluster.compare(cluster.make_api(), settings.rollout.namespace, isvc, rows[0]))
        for row in rows[1:history]:
            typer.echo(f"  #{row.id} {row.created_at:%Y-%m-%d %H:%M} {row.action} by {row.actor}: stable "
                       f"{row.stable_version or '-'}, canary {row.canary_version or '-'} "
                       f"{'' if row.canary_percent is None else f'{row.canary_percent}%'} ({row.reason})")


@app.command("deploy")
def deploy_command(
    version: Annotated[str, typer.Option(help="A registered model version (its adapter is served).")],
    entry: Annotated[str, typer.Option(help="shadow (0%) or canary.")] = "shadow",
    percent: Annotated[int | None, typer.Option(
        help="Canary share for --entry canary (default: settings.rollout.entry_percent).")] = None,
    name: NameOption = None, actor: ActorOption = None, reason: ReasonOption = "new adapter version",
) -> None:
    """Start a rollout: the version enters as the newest revision (shadow or canary)."""
    from hibachi.settings import get_settings
    from serving import rollout

    if percent is None:
        percent = get_settings().rollout.entry_percent if entry == "canary" else 0
    with cli_session() as session:
        _report(rollout.deploy(session, _name(name), version, entry=entry, percent=percent, actor=actor,
                               reason=reason))


@app.command("set")
def set_command(percent: Annotated[int, typer.Option("--percent", help="Canary share, 0-100.")],
                name: NameOption = None, actor: ActorOption = None,
                reason: ReasonOption = "manual traffic change") -> None:
    """Move the canary's share of traffic (canaryTrafficPercent)."""
    from serving import rollout

    with cli_session() as session:
        _report(rollout.set_percent(session, _name(name), percent, actor=actor, reason=reason))


@app.command("promote")
def promote_command(name: NameOption = None, actor: ActorOption = None,
                    reason: ReasonOption = "manual promotion") -> None:
    """The canary becomes the stable revision (canaryTrafficPercent removed)."""
    from serving import rollout

    with cli_session() as session:
        _report(rollout.promote(session, _name(name), actor=actor, reason=reason))


@app.command("rollback")
def rollback_command(name: NameOption = None, actor: ActorOption = None,
                     reason: ReasonOption = "manual rollback") -> None:
    """Return to the previous stable adapter in one step."""
    from serving import rollout

    with cli_session() as session:
        _report(rollout.rollback(session, _name(name), actor=actor, reason=reason))


@app.command("analyze")
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
    from serving import rollout

    settings = get_settings()
    span = parse_duration(window) if window else timedelta(hours=settings.analysis.window_hours)
    isvc = _name(name)
    with cli_session() as session:
        decision = canary.analyze(session, isvc, span, settings)
        if as_json:
            typer.echo(decision.model_dump_json(indent=2))
        else:
            typer.echo(f"{isvc}: {decision.summary()}")
            for c in decision.comparisons:
                typer.echo(f"  [{c.verdict:>12}] {c.describe()}")
        # With --json, stdout stays one JSON document; what was applied goes to stderr.
        if apply and decision.action != "hold":
            result = rollout.apply_decision(session, decision, actor)
            typer.echo(f"applied: {decision.action}, recorded as #{result.state.id} by {result.state.actor}",
                       err=as_json)
        elif apply:
            typer.echo("nothing to apply: the decision is hold", err=as_json)


@app.command("queries")
def queries_command(
    version: Annotated[str | None, typer.Option(help="Adapter version (default: the current canary, else stable).")]
    = None,
    window: Annotated[str, typer.Option(help="PromQL range, e.g. 30m, 24h.")] = "24h",
    name: NameOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {metric: query} as JSON.")] = False,
) -> None:
    """The canary analysis's metrics as PromQL over the gateway's /metrics, for Prometheus alerts or a Flagger
    MetricTemplate; the ones only the analysis over the records can judge are listed with why."""
    import json

    from hibachi.monitoring.promql import NOT_EXPORTED, analysis_queries
    from hibachi.queries import latest_deployment

    if version is None:
        isvc = _name(name)
        with cli_session() as session:
            state = latest_deployment(session, isvc)
            version = state and (state.canary_version or state.stable_version)
        if not version:
            raise UserError(f"no adapter deployed on {isvc!r}: pass --version")
    try:
        queries = analysis_queries(version, window)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(queries, indent=2))
        return
    for metric, query in queries.items():
        typer.echo(f"# {metric}\n{query}\n")
    for metric, why in NOT_EXPORTED.items():
        typer.echo(f"# {metric}: not from /metrics: {why}")
