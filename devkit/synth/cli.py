"""`hibachi data synth`: generate synthetic customer traffic into a JSONL file and/or the database."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from hibachi.errors import UserError

app = typer.Typer(help="Data: synthetic customer traffic for the demo and the tests.", no_args_is_help=True)


@app.command("synth")
def synth(
    conversations: Annotated[int, typer.Option(help="How many conversations to generate.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same traffic.")] = 0,
    hallucination_rate: Annotated[float, typer.Option(help="Chance each teacher answer is hallucinated (0-1).")] = 0.1,
    min_turns: Annotated[int, typer.Option(help="Fewest customer turns per conversation.")] = 1,
    max_turns: Annotated[int, typer.Option(help="Most customer turns per conversation.")] = 4,
    outcome_share: Annotated[float, typer.Option(help="Share of conversations with a known outcome (0-1).")] = 0.8,
    out: Annotated[Path | None, typer.Option(help="Write the conversations here as JSONL.")] = None,
    to_db: Annotated[bool, typer.Option("--to-db", help="Load into the configured database, scored by the critic.")]
    = False,
) -> None:
    """Generate realistic multi-turn conversations with teacher answers, hallucinations and outcomes."""
    from rich.progress import Progress

    from devkit.synth.generator import SynthConfig, iter_traffic
    from hibachi.knowledge import load_knowledge_base
    from hibachi.settings import get_settings

    if out is None and not to_db:
        raise UserError("data synth: nothing to do; give --out FILE.jsonl and/or --to-db")
    if out is not None and out.suffix != ".jsonl":
        raise UserError(f"data synth: --out {out}: expected a .jsonl file name")
    config = SynthConfig(conversations=conversations, seed=seed, hallucination_rate=hallucination_rate,
                         min_turns=min_turns, max_turns=max_turns, outcome_share=outcome_share)
    settings = get_settings()
    kb = load_knowledge_base(settings.knowledge_base)
    with Progress(transient=True) as progress:
        task = progress.add_task("generating conversations", total=conversations)
        traffic = []
        for conversation in iter_traffic(config, kb):
            traffic.append(conversation)
            progress.advance(task)
    if out is not None:
        _write_jsonl(out, traffic)
        typer.echo(f"wrote {len(traffic)} conversations to {out}")
    if to_db:
        from devkit.synth.load import load_into_database
        from hibachi.critic import get_critic
        from hibachi.db import safe_url

        with Progress(transient=True) as progress:
            task = progress.add_task("scoring and loading", total=len(traffic))
            stats = load_into_database(settings.database_url, traffic, get_critic(), teachers=settings.teachers,
                                       tenant=settings.tenant, progress=lambda n: progress.advance(task, n))
        typer.echo(f"loaded {stats.conversations} conversations ({stats.skipped} already there), {stats.signals} "
                   f"signals, {stats.candidates} candidates, {stats.corrections} corrections into "
                   f"{safe_url(settings.database_url)} in {stats.seconds:.1f}s")


def _write_jsonl(path: Path, conversations: list) -> None:
    """Write through a temporary file and rename, so a failure never leaves half a file behind."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as handle:
            for conversation in conversations:
                handle.write(json.dumps(conversation.to_dict(), ensure_ascii=False) + "\n")
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise UserError(f"data synth: cannot write {path}: {exc.strerror or exc}") from None
