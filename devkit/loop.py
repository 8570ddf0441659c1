"""The whole loop in one command: capture -> train -> serve -> shadow -> analyse -> canary -> report.

Every step runs the platform's own parts the way a user would: the provider simulators, the gateway
and the KServe predictor are started as processes (``hibachi ...``), customers talk to the gateway
with the official ``openai`` client, the training pipeline runs with ``kfp.local``, and rollouts go
through the same functions as ``hibachi rollout``. The supervisor stops every process on exit,
errors and Ctrl-C.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from devkit.processes import Supervisor, free_port, hibachi_command
from devkit.tiny_model import ensure_base_model
from devkit.traffic import GatewayClient, ScriptedConversation, TrafficStats, drive
from hibachi.db import make_engine, session_factory, session_scope, upgrade
from hibachi.errors import UserError
from hibachi.knowledge import KnowledgeBase, load_knowledge_base
from hibachi.queries import latest_deployment, latest_model_version
from hibachi.records import DeploymentState, ModelVersion, ShadowComparison, TrainingSignal
from hibachi.settings import Settings

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PIPELINE_PROGRESS = re.compile(r"Executing task|finished with status|'loss':|gate|Pipeline '|pipeline run")

# Teachers misbehave a little, as hosted models do; the critic must catch it.
TEACHER_HALLUCINATION = {"openai": 0.04, "anthropic": 0.03, "xai": 0.15}


@dataclass(frozen=True)
class LoopConfig:
    conversations: int = 2500
    shadow_conversations: int = 400
    canary_conversations: int = 300
    corrections: int = 25
    concurrency: int = 8
    train_steps: int | None = None
    seed: int = 7

    @classmethod
    def quick(cls) -> LoopConfig:
        return cls(conversations=500, shadow_conversations=150, canary_conversations=100, corrections=10,
                   train_steps=40)


@dataclass
class LoopResult:
    stats: dict[str, TrafficStats] = field(default_factory=dict)
    corrections: int = 0
    version: str | None = None
    gate_passed: bool | None = None
    gate_reason: str = ""
    decision: str = ""
    rollout: str = ""
    reports: list[str] = field(default_factory=list)
    cost_per_chat: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)


class Loop:
    def __init__(self, settings: Settings, config: LoopConfig, console: Console | None = None) -> None:
        self.settings = settings
        self.config = config
        self.console = console or Console()
        self.kb: KnowledgeBase = load_knowledge_base(settings.knowledge_base)
        self.workdir = settings.data_dir / "loop"
        self.result = LoopResult()
        self.ports = {"simulators": free_port(), "gateway": free_port(), "predictor": free_port()}
        self.engine = make_engine(settings.database_url)
        self.sessions = session_factory(self.engine)

    # --- set-up -----------------------------------------------------------------------------------------

    def child_env(self) -> dict[str, str]:
        """What the child processes read: the same settings, with loopback ports for this run."""
        sim = f"http://127.0.0.1:{self.ports['simulators']}"
        base_urls = {"openai": f"{sim}/v1", "anthropic": sim, "openai_compatible": f"{sim}/xai/v1"}
        providers = []
        for provider in self.settings.providers:
            data = provider.model_dump(mode="json")
            if provider.role == "student":
                data["base_url"] = f"http://127.0.0.1:{self.ports['predictor']}/openai/v1"
            else:
                data["base_url"] = base_urls[provider.kind]
                rate = TEACHER_HALLUCINATION.get(provider.name, 0.05)
                data["model"] = f"{provider.model}@hallucination_rate={rate}"
            providers.append(data)
        return {
            "HIBACHI_DATA_DIR": str(self.settings.data_dir),
            "HIBACHI_DATABASE_URL": self.settings.database_url,
            "HIBACHI_PROVIDERS": json.dumps(providers),
            "HIBACHI_GATEWAY__RATE_LIMIT_PER_MINUTE": "1000000",
            "HIBACHI_TRAFFIC__POLICY": "teacher",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }

    def _timed(self, name: str, started: float) -> None:
        self.result.seconds[name] = time.perf_counter() - started

    def _conversations(self, count: int, seed: int) -> list[ScriptedConversation]:
        from devkit.synth import SynthConfig, generate_traffic

        rng = random.Random(seed)
        scripted = []
        for conversation in generate_traffic(SynthConfig(conversations=count, seed=seed), self.kb):
            rating = conversation.customer_rating if conversation.customer_rating is not None else rng.choice([4, 5])
            scripted.append(ScriptedConversation(
                session_id=f"loop-{seed}-{conversation.id}", user_turns=[t.user for t in conversation.turns],
                books_if_well_served=rng.random() < 0.5, rating_if_well_served=max(rating, 4)))
        return scripted

    def _drive(self, client: GatewayClient, label: str, count: int, seed: int) -> TrafficStats:
        from hibachi.critic import get_critic

        critic = get_critic()
        conversations = self._conversations(count, seed)
        with self._progress() as progress:
            task = progress.add_task(label, total=len(conversations))
            stats = drive(client, conversations, concurrency=self.config.concurrency, seed=seed,
                          judge=lambda prompt, answer: critic.evaluate(prompt, answer).passed,
                          progress=lambda n: progress.advance(task, n))
        self.result.stats[label] = stats
        return stats

    def _progress(self) -> Progress:
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.console)

    def _wait_drained(self, client: GatewayClient, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if client.ready().get("capture_backlog_bytes", 0) == 0:
                return
            time.sleep(0.5)
        raise UserError("the gateway's capture journal did not drain into the database in time")

    # --- steps --------------------------------------------------------------------------------------------

    def capture(self, supervisor: Supervisor, client: GatewayClient) -> None:
        started = time.perf_counter()
        self.console.rule("1. Capture: customers talk to the gateway (teachers answer, the critic judges)")
        self._drive(client, "teacher traffic", self.config.conversations, self.config.seed)
        self._wait_drained(client)
        self.correct(client)
        self._timed("capture", started)

    def correct(self, client: GatewayClient) -> None:
        """An admin fixes some answers the critic rejected, as a person would in the dashboard."""
        from devkit.synth.answers import answer_question

        wanted = self.config.corrections
        rejected = client.signals(critic_passed="false", page_size=min(wanted, 200)).get("items", [])
        # The ensemble rarely serves a rejected answer, so the admin also rewrites a few recent ones.
        recent = client.signals(page_size=min(wanted, 200)).get("items", []) if len(rejected) < wanted else []
        rng = random.Random(self.config.seed)
        for item in (rejected + recent)[:wanted]:
            reason = ("the served answer broke a business fact" if not item.get("critic_passed", True)
                      else "a clearer answer from the facts")
            reference = answer_question(self.kb, [{"role": "user", "content": item["prompt"]}], rng).text
            client.correct(item["id"], reference, reason)
            self.result.corrections += 1
        self.console.print(f"admin corrections submitted: {self.result.corrections}")

    def train(self) -> tuple[ModelVersion | None, DeploymentState | None]:
        started = time.perf_counter()
        self.console.rule("2. Train: export -> filter -> LoRA -> evaluate -> gate -> deploy (kfp.local)")
        ensure_base_model(self.settings.training.base_model)
        command = hibachi_command("pipeline", "run", "--local")
        if self.config.train_steps:
            command += ["--max-steps", str(self.config.train_steps)]
        log_path = self.workdir / "logs" / "pipeline.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The full executor output goes to the log; the console gets each step's start, end and training loss.
        with log_path.open("w") as log, subprocess.Popen(command, env=_merged_env(self.child_env()), text=True,
                                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as child:
            for line in child.stdout:
                log.write(line)
                if _PIPELINE_PROGRESS.search(line):
                    self.console.print("  " + _ANSI.sub("", line.strip())[:160], highlight=False)
        self._timed("pipeline", started)
        if child.returncode != 0:
            raise UserError(f"the training pipeline failed (exit {child.returncode}); its log: {log_path}")
        with session_scope(self.sessions) as session:
            version = latest_model_version(session)
            state = latest_deployment(session, self.settings.rollout.isvc_name)
        if version is not None:
            self.result.version, self.result.gate_passed = version.id, version.gate_passed
            self.result.gate_reason = version.gate_reason or ""
        return version, state

    def shadow(self, supervisor: Supervisor, client: GatewayClient, version: ModelVersion) -> None:
        started = time.perf_counter()
        self.console.rule(f"3. Shadow: the KServe predictor serves {version.id}; customers still see teachers")
        supervisor.start("predictor", hibachi_command(
            "serve", "--base-model", version.base_model, "--adapter", version.adapter_uri,
            "--adapter-name", version.id, "--port", str(self.ports["predictor"])),
            env=self.child_env(), ready_url=f"http://127.0.0.1:{self.ports['predictor']}/v2/health/ready",
            ready_timeout_s=300)
        client.set_policy("shadow", reason=f"shadow evaluation of {version.id}")
        self._drive(client, "shadow traffic", self.config.shadow_conversations, self.config.seed + 1)
        self._wait_for_shadows(len(self.result.stats["shadow traffic"].latencies_ms))
        self._timed("shadow", started)

    def _wait_for_shadows(self, expected: int, timeout_s: float = 300.0) -> None:
        """Shadow answers arrive after the customer's reply; wait until (nearly) all are stored."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            with session_scope(self.sessions) as session:
                count = session.scalar(select(func.count()).select_from(ShadowComparison)) or 0
            if count >= expected * 0.95:
                break
            time.sleep(1.0)
        self.console.print(f"shadow comparisons stored: {count} (turns sent: {expected})")

    def analyse_and_advance(self, client: GatewayClient) -> None:
        from hibachi.monitoring.canary import analyze
        from serving.rollout import apply_decision

        started = time.perf_counter()
        self.console.rule("4. Canary analysis: does the evidence allow 10% of customers on the local model?")
        isvc = self.settings.rollout.isvc_name
        with session_scope(self.sessions) as session:
            decision = analyze(session, isvc, timedelta(hours=6), self.settings)
            self.result.decision = f"{decision.action}: {decision.reason}"
            self.console.print(f"[bold]{decision.action}[/bold] - {decision.reason}")
            outcome = apply_decision(session, decision, actor="hibachi demo", settings=self.settings)
        if outcome is not None:
            self.console.print(f"equivalent command: {outcome.kubectl}")
        if decision.action == "promote" and decision.next_percent:
            client.set_policy("split", float(decision.next_percent), reason=decision.reason[:200])
            self._drive(client, f"canary {decision.next_percent}% traffic", self.config.canary_conversations,
                        self.config.seed + 2)
            self._wait_drained(client)
        self._timed("analysis", started)

    def report(self) -> None:
        from datetime import UTC, datetime

        from hibachi.monitoring.data_quality import data_report
        from hibachi.monitoring.drift import drift_report
        from hibachi.monitoring.hallucination import hallucination_report

        started = time.perf_counter()
        self.console.rule("5. Reports: hallucination by who served, prompt drift, training-data quality")
        until = datetime.now(UTC) + timedelta(minutes=1)
        since = until - timedelta(days=60)
        run = self._latest_pipeline_run()
        training_set = run / "filter-op" / "train" if run else None
        builds = [lambda s: hallucination_report(s, since, until, self.settings),
                  lambda s: drift_report(s, since, until, self.settings, training_set=training_set)]
        if run is not None:
            builds.append(lambda s: data_report(run / "export-op" / "dataset", self.settings,
                                                filter_summary=run / "filter-op" / "summary"))
        with session_scope(self.sessions) as session:
            for build in builds:
                try:
                    self.result.reports.append(str(build(session).html_path))
                except UserError as exc:
                    self.console.print(f"[yellow]report skipped: {exc}")
        self._timed("reports", started)

    def _latest_pipeline_run(self) -> Path | None:
        runs = sorted((self.settings.data_dir / "pipeline_runs").glob("hibachi-training-*"))
        return runs[-1] if runs else None

    def rollout_state(self) -> str:
        with session_scope(self.sessions) as session:
            state = latest_deployment(session, self.settings.rollout.isvc_name)
            if state is None:
                return "nothing deployed"
            percent = "" if state.canary_percent is None else f" at {state.canary_percent}%"
            return (f"{state.isvc_name}: stage {state.stage}{percent}; stable {state.stable_version or '-'}, "
                    f"canary {state.canary_version or '-'} ({state.action} by {state.actor})")

    def cost_per_chat(self) -> tuple[int, float]:
        with session_scope(self.sessions) as session:
            count, cost = session.execute(select(func.count(), func.coalesce(func.sum(TrainingSignal.cost_usd), 0.0))
                                          ).one()
        return count, (cost / count if count else 0.0)

    # --- the whole job ------------------------------------------------------------------------------------

    def run(self) -> LoopResult:
        clock = time.perf_counter()
        self.console.rule("0. Set-up: database, knowledge base, simulators, gateway")
        upgrade(self.engine)
        self.console.print(f"database {self.settings.database_url}; knowledge base {self.kb.business.name} "
                           f"({len(self.kb.passages())} facts)")
        env = self.child_env()
        with Supervisor(self.workdir / "logs") as supervisor:
            sim, gw = self.ports["simulators"], self.ports["gateway"]
            supervisor.start("simulators", hibachi_command("providers", "simulate", "--port", str(sim)),
                             env=env, ready_url=f"http://127.0.0.1:{sim}/health")
            supervisor.start("gateway", hibachi_command("gateway", "serve", "--port", str(gw)), env=env,
                             ready_url=f"http://127.0.0.1:{gw}/health/ready")
            keys = self.settings.gateway
            client = GatewayClient(f"http://127.0.0.1:{gw}", keys.dev_customer_key, keys.dev_admin_key)
            try:
                self.capture(supervisor, client)
                version, _state = self.train()
                if version is None:
                    raise UserError("the pipeline recorded no model version")
                self.shadow(supervisor, client, version)
                if version.gate_passed:
                    self.analyse_and_advance(client)
                else:
                    self.result.decision = "no canary: the evaluation gate refused this version"
            finally:
                client.close()
        self.report()
        self.result.seconds["total"] = time.perf_counter() - clock
        self.result.rollout = self.rollout_state()
        _, self.result.cost_per_chat = self.cost_per_chat()
        self.summary()
        return self.result

    def summary(self) -> None:
        signals, cost = self.cost_per_chat()
        table = Table(title="hibachi demo: the whole loop", show_header=False)
        for label, stats in self.result.stats.items():
            served = ", ".join(f"{k} {v}" for k, v in sorted(stats.served_by.items()))
            table.add_row(label, f"{stats.conversations} conversations, {stats.requests} requests, "
                                 f"{stats.answered} answered ({served}), {stats.bookings} bookings, "
                                 f"p50 {stats.percentile(0.5):.0f} ms")
        table.add_row("signals stored", str(signals))
        table.add_row("admin corrections", str(self.result.corrections))
        table.add_row("model version", self.result.version or "-")
        table.add_row("gate", self.result.gate_reason or ("passed" if self.result.gate_passed else "refused"))
        table.add_row("canary analysis", self.result.decision or "-")
        table.add_row("rollout", self.result.rollout)
        table.add_row("cost per chat", f"${cost:.5f}")
        table.add_row("reports", "\n".join(self.result.reports) or "-")
        table.add_row("dashboard", f"hibachi gateway serve, then http://{self.settings.gateway.host}:"
                                   f"{self.settings.gateway.port}/admin (admin key)")
        table.add_row("time", ", ".join(f"{k} {v:.0f}s" for k, v in self.result.seconds.items()))
        self.console.print(table)


def _merged_env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def run_loop(settings: Settings, quick: bool = False, conversations: int | None = None) -> LoopResult:
    config = LoopConfig.quick() if quick else LoopConfig()
    if conversations is not None:
        if conversations < 1:
            raise UserError(f"demo: --conversations must be at least 1, got {conversations}")
        config = replace(config, conversations=conversations)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return Loop(settings, config).run()


def command(
    quick: Annotated[bool, typer.Option("--quick", help="Less traffic and fewer training steps (under 5 minutes).")]
    = False,
    conversations: Annotated[int | None, typer.Option(help="Customer conversations in the capture step.")] = None,
) -> None:
    """The whole loop: simulators + gateway, customer traffic, training pipeline, predictor, shadow, canary, reports."""
    from hibachi.settings import get_settings

    run_loop(get_settings(), quick=quick, conversations=conversations)
