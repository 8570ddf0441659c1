"""`hibachi seed`: fill the database offline (database, knowledge base, synthetic traffic, critic, summary).

No servers run: conversations are generated and scored by the critic directly. ``hibachi demo`` is the
whole loop through the gateway; this is the quick way to a database for the pipeline or the dashboard.
Each step is its own function over plain values; ``run_demo`` wires them and ``command`` is the CLI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hibachi.knowledge import KnowledgeBase
from hibachi.settings import Settings

QUALITY_BUCKETS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.0001))


@dataclass
class DemoSummary:
    """What is in the database after the run: the figures the summary table prints."""

    conversations: int = 0
    turns: int = 0
    signals: int = 0
    candidates: int = 0
    passing: int = 0  # signals whose served answer passed the critic
    candidates_failing: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    quality: Counter[str] = field(default_factory=Counter)
    outcomes: int = 0
    bookings: int = 0
    corrections: int = 0
    trainable: int = 0  # would pass the training filter: quality and (booked or well rated)
    loaded_now: int = 0
    load_seconds: float = 0.0

    @property
    def passing_share(self) -> float:
        return self.passing / self.signals if self.signals else 0.0


def prepare_database(settings: Settings) -> None:
    """Create or migrate the schema at the configured URL."""
    from hibachi.db import make_engine, upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def load_knowledge(settings: Settings) -> KnowledgeBase:
    """Validate and load the tenant's knowledge base (a malformed file stops here with file and field)."""
    from hibachi.knowledge import load_knowledge_base

    return load_knowledge_base(settings.knowledge_base)


def generate(kb: KnowledgeBase, conversations: int, seed: int, hallucination_rate: float, progress: Progress) -> list:
    from devkit.synth import SynthConfig, iter_traffic

    config = SynthConfig(conversations=conversations, seed=seed, hallucination_rate=hallucination_rate)
    task = progress.add_task("generating conversations", total=conversations)
    traffic = []
    for conversation in iter_traffic(config, kb):
        traffic.append(conversation)
        progress.advance(task)
    return traffic


def score_and_load(settings: Settings, kb: KnowledgeBase, traffic: list, progress: Progress):
    """Score every teacher candidate with the critic and write sessions, signals and corrections."""
    from devkit.synth.load import load_into_database
    from hibachi.critic import Critic

    task = progress.add_task("scoring with the critic and loading", total=len(traffic))
    return load_into_database(settings.database_url, traffic, Critic(kb), teachers=settings.teachers,
                              tenant=settings.tenant, progress=lambda n: progress.advance(task, n))


def summarize(settings: Settings) -> DemoSummary:
    """Read the figures back from the database, so the table shows what is stored, not what was meant."""
    from sqlalchemy import func, select

    from hibachi.db import make_engine
    from hibachi.records import AdminCorrection, Candidate, ChatSession, TrainingSignal

    summary = DemoSummary()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            count = lambda model: conn.scalar(select(func.count()).select_from(model))  # noqa: E731
            summary.conversations = count(ChatSession)
            summary.signals = summary.turns = count(TrainingSignal)
            summary.candidates = count(Candidate)
            summary.corrections = count(AdminCorrection)
            summary.passing = conn.scalar(select(func.count()).where(TrainingSignal.critic_passed.is_(True)))
            summary.outcomes = conn.scalar(select(func.count()).where(ChatSession.led_to_booking.is_not(None)))
            summary.bookings = conn.scalar(select(func.count()).where(ChatSession.led_to_booking.is_(True)))
            for passed, violations in conn.execute(select(Candidate.critic_passed, Candidate.violations)):
                summary.candidates_failing += not passed
                summary.violations.update(v.get("category", "?") for v in violations or [])
            f = settings.filter
            rows = conn.execute(select(TrainingSignal.quality_score, TrainingSignal.critic_passed,
                                       ChatSession.led_to_booking, ChatSession.customer_rating)
                                .join(ChatSession, ChatSession.id == TrainingSignal.session_id))
            for quality, passed, booked, rating in rows:
                low, high = next(b for b in QUALITY_BUCKETS if b[0] <= quality < b[1])
                summary.quality[f"{low:.1f}-{min(high, 1.0):.1f}"] += 1
                good_outcome = bool(booked) or (rating is not None and rating >= f.min_rating)
                if (quality > f.min_quality and (passed or not f.require_critic_pass)
                        and (good_outcome or not f.require_outcome)):
                    summary.trainable += 1
    finally:
        engine.dispose()
    return summary


def render(summary: DemoSummary, console: Console) -> None:
    table = Table(title="Synthetic traffic scored by the critic", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    share = f"{summary.passing_share:.1%}"
    for name, value in [
        ("conversations", summary.conversations), ("customer turns (training signals)", summary.signals),
        ("teacher candidates scored", summary.candidates),
        ("candidates failing the critic", summary.candidates_failing),
        ("served answers passing the critic", f"{summary.passing} ({share})"),
        ("conversations with an outcome", summary.outcomes), ("bookings", summary.bookings),
        ("admin corrections", summary.corrections),
        ("examples passing the training filter", summary.trainable),
        ("loaded in this run", f"{summary.loaded_now} conversations in {summary.load_seconds:.1f}s"),
    ]:
        table.add_row(name, str(value))
    console.print(table)
    violations = Table(title="Violations by category (all candidates)")
    violations.add_column("category")
    violations.add_column("count", justify="right")
    for category, n in summary.violations.most_common():
        violations.add_row(category, str(n))
    console.print(violations)
    quality = Table(title="Quality of served answers")
    quality.add_column("quality score")
    quality.add_column("signals", justify="right")
    for bucket in sorted(summary.quality):
        quality.add_row(bucket, str(summary.quality[bucket]))
    console.print(quality)


def run_demo(settings: Settings, conversations: int, seed: int = 0, hallucination_rate: float = 0.15,
             console: Console | None = None) -> DemoSummary:
    console = console or Console()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        step = progress.add_task("migrating the database", total=None)
        prepare_database(settings)
        kb = load_knowledge(settings)
        progress.remove_task(step)
        traffic = generate(kb, conversations, seed, hallucination_rate, progress)
        stats = score_and_load(settings, kb, traffic, progress)
    from hibachi.db import safe_url

    console.print(f"{kb.business.name}: knowledge base {settings.knowledge_base} valid; database "
                  f"{safe_url(settings.database_url)} migrated")
    summary = summarize(settings)
    summary.loaded_now, summary.load_seconds = stats.conversations, stats.seconds
    render(summary, console)
    return summary


def command(
    quick: Annotated[bool, typer.Option("--quick", help="A small run (100 conversations) for a first look.")] = False,
    conversations: Annotated[int | None, typer.Option(help="How many conversations to generate (default 1000).")]
    = None,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic traffic.")] = 0,
    hallucination_rate: Annotated[float, typer.Option(help="Chance each teacher answer is hallucinated.")] = 0.15,
) -> None:
    """Offline, no servers: migrate the database, load the knowledge base, generate critic-scored traffic, summarise."""
    from hibachi.errors import UserError
    from hibachi.settings import get_settings

    count = conversations if conversations is not None else (100 if quick else 1000)
    if count < 1:
        raise UserError(f"seed: --conversations must be at least 1, got {count}")
    run_demo(get_settings(), count, seed=seed, hallucination_rate=hallucination_rate)
