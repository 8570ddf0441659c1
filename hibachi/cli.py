"""The domain's own commands: database migrations, the knowledge base, API-key hashing.

The `hibachi` command line is composed in `hibachi_cli`; this module only contributes its groups.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Annotated

import typer

from hibachi.errors import UserError

db_app = typer.Typer(help="Database: create and migrate the schema.", no_args_is_help=True)
kb_app = typer.Typer(help="Knowledge base: validate and show the tenant's facts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: hash a key for the gateway settings.", no_args_is_help=True)


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


def run_app(app: typer.Typer) -> None:
    """Run a command group as a program: a UserError prints one line on stderr and exits with its code."""
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
