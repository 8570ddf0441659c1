"""`hibachi`: the platform's command line. Each area contributes its own command group.

Heavy libraries (torch, kfp, kserve, evidently) are imported inside the commands that need them,
so `hibachi --help` and the light commands start fast.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Annotated

import typer

from hibachi.errors import UserError

app = typer.Typer(
    name="hibachi",
    help="Closed-loop LLM distillation: capture hosted-LLM traffic, fine-tune a local Llama, roll it out safely.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

db_app = typer.Typer(help="Database: create and migrate the schema.", no_args_is_help=True)
kb_app = typer.Typer(help="Knowledge base: validate and show the tenant's facts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: hash a key for the gateway settings.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(keys_app, name="keys")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Alembic revision to migrate to.")] = "head",
    database_url: Annotated[str | None, typer.Option(help="Overrides DATABASE_URL / settings.")] = None,
) -> None:
    """Create or migrate the database schema (SQLite file by default, PostgreSQL via DATABASE_URL)."""
    from hibachi.db import make_engine, safe_url, upgrade
    from hibachi.settings import get_settings

    url = database_url or get_settings().database_url
    engine = make_engine(url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
    typer.echo(f"database {safe_url(url)} is at revision {revision}")


@kb_app.command("validate")
def kb_validate(
    path: Annotated[str | None, typer.Argument(help="Knowledge-base YAML (default: the configured one).")] = None,
) -> None:
    """Check a knowledge-base file; prints what is wrong and where, or a summary."""
    from hibachi.knowledge import load_knowledge_base
    from hibachi.settings import get_settings

    kb = load_knowledge_base(path or get_settings().knowledge_base)
    typer.echo(
        f"{kb.business.name}: {len(kb.proteins)} proteins, {len(kb.upgrades)} upgrades, "
        f"{len(kb.add_ons)} add-ons, {len(kb.not_offered)} items not offered, {len(kb.passages())} passages"
    )


@kb_app.command("show")
def kb_show() -> None:
    """Print the facts as the models see them in their system prompt."""
    from hibachi.knowledge import load_knowledge_base
    from hibachi.settings import get_settings

    typer.echo(load_knowledge_base(get_settings().knowledge_base).facts_text())


@keys_app.command("hash")
def keys_hash(key: Annotated[str, typer.Argument(help="The plain API key.")]) -> None:
    """Print the sha256 digest to put in gateway.customer_key_hashes or gateway.admin_key_hashes."""
    typer.echo(hashlib.sha256(key.encode()).hexdigest())


def _register_area_commands() -> None:
    """Each area owns its command group; a group whose module is absent is simply not offered."""
    from importlib import import_module

    groups = [
        ("hibachi.critic.cli", "critic"),
        ("hibachi.synth.cli", "data"),
        ("hibachi.loop", "demo"),
        ("hibachi.seed", "seed"),
        ("gateway.cli", "gateway"),
        ("gateway.simulators.cli", "providers"),
        ("serving.cli", "serve"),
        ("serving.rollout_cli", "rollout"),
        ("pipelines.cli", "pipeline"),
        ("components.filter.cli", "pii"),
        ("hibachi.monitoring.cli", "report"),
    ]
    for module_name, name in groups:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "app"):
            app.add_typer(module.app, name=name)
        elif hasattr(module, "command"):
            app.command(name)(module.command)


_register_area_commands()


def main() -> None:
    """Entry point: user errors print one line on stderr and exit 2, never a traceback."""
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
