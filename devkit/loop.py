"""The whole loop in one command: capture -> train -> serve -> shadow -> analyse -> canary -> report.

Every step runs the platform's own parts the way a user would: the provider simulators, the gateway
and the KServe predictor are started as processes (``hibachi ...``), customers talk to the gateway
with the official ``openai`` client, the training pipeline runs with ``kfp.local``, and rollouts go
through the same functions as ``hibachi rollout``. The supervisor stops every process on exit,
errors and Ctrl-C.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
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
from devkit.walk import StepRecord, stage_percent, traffic_for, walk
from hibachi.db import make_engine, session_factory, session_scope, upgrade
from hibachi.errors import UserError
from hibachi.knowledge import KnowledgeBase, load_knowledge_base
from hibachi.queries import latest_deployment, latest_model_version, shadows_between, signals_between
from hibachi.records import DeploymentState, ModelVersion, ShadowComparison, TrainingSignal
from hibachi.settings import Settings

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PIPELINE_PROGRESS = re.compile(r"Executing task|finished with status|gate|Pipeline '|pipeline run")
# The train and preference steps' log lines (components.train.progress): about twenty of each run are shown.
_TRAINING_LOG = re.compile(r"\bstep (\d+)/(\d+)  loss ")
_FILTERED = re.compile(r"Task 'filter-op' finished with status SUCCESS")

# Teachers misbehave a little, as hosted models do; the critic must catch it.
TEACHER_HALLUCINATION = {"openai": 0.04, "anthropic": 0.03, "xai": 0.15}
# ...and take about a second to answer, as a hosted chat API does for a 60-token reply (time to first token
# plus generation). Without it the simulated teachers answered in a few ms and the canary analysis compared
# the student's latency with a number no hosted model reaches.
TEACHER_LATENCY_MS = {"openai": 1000, "anthropic": 1200, "xai": 800}


def _shown_training_step(line: str) -> bool:
    """One training log line in twenty steps' worth, and the last: the loss going down, not every step of it."""
    match = _TRAINING_LOG.search(line)
    if match is None:
        return False
    step, steps = int(match.group(1)), int(match.group(2))
    return step == steps or step % max(1, steps // 20) == 0


@dataclass(frozen=True)
class LoopConfig:
    conversations: int = 2500
    canary_conversations: int = 60  # customers once promoted: measured for the summary, nothing left to decide
    corrections: int = 25
    # Customers talking at once. Teachers take about a second each and use little CPU, so the capture runs
    # wide (2,500 conversations: 91 s with 96 at once, 68 s with 144). During the rollout about
    # ``concurrency`` customers at once are on the student (step_concurrency), which answers on this machine's
    # CPU: with 16 at once (beside the gateway and the load generator) its shadow answers took p50 3.2 s
    # against the teachers' 1.25 s, and the analysis (rightly) rolled it back for latency; with 4 at once it
    # served the 90% step at p50 0.24 s. A small business's chat rarely has more than a few customers at once.
    capture_concurrency: int = 144
    concurrency: int = 4
    # LoRA steps (None: training.max_steps). The stand-in needs 800 to copy its quotes' totals: on one demo's
    # capture and holdout (rank 32, quote rows once), accuracy / hallucination / business logic after 400 steps
    # were 0.915 / 0.115 / 0.885, after 600 0.955 / 0.035 / 0.965, after 800 0.96 / 0.02 / 0.98 (gate: 0.85 /
    # 0.05 / 0.95). With rank 64 and quote rows twice (training.quote_repeats), 800 steps scored 0.021 on all
    # 1288 held-out rows of another capture, and two demos passed the gate at 0.030 and walked to promotion.
    train_steps: int | None = 800
    seed: int = 7
    # Each rollout step needs this many answers per arm before the analysis decides (analysis.min_samples).
    # 30, not the production 50: the 90% step needs 1.3 x 30 / (2 x 0.1) = 195 customers for its teacher arm,
    # and at 4 at once on the student they take over a minute here.
    min_samples: int = 30
    max_rounds: int = 3  # rounds of customers per step while the analysis holds
    turns_per_conversation: float = 2.0  # what the synthetic customers average
    sabotage: bool = True  # the drill: a poisoned adapter forced into a 10% canary
    poison_share: float = 0.4  # of the training answers replaced by wrong ones
    drill_train_steps: int = 200  # the poisoned adapter only has to learn its poison (400 cost the demo 219 s)
    drill_eval_samples: int = 80  # holdout rows the gate scores the poisoned adapter on (same thresholds)

    @classmethod
    def quick(cls) -> LoopConfig:
        return cls(conversations=500, canary_conversations=30, corrections=10, train_steps=200, sabotage=False)

    def step_concurrency(self, stage: str) -> int:
        """Customers at once during a step: about ``concurrency`` of them on the student at every step.

        At a 10% canary nine customers in ten wait on a teacher (a second each, little CPU here), so the same
        number at once as at 90% left the student nearly idle and the step slow; scaled by the student's share,
        its load (and so the latency the analysis compares) stays the same while the step's customers arrive
        sooner.
        Shadow sends the student every turn, so it keeps ``concurrency``.
        """
        share = stage_percent(stage) / 100
        if share == 0:
            return self.concurrency
        return min(self.capture_concurrency, max(self.concurrency, round(self.concurrency / share)))

    def step_conversations(self, stage: str) -> int:
        """Customers per round of a step: enough for ``min_samples`` answers on the smaller arm."""
        if stage == "promoted":
            return self.canary_conversations
        share = stage_percent(stage) / 100
        smaller = 1.0 if stage == "shadow" else round(min(share, 1 - share), 6)
        return max(10, math.ceil(1.3 * self.min_samples / (self.turns_per_conversation * smaller)))


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
    steps: list[StepRecord] = field(default_factory=list)
    final: str = "held"
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # stage -> when it ran
    traffic: dict[str, TrafficStats] = field(default_factory=dict)  # stage -> what its customers saw
    drift: dict[str, bool] | None = None
    retraining: str = ""  # the evidence-triggered retraining decision after the walk, and whether production is stale
    sabotage: dict | None = None
    summary_path: Path | None = None


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
        # The demo's sizes: each rollout step decides on config.min_samples answers per arm.
        self.analysis_settings = settings.model_copy(update={"analysis": settings.analysis.model_copy(
            update={"min_samples": config.min_samples})})
        self._step_started = datetime.now(UTC)
        self._drill = None  # (process, work dir) of the drill's poisoned adapter, once started

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
                latency = TEACHER_LATENCY_MS.get(provider.name, 1000)
                data["model"] = f"{provider.model}@hallucination_rate={rate};latency_ms={latency}"
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

    def _drive(self, client: GatewayClient, label: str, count: int, seed: int,
               concurrency: int | None = None) -> TrafficStats:
        from hibachi.critic import get_critic

        critic = get_critic()
        conversations = self._conversations(count, seed)
        with self._progress() as progress:
            task = progress.add_task(label, total=len(conversations))
            stats = drive(client, conversations, concurrency=concurrency or self.config.concurrency, seed=seed,
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
        since = datetime.now(UTC)
        self.result.traffic["teacher"] = self._drive(client, "teacher traffic", self.config.conversations,
                                                     self.config.seed, self.config.capture_concurrency)
        self._wait_drained(client)
        self.result.windows["teacher"] = (since, datetime.now(UTC))
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

    def train(self, supervisor: Supervisor) -> tuple[ModelVersion | None, DeploymentState | None]:
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
                plain = _ANSI.sub("", line.strip())
                if _PIPELINE_PROGRESS.search(line) or _shown_training_step(plain):
                    self.console.print("  " + plain[:160], highlight=False)
                if self.config.sabotage and self._drill is None and _FILTERED.search(plain):
                    self.start_drill(supervisor)
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

    def start_predictor(self, supervisor: Supervisor, version: ModelVersion, title: str = "3. Serve") -> None:
        self.console.rule(f"{title}: the KServe predictor loads {version.id}; customers still see teachers")
        supervisor.start("predictor", hibachi_command(
            "serve", "--base-model", version.base_model, "--adapter", version.adapter_uri,
            "--adapter-name", version.id, "--port", str(self.ports["predictor"])),
            env=self.child_env(), ready_url=f"http://127.0.0.1:{self.ports['predictor']}/v2/health/ready",
            ready_timeout_s=300)

    def _wait_for_shadows(self, since: datetime, expected: int, timeout_s: float = 300.0) -> int:
        """Shadow answers arrive after the customer's reply; wait until (nearly) all of this step's are stored."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            with session_scope(self.sessions) as session:
                count = session.scalar(select(func.count()).select_from(ShadowComparison)
                                       .where(ShadowComparison.created_at >= since)) or 0
            if count >= expected * 0.95:
                break
            time.sleep(1.0)
        return count

    def rollout(self, client: GatewayClient, version: ModelVersion) -> None:
        """Shadow -> canary 10 -> 50 -> 90 -> promote; every step decided by the analysis of its own customers."""
        from hibachi.monitoring.canary import analyze
        from hibachi.monitoring.windows import format_duration
        from serving.rollout import apply_decision

        started = time.perf_counter()
        isvc = self.settings.rollout.isvc_name
        with session_scope(self.sessions) as session:
            state = latest_deployment(session, isvc)
            entry = state.canary_percent if state is not None and state.canary_version == version.id else None
        if entry is None:
            self.result.decision = f"{version.id} is not in the rollout of {isvc}; nothing to walk"
            return
        self.console.rule(f"4. Rollout: {version.id} from {'shadow' if not entry else f'{entry}%'} to promotion, "
                          "each step decided by `hibachi rollout analyze` on that step's customers")
        settings = self.analysis_settings

        def set_traffic(stage: str) -> None:
            policy, percent = traffic_for(stage)
            client.set_policy(policy, percent, reason=f"rollout of {version.id}: {stage}")
            self.console.print(f"gateway traffic policy -> {policy}" + (f" {percent:g}%" if policy == "split" else ""))

        def drive_step(stage: str, round_: int) -> None:
            count = self.config.step_conversations(stage)
            label = f"{stage} customers" + (f" (round {round_ + 1})" if round_ else "")
            seed = self.config.seed + 1000 + 10 * stage_percent(stage) + round_
            stats = self._drive(client, label, count, seed, self.config.step_concurrency(stage))
            self._wait_drained(client)
            if stage == "shadow":
                shadow_turns = stats.answered
                stored = self._wait_for_shadows(self._step_started, shadow_turns)
                self.console.print(f"shadow comparisons stored this step: {stored} (turns answered {shadow_turns})")
            merged = self.result.traffic.setdefault(stage, TrafficStats())
            merged.conversations += stats.conversations
            merged.requests += stats.requests
            merged.answered += stats.answered
            merged.failed += stats.failed
            merged.latencies_ms += stats.latencies_ms
            for who, n in stats.served_by.items():
                merged.served_by[who] = merged.served_by.get(who, 0) + n

        def decide(since: datetime):
            now = datetime.now(UTC)
            with session_scope(self.sessions) as session:
                decision = analyze(session, isvc, now - since, settings, now=now)
            window = format_duration(timedelta(seconds=math.ceil((now - since).total_seconds())))
            self.console.print(f"$ hibachi rollout analyze --window {window} --apply\n"
                               f"  [bold]{decision.action}[/bold]"
                               f"{f' -> {decision.next_percent}%' if decision.action == 'promote' else ''}: "
                               f"{decision.reason}", highlight=False)
            return decision

        def apply(decision) -> str | None:
            with session_scope(self.sessions) as session:
                outcome = apply_decision(session, decision, actor="hibachi demo", settings=settings)
            if outcome is None:
                return None
            self.console.print(f"  recorded: {outcome.state.action} -> stage {outcome.state.stage}"
                               f"{'' if outcome.state.canary_percent is None else f' {outcome.state.canary_percent}%'}"
                               f"; {', '.join(str(p) for p in outcome.written) or outcome.kubectl}", highlight=False)
            return outcome.kubectl

        def clock() -> datetime:
            self._step_started = datetime.now(UTC)
            return self._step_started

        result = walk(set_traffic=set_traffic, drive=drive_step, decide=decide, apply=apply, start_percent=entry,
                      max_rounds=self.config.max_rounds, clock=clock)
        self.result.steps, self.result.final = result.steps, result.final
        last = next((s for s in reversed(result.steps) if s.action), None)
        self.result.decision = f"{result.final}" + (f" ({last.action}: {last.reason})" if last else "")
        self._timed("rollout", started)

    def start_drill(self, supervisor: Supervisor) -> None:
        """Train and score the poisoned adapter in a second process, on the filter step's fresh output.

        Started as soon as the pipeline has filtered its data, it trains on the core the pipeline's
        one-thread training leaves idle, so the drill adds only its canary traffic to the demo's time.
        """
        run = self._latest_pipeline_run()
        if run is None or not (run / "filter-op" / "train").is_file():
            return
        drill = self.drill_isvc
        version_id = f"{drill}-{datetime.now(UTC):%Y%m%d-%H%M%S}-poisoned"
        # One directory per drill: the train step resumes from checkpoints it finds, and an earlier demo's
        # finished ones would leave this drill's adapter untrained on its own poisoned data.
        work = self.workdir / "sabotage" / version_id
        steps = min(self.config.train_steps or self.settings.training.max_steps, self.config.drill_train_steps)
        child = supervisor.start("drill-training", [
            sys.executable, "-m", "devkit.sabotage", "--run", str(run), "--work", str(work), "--version-id",
            version_id, "--share", str(self.config.poison_share), "--seed", str(self.config.seed),
            "--train-steps", str(steps), "--eval-samples", str(self.config.drill_eval_samples)],
            env=self.child_env())
        self._drill = (child, work)
        self.console.print(f"  sabotage drill: training the poisoned adapter alongside ({steps} steps, log "
                           f"{child.log_path})", highlight=False)

    @property
    def drill_isvc(self) -> str:
        """The drill's own InferenceService, beside the real one, so its rollout history never mixes with it."""
        return f"{self.settings.rollout.isvc_name}-drill"

    def drill_adapter(self, supervisor: Supervisor) -> dict | None:
        """The drill's trained and scored adapter (waits for its process); None when there was nothing to poison."""
        if self._drill is None:
            self.start_drill(supervisor)
        if self._drill is None:
            return None
        child, work = self._drill
        if child.alive:
            self.console.print("waiting for the drill's training to finish ...")
        child.popen.wait()
        if child.popen.returncode != 0:
            raise UserError(f"the sabotage drill's training failed (exit {child.popen.returncode}):\n"
                            f"{child.log_tail()}")
        return json.loads((work / "drill.json").read_text())

    def sabotage(self, supervisor: Supervisor, client: GatewayClient) -> None:
        """Poisoned adapter: the gate must refuse it; forced to 10% anyway, the analysis must roll it back."""
        from devkit.summary import customers_served_failed
        from hibachi.monitoring.canary import analyze
        from serving import rollout

        started = time.perf_counter()
        prepared = self.drill_adapter(supervisor)
        if prepared is None:
            self.console.print("[yellow]sabotage drill skipped: no filtered training set to poison")
            return
        drill = self.drill_isvc
        self.console.rule(f"6. Sabotage drill: {self.config.poison_share:.0%} of the training answers poisoned; "
                          f"forced into a 10% canary of {drill} anyway")
        version_id, poisoned, gate_passed = prepared["version"], prepared["poisoned_answers"], prepared["gate_passed"]
        self.console.print(f"poisoned {poisoned} training answers (wrong prices, items not offered); the adapter "
                           f"trained in {prepared['train_seconds']:.0f} s alongside the pipeline")
        self.console.print(f"gate on the poisoned adapter: {'passed' if gate_passed else 'refused'} - "
                           f"{prepared['gate_reason']}", highlight=False)
        # The drill borrows the gateway's student under its own InferenceService name; the demo moves the gateway's
        # traffic itself (below), so the drill's rollout steps must not.
        settings = self.analysis_settings.model_copy(update={"rollout": self.settings.rollout.model_copy(
            update={"isvc_name": drill, "gateway_follows": False})})
        client.set_policy("teacher", reason="sabotage drill: loading the poisoned adapter")
        for child in [c for c in supervisor.children if c.name == "predictor"]:
            supervisor.stop(child)
        supervisor.children[:] = [c for c in supervisor.children if c.name != "predictor"]
        with session_scope(self.sessions) as session:
            version = session.get(ModelVersion, version_id)
            rollout.deploy(session, drill, version_id, entry="shadow", actor="hibachi demo (an operator)",
                           reason="sabotage drill: deployed despite the gate", settings=settings,
                           override_gate=True)
        forced = subprocess.run(hibachi_command("rollout", "set", "--percent", "10", "--name", drill, "--actor",
                                                "hibachi demo (an operator)", "--reason",
                                                "sabotage drill: forced into canary despite the gate"),
                                env=_merged_env(self.child_env()), capture_output=True, text=True, check=False)
        self.console.print("$ hibachi rollout set --percent 10 --reason '...'\n  " + forced.stdout.strip(),
                           highlight=False)
        if forced.returncode != 0:
            raise UserError(f"hibachi rollout set failed: {forced.stderr.strip()[-300:]}")
        self.start_predictor(supervisor, version, title="6. Drill")
        client.set_policy("split", 10.0, reason=f"sabotage drill: {version_id} forced to 10%")
        since = datetime.now(UTC)
        decision = None
        for round_ in range(self.config.max_rounds):
            self._drive(client, f"poisoned canary-10 customers{f' (round {round_ + 1})' if round_ else ''}",
                        self.config.step_conversations("canary-10"), self.config.seed + 5000 + round_,
                        self.config.step_concurrency("canary-10"))
            self._wait_drained(client)
            now = datetime.now(UTC)
            with session_scope(self.sessions) as session:
                decision = analyze(session, drill, now - since, settings, now=now)
            self.console.print(f"$ hibachi rollout analyze --name {drill} --apply\n  [bold]{decision.action}"
                               f"[/bold]: {decision.reason}", highlight=False)
            if decision.action != "hold":
                break
        final = "held"
        if decision is not None and decision.action != "hold":
            from serving.rollout import apply_decision

            with session_scope(self.sessions) as session:
                apply_decision(session, decision, actor="hibachi demo", settings=settings)
            final = "rolled_back" if decision.action == "rollback" else f"advanced to {decision.next_percent}%"
        client.set_policy("teacher", reason=f"sabotage drill over: {final}")
        with session_scope(self.sessions) as session:
            failed = customers_served_failed(signals_between(session, since, datetime.now(UTC)))
        self.result.sabotage = {"gate_passed": gate_passed, "final": final, "customers_served_failed_answers": failed,
                                "version": version_id, "poisoned_answers": poisoned,
                                "gate_reason": prepared["gate_reason"],
                                "decision": decision.reason if decision else ""}
        self.console.print(f"sabotage drill: {final}; customers served an answer the critic failed: {failed}")
        self._timed("sabotage", started)

    def report(self) -> None:
        from hibachi.monitoring.data_quality import data_report
        from hibachi.monitoring.drift import drift_report
        from hibachi.monitoring.hallucination import hallucination_report

        started = time.perf_counter()
        self.console.rule("5. Reports: hallucination by who served, prompt drift, training-data quality")
        until = datetime.now(UTC) + timedelta(minutes=1)
        since = until - timedelta(days=60)
        run = self._latest_pipeline_run()
        training_set = run / "filter-op" / "train" if run else None
        builds = [("hallucination", lambda s: hallucination_report(s, since, until, self.settings)),
                  ("drift", lambda s: drift_report(s, since, until, self.settings, training_set=training_set,
                                                   normalize=self._scrub))]
        if run is not None:
            builds.append(("data", lambda s: data_report(run / "export-op" / "dataset", self.settings,
                                                         filter_summary=run / "filter-op" / "summary")))
        drift_headline = None
        with session_scope(self.sessions) as session:
            for name, build in builds:
                try:
                    saved = build(session)
                except UserError as exc:
                    self.console.print(f"[yellow]report skipped: {exc}")
                    continue
                self.result.reports.append(str(saved.html_path))
                if name == "drift":
                    drift_headline = saved.headline
                    self.result.drift = {"same_distribution_alarm": bool(saved.headline["drift_detected"])}
            if self.result.drift is not None and training_set is not None:
                self.result.drift["new_topic_alarm"] = self.new_topic_alarm(session, since, until, training_set)
        self.decide_retraining(drift_headline)
        self._timed("reports", started)

    def decide_retraining(self, drift_headline: dict | None) -> None:
        """What the hourly monitoring pipeline would decide now: retrain on evidence, or wait (recorded)."""
        from components.monitor.retrain import decide_retraining

        summary = {"figures": {"drift": drift_headline}} if drift_headline else None
        decision = decide_retraining(self.settings, monitor_summary=summary, actor="hibachi demo")
        self.result.retraining = f"{decision['reason']}; production adapter: {decision['staleness']['reason']}"
        self.console.print(f"retraining decision: {self.result.retraining}")

    def _scrub(self, text: str) -> str:
        """The filter step's PII scrubber: production prompts get the training set's preprocessing."""
        from components.filter.pii import Scrubber

        if not hasattr(self, "_scrubber"):
            self._scrubber = Scrubber()
        return self._scrubber.scrub(text).text

    def new_topic_alarm(self, session, since: datetime, until: datetime, training_set: Path) -> bool:
        """Inject questions about a topic absent from training into a sample of production prompts: drift must alarm."""
        from devkit.probes import new_topic_prompts
        from hibachi.monitoring.drift import distinct, drift_snapshot, training_prompts

        production = distinct([self._scrub(s.prompt) for s in signals_between(session, since, until)])
        random.Random(self.config.seed).shuffle(production)
        probe = new_topic_prompts(100, seed=self.config.seed)
        _, figures = drift_snapshot(training_prompts(training_set), production[:len(probe)] + probe, self.settings,
                                    "training set")
        self.console.print(f"drift probe: {len(probe)} questions about a topic absent from training injected into "
                           f"{min(len(production), len(probe))} production prompts -> ROC AUC "
                           f"{figures['embedding_drift_auc']:.2f}, "
                           f"drift {'yes' if figures['drift_detected'] else 'no'}")
        return bool(figures["drift_detected"])

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
                version, _state = self.train(supervisor)
                if version is None:
                    raise UserError("the pipeline recorded no model version")
                if version.gate_passed:
                    self.start_predictor(supervisor, version)
                    self.rollout(client, version)
                else:
                    self.result.decision = "no rollout: the evaluation gate refused this version"
                    self.result.final = "held"
                if self.config.sabotage:
                    self.sabotage(supervisor, client)
            finally:
                client.close()
        self.report()
        self.result.rollout = self.rollout_state()
        _, self.result.cost_per_chat = self.cost_per_chat()
        self.result.seconds["total"] = time.perf_counter() - clock
        self.write_summary()
        self.summary()
        return self.result

    # --- the summary as data ------------------------------------------------------------------------------

    def gate_summary(self):
        from devkit.summary import GateSummary

        run = self._latest_pipeline_run()
        evaluation = next(iter(sorted(run.glob("evaluate-op/**/evaluation.json")))) if run else None
        report = json.loads(evaluation.read_text()) if evaluation else {}
        return GateSummary(passed=bool(self.result.gate_passed), reason=self.result.gate_reason or "no model version",
                           version=self.result.version, base=report.get("base") or {},
                           adapter=report.get("candidate") or {})

    def stage_summaries(self) -> list:
        from devkit.summary import StageSummary, stage_metrics, traffic_fields
        from devkit.synth.answers import answer_question
        from hibachi.monitoring.addressed import answer_check
        from hibachi.monitoring.drift import embed

        def cosine(answers: list[str], references: list[str]) -> list[float]:
            a, b = embed(answers), embed(references)
            return [float(x @ y) for x, y in zip(a, b, strict=True)]

        def reference(judged) -> str:
            # The simulated teacher's own answer function (without its injected hallucinations), same turn.
            messages = [*judged.history, {"role": "user", "content": judged.prompt}]
            return answer_question(self.kb, messages, random.Random(judged.prompt)).text

        windows = dict(self.result.windows)
        for step in self.result.steps:
            windows[step.stage] = (step.started, step.ended or datetime.now(UTC))
        check = answer_check(self.settings)
        out = []
        with session_scope(self.sessions) as session:
            for stage, (since, until) in windows.items():
                stats = self.result.traffic.get(stage, TrafficStats())
                metrics = stage_metrics(stage, signals_between(session, since, until),
                                        shadows_between(session, since, until), check=check,
                                        categories=self.settings.analysis.hallucination_categories,
                                        similarity=cosine, threshold=self.settings.gate.similarity_threshold,
                                        reference=reference)
                out.append(StageSummary(stage=stage, **traffic_fields(stats.requests, stats.served_by,
                                                                      stats.latencies_ms), **metrics))
        return out

    def write_summary(self) -> Path:
        from devkit.summary import DemoSummary, DriftSummary, RolloutSummary, SabotageSummary, write_summary

        drift = self.result.drift or {}
        summary = DemoSummary(
            gate=self.gate_summary(), stages=self.stage_summaries(),
            rollout=RolloutSummary(final=self.result.final, decisions=[s.as_dict() for s in self.result.steps],
                                   history=self.rollout_history()),
            sabotage=SabotageSummary(**self.result.sabotage) if self.result.sabotage else None,
            drift=DriftSummary(**drift) if {"same_distribution_alarm", "new_topic_alarm"} <= drift.keys() else None,
            seconds={k: round(v, 1) for k, v in self.result.seconds.items()},
        )
        self.result.summary_path = write_summary(summary, self.settings.data_dir / "demo-summary.json")
        self._summary = summary
        return self.result.summary_path

    def rollout_history(self) -> list[dict]:
        """Every recorded rollout change of this run's InferenceService: who, why, which stage."""
        from hibachi.queries import deployment_history

        with session_scope(self.sessions) as session:
            rows = deployment_history(session, self.settings.rollout.isvc_name, limit=50)
            return [{"id": r.id, "action": r.action, "stage": r.stage, "canary_percent": r.canary_percent,
                     "stable": r.stable_version, "canary": r.canary_version, "actor": r.actor, "reason": r.reason}
                    for r in reversed(rows)]

    def summary(self) -> None:
        from devkit.summary import table_rows

        stages = Table(title="hibachi demo: who served the customers at each stage")
        for column in ("stage", "requests", "served by", "accuracy vs teacher", "hallucination", "business logic",
                       "p50 ms", "cost/chat"):
            stages.add_column(column, justify="left" if column in ("stage", "served by") else "right")
        for row in table_rows(self._summary):
            stages.add_row(*row)
        self.console.print(stages)
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
        run = self._latest_pipeline_run()
        if run is not None:
            from pipelines.cli import run_outcome

            outcome = run_outcome(run)
            pairs = outcome.get("pairs") or {}
            table.add_row("preference pairs", ", ".join(f"{k} {v}" for k, v in sorted(pairs.items())) or "0")
            table.add_row("preference (DPO)", outcome.get("preference", "-"))
            table.add_row("went forward", outcome.get("forward", "-"))
        table.add_row("gate", self.result.gate_reason or ("passed" if self.result.gate_passed else "refused"))
        table.add_row("canary analysis", self.result.decision or "-")
        table.add_row("rollout", f"{self.result.final}: {self.result.rollout}")
        table.add_row("retraining", self.result.retraining or "-")
        table.add_row("summary (JSON)", str(self.result.summary_path))
        table.add_row("cost per chat", f"${cost:.5f}")
        table.add_row("reports", "\n".join(self.result.reports) or "-")
        table.add_row("dashboard", f"hibachi gateway serve, then http://{self.settings.gateway.host}:"
                                   f"{self.settings.gateway.port}/admin (admin key)")
        table.add_row("time", ", ".join(f"{k} {v:.0f}s" for k, v in self.result.seconds.items()))
        self.console.print(table)


def _merged_env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def run_loop(settings: Settings, quick: bool = False, conversations: int | None = None,
             sabotage: bool | None = None) -> LoopResult:
    config = LoopConfig.quick() if quick else LoopConfig()
    if sabotage is not None:
        config = replace(config, sabotage=sabotage)
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
    sabotage: Annotated[bool | None, typer.Option(
        "--sabotage/--no-sabotage", help="Run the poisoned-adapter drill (default: on, off with --quick).")] = None,
) -> None:
    """The whole loop: simulators + gateway, customer traffic, training pipeline, predictor, shadow, canary, reports."""
    from hibachi.settings import get_settings

    run_loop(get_settings(), quick=quick, conversations=conversations, sabotage=sabotage)
