"""`hibachi lineage` (where a model version came from; where a signal went) and `hibachi data erase|retention`.

The `hibachi` command line is composed in `hibachi_cli`, which also adds the dev kit's `data synth`
to ``data_app``; this module only contributes the groups.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer

from hibachi.errors import UserError

lineage_app = typer.Typer(help="Lineage: the export, run, settings and evaluation behind a model version.",
                          no_args_is_help=True)
data_app = typer.Typer(help="Data: erase a customer, apply retention (and synthetic traffic for the demo).",
                       no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", help="Overrides DATABASE_URL / settings.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@lineage_app.command("model")
def lineage_model(version: Annotated[str, typer.Argument(help="The model version id.")], database_url: DbOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Print the export (hash, signal count, window), pipeline run, settings, code and evaluation of a version."""
    from hibachi.db import cli_session
    from hibachi.lineage import format_model_lineage, model_lineage

    with cli_session(database_url) as session:
        info = model_lineage(session, version)
    if info is None:
        raise UserError(f"no model version {version!r}")
    typer.echo(json.dumps(info, indent=2, sort_keys=True) if as_json else format_model_lineage(info))


@lineage_app.command("signal")
def lineage_signal(signal_id: Annotated[str, typer.Argument(help="The training signal id.")],
                   database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Print every dataset (export) that held the signal and every model version trained on one."""
    from hibachi.db import cli_session
    from hibachi.lineage import signal_lineage

    with cli_session(database_url) as session:
        info = signal_lineage(session, signal_id)
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    if not info["datasets"]:
        typer.echo(f"signal {signal_id}: in no recorded export")
        return
    for dataset in info["datasets"]:
        runs = ", ".join(f"#{e['id']} {e['created_at']} {e['path']}" for e in dataset["exports"]) or "-"
        typer.echo(f"dataset {dataset['dataset_sha256']}  exports: {runs}")
        typer.echo(f"    model versions: {', '.join(dataset['model_versions']) or '-'}")


@data_app.command("erase")
def erase_command(
    session_id: Annotated[str | None, typer.Option("--session", help="The conversation's session id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="The API's `user` field (the gateway's session id).")]
    = None,
    email: Annotated[str | None, typer.Option("--email", help="An email address the customer wrote.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="A phone number the customer wrote (any format).")]
    = None,
    actor: Annotated[str | None, typer.Option(help="Who asks (recorded); default cli:<login>.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DbOpt = None,
) -> None:
    """Delete a customer's conversations, signals and outcomes everywhere, and mark the versions trained on them."""
    from hibachi.db import cli_session
    from hibachi.erasure import Selector, erase
    from hibachi.settings import get_settings

    selector = Selector.one_of(session=session_id, user=user, email=email, phone=phone)
    settings = get_settings()
    with cli_session(database_url) as session:
        if not dry_run and not yes:
            preview = erase(session, selector, actor=_actor(actor), data_dirs=[settings.data_dir],
                            outbox_dir=settings.gateway.outbox_dir, dry_run=True)
            typer.echo(_summary(preview.as_dict()))
            if not typer.confirm("erase all of this? it cannot be undone"):
                typer.echo("nothing was erased")
                raise typer.Exit(1)
        result = erase(session, selector, actor=_actor(actor), data_dirs=[settings.data_dir],
                       outbox_dir=settings.gateway.outbox_dir, dry_run=dry_run)
    typer.echo(_summary(result.as_dict()))


def _summary(result: dict) -> str:
    verb = "would erase" if result["dry_run"] else f"erased (erasure #{result['erasure_id']})"
    rows = ", ".join(f"{n} {table}" for table, n in result["rows"].items() if n)
    files = result["files"]
    lines = [f"{verb}: {result['sessions']} conversation(s): {rows or 'no rows'}",
             f"files: {files.get('dataset_lines_removed', 0)} dataset lines in {files.get('datasets_rewritten', 0)} "
             f"file(s), {files.get('redactions', 0)} redaction(s) in {files.get('files_redacted', 0)} other file(s)"]
    if result["model_versions"]:
        lines.append("model versions trained on this data (marked, retrain due): "
                     + ", ".join(result["model_versions"]))
        lines.append("the next training run (`hibachi pipeline run`, or the schedule) retrains without it")
    if result["outbox_files_mentioning"]:
        lines.append(f"warning: {result['outbox_files_mentioning']} gateway journal segment(s) still hold their "
                     "records; rerun the erasure once the gateway has stored them")
    return "\n".join(lines)


@data_app.command("retention")
def retention_command(
    days: Annotated[int | None, typer.Option(help="Keep this many days (default: retention.conversation_days).")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go.")] = False,
    actor: Annotated[str | None, typer.Option(help="Who runs it (recorded); default cli:<login>.")] = None,
    database_url: DbOpt = None,
) -> None:
    """Delete raw conversation transcripts older than N days (the training signals stay)."""
    from hibachi.db import cli_session
    from hibachi.erasure import apply_retention
    from hibachi.settings import get_settings

    keep = days if days is not None else get_settings().retention.conversation_days
    with cli_session(database_url) as session:
        result = apply_retention(session, keep, actor=_actor(actor), dry_run=dry_run)
    verb = "would delete" if dry_run else f"deleted (record #{result.erasure_id})"
    typer.echo(f"{verb}: {result.rows['chat_messages']} chat messages and {result.rows['chat_sessions']} sessions "
               f"without signals older than {result.cutoff} ({result.days} days; oldest {result.oldest or '-'})")
