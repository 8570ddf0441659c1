"""`hibachi pipeline`: compile the IR YAML, run locally with kfp.local, submit a run, schedule a recurring run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from hibachi.errors import UserError
from hibachi.settings import get_settings

app = typer.Typer(help="Kubeflow pipelines: compile, run locally, submit, schedule.", no_args_is_help=True)

PipelineOpt = Annotated[str, typer.Option("--pipeline", help="training or monitoring.")]
HostOpt = Annotated[str, typer.Option("--host", help="Kubeflow Pipelines API URL, e.g. http://ml-pipeline:8888.")]
# Training on the calendar is the fallback; the hourly monitoring run starts training when the evidence says so.
DEFAULT_CRON = {"training": "0 3 1 * *", "monitoring": "0 * * * *"}
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Pipeline parameter NAME=VALUE (repeatable).")]
DbSecretOpt = Annotated[str | None, typer.Option("--db-secret", help="Secret with key database-url (cluster).")]
CheckpointPvcOpt = Annotated[str | None, typer.Option(
    "--checkpoint-pvc", help="PVC holding training checkpoints and the base model (cluster).")]
GpuOpt = Annotated[bool | None, typer.Option(
    "--gpu/--cpu", help="Whether train, preference and evaluate ask for a GPU (default: a GPU when "
    "rollout.variant is gpu or vllm).", show_default=False)]
PIPELINES = ("training", "monitoring")


def cluster_options(db_secret: str | None = None, checkpoint_pvc: str | None = None, gpu: bool | None = None):
    """The pipeline.* settings, each overridden by its command-line flag when given."""
    from pipelines.training import ClusterOptions

    configured = ClusterOptions.from_settings()
    return ClusterOptions(db_secret or configured.db_secret, checkpoint_pvc or configured.checkpoint_pvc,
                          gpu=configured.gpu if gpu is None else gpu)


def _check_pipeline_name(name: str) -> None:
    if name not in PIPELINES:
        raise UserError(f"--pipeline must be training or monitoring, got {name!r}")


def build_pipeline(name: str, options):
    """The pipeline function named ``name``, built with ``options`` (a ``ClusterOptions``)."""
    _check_pipeline_name(name)
    if name == "training":
        from pipelines.training import make_training_pipeline

        return make_training_pipeline(options)
    from pipelines.monitoring import make_monitoring_pipeline

    return make_monitoring_pipeline(options)


def load_pipeline(name: str, db_secret: str | None = None, checkpoint_pvc: str | None = None,
                  gpu: bool | None = None):
    """The pipeline as compiled for a cluster: both pipelines take the same Secret, volume and GPU choice."""
    _check_pipeline_name(name)
    return build_pipeline(name, cluster_options(db_secret, checkpoint_pvc, gpu))


def compile_pipeline(name: str, out: Path, db_secret: str | None = None, checkpoint_pvc: str | None = None,
                     gpu: bool | None = None) -> Path:
    from kfp import compiler

    pipeline_func = load_pipeline(name, db_secret, checkpoint_pvc, gpu)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func, str(out))
    return out


def check_time(flag: str, value: str) -> datetime | None:
    """An export window bound as the export step reads it (ISO 8601); empty means "not given"."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value!r}: expected an ISO 8601 time, e.g. 2026-10-01 or "
                        "2026-10-01T00:00:00+00:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # naive means UTC, as the export reads it


def check_window(since: str, until: str, prefix: str = "--") -> None:
    start, end = check_time(f"{prefix}since", since), check_time(f"{prefix}until", until)
    if start and end and start >= end:
        raise UserError(f"{prefix}since {since!r} is not before {prefix}until {until!r}: the export window is empty")


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _typed(name: str, value: str, kind: str):
    """``value`` as the pipeline declares parameter ``name`` (Integer, Float, Boolean or String)."""
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
    except ValueError:
        raise UserError(f"--param {name}={value!r}: expected {'an integer' if kind == 'Integer' else 'a number'}"
                        ) from None
    if kind == "Boolean":
        if value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise UserError(f"--param {name}={value!r}: expected true or false")
    return value


def _params(pairs: list[str] | None, pipeline_func=None) -> dict:
    """``--param NAME=VALUE`` pairs as arguments of ``pipeline_func``: known names only, each value converted to
    the parameter's declared type (Kubeflow refuses a string for an int parameter), the export window checked."""
    declared = {name: spec.type for name, spec in pipeline_func.component_spec.inputs.items()} \
        if pipeline_func is not None else None
    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UserError(f"--param {pair!r}: expected NAME=VALUE")
        key, value = pair.split("=", 1)
        if declared is None:
            params[key] = value
            continue
        if key not in declared:
            raise UserError(f"--param {key}: the {pipeline_func.name} pipeline has no such parameter "
                            f"(it takes {', '.join(sorted(declared))})")
        params[key] = _typed(key, value, declared[key])
    check_window(str(params.get("since", "")), str(params.get("until", "")), prefix="--param ")
    return params


@app.command("compile")
def compile_command(
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the IR YAML.")] = None,
    pipeline: PipelineOpt = "training",
    db_secret: DbSecretOpt = None,
    checkpoint_pvc: CheckpointPvcOpt = None,
    gpu: GpuOpt = None,
) -> None:
    """Write the pipeline's IR YAML, the file to upload in the Kubeflow Pipelines UI."""
    path = compile_pipeline(pipeline, out or Path(f"{pipeline}_pipeline.yaml"), db_secret, checkpoint_pvc, gpu)
    typer.echo(f"wrote {path}")


@app.command("run")
def run_command(
    local: Annotated[bool, typer.Option("--local", help="Run every step here with kfp.local.")] = False,
    pipeline_root: Annotated[Path | None, typer.Option(help="Where kfp.local writes outputs.")] = None,
    database_url: Annotated[str | None, typer.Option(help="Overrides DATABASE_URL / settings.")] = None,
    max_steps: Annotated[int, typer.Option(help="Training steps (0: settings.training.max_steps).")] = 0,
    base_model: Annotated[str, typer.Option(help="Base checkpoint dir (empty: the tiny offline model).")] = "",
    since: Annotated[str, typer.Option(help="Export window start, ISO time (empty: last watermark).")] = "",
    until: Annotated[str, typer.Option(help="Export window end, ISO time (empty: now).")] = "",
    sample: Annotated[int, typer.Option(help="Seed this many sample signals first when the database has none.")] = 0,
    pipeline: PipelineOpt = "training",
    window_hours: Annotated[float, typer.Option(help="Monitoring window (--pipeline monitoring).")] = 24.0,
) -> None:
    """Run a pipeline end to end on this machine (kfp.local SubprocessRunner, same components).

    ``--pipeline monitoring`` runs the reports, the canary analysis and the retraining decision; when the
    decision says "train", the training pipeline runs right after, inside the same run.
    """
    _check_pipeline_name(pipeline)
    if not local:
        raise UserError("only --local runs here; use `hibachi pipeline submit --host URL` for a cluster")
    # Everything a step would fail on deterministically is refused here, before any step starts.
    check_window(since, until)
    if max_steps < 0:
        raise UserError(f"--max-steps {max_steps}: expected 0 (the configured steps) or more")
    if sample < 0:
        raise UserError(f"--sample {sample}: expected 0 or more")
    if not window_hours > 0:
        raise UserError(f"--window-hours {window_hours}: expected a positive number of hours")
    if base_model and not (Path(base_model) / "config.json").is_file():
        raise UserError(f"--base-model {base_model}: no config.json (expected a Hugging Face checkpoint directory)")
    from kfp import local as kfp_local

    from hibachi.settings import get_settings
    from pipelines.training import LOCAL_RUN

    settings = get_settings()
    url = database_url or settings.database_url
    _prepare_database(url, sample)
    root = pipeline_root or settings.data_dir / "pipeline_runs"
    root.mkdir(parents=True, exist_ok=True)
    # The components run `python3 -m kfp.dsl.executor_main`: make that this interpreter.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    kfp_local.init(runner=kfp_local.SubprocessRunner(use_venv=False), pipeline_root=str(root.resolve()))
    started = time.perf_counter()
    # Built for this machine: no Secret or volume, and no retries (a local failure is not a flaky node; retrying
    # export on bad input only waited minutes of backoff before failing the same way).
    pipeline_func = build_pipeline(pipeline, LOCAL_RUN)
    arguments = (dict(database_url=url, data_dir=str(settings.data_dir), window_hours=window_hours,
                      base_model=base_model, max_steps=max_steps) if pipeline == "monitoring" else
                 dict(database_url=url, since=since, until=until, base_model=base_model, max_steps=max_steps))
    log = root / "logs" / f"hibachi-{pipeline}-{datetime.now(UTC):%Y%m%d-%H%M%S}.log"
    task = run_locally(pipeline_func, arguments, log)
    runs = sorted(root.glob(f"hibachi-{pipeline}-*"), key=lambda p: p.stat().st_mtime)
    summary = {"seconds": round(time.perf_counter() - started, 1), "outputs": str(runs[-1]) if runs else str(root)}
    if runs and pipeline == "monitoring":
        summary.update(_retraining(runs[-1]))
    if runs and (pipeline == "training" or summary.get("retraining") == "train"):
        summary.update(run_outcome(runs[-1]))
    del task
    typer.echo(json.dumps(summary, indent=2))


class _Tee:
    """Writes to the terminal and to the run's log file (kfp.local streams the steps' output to stdout)."""

    def __init__(self, stream, log) -> None:
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.log.flush()
        self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failed_step(message: str) -> str | None:
    """The step kfp.local names in its failure message (the innermost one when a sub-pipeline failed)."""
    plain = _ANSI.sub("", message)
    found = (re.search(r"Inner task failed: '?([\w.-]+)", plain)
             or re.search(r"Task '?([\w.-]+)'? finished", plain))
    return found.group(1) if found else None


def run_locally(pipeline_func, arguments: dict, log: Path):
    """Run ``pipeline_func`` under kfp.local with its output also kept in ``log``; a failed step is a UserError
    naming the step and the log (the step's traceback is in the log, not repeated on the terminal)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle, \
            contextlib.redirect_stdout(_Tee(sys.stdout, handle)), contextlib.redirect_stderr(_Tee(sys.stderr, handle)):
        try:
            return pipeline_func(**arguments)
        except RuntimeError as exc:
            step = failed_step(str(exc))
            if step is None:
                raise
            failure = exc
    raise UserError(f"pipeline step {step} failed; its log is in {log}") from failure


def _prepare_database(url: str, sample: int) -> None:
    from sqlalchemy import func, select

    from hibachi.db import make_engine, session_factory, upgrade
    from hibachi.records import TrainingSignal

    engine = make_engine(url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        with factory() as session:
            existing = session.scalar(select(func.count()).select_from(TrainingSignal))
        if sample and not existing:
            from components.export.sample import seed_signals

            seed_signals(factory, sample)
    finally:
        engine.dispose()


def _retraining(run_dir: Path) -> dict:
    """The monitoring run's retraining decision: "train" (the training pipeline ran in this run) or "wait", and why."""
    decision = next(run_dir.glob("retraining*/decision"), None)
    if decision is None or not decision.is_file():
        return {}
    data = json.loads(decision.read_text())
    return {"retraining": "train" if data["triggered"] else "wait", "retraining_reason": data["reason"],
            "production_adapter": data["staleness"]["reason"]}


def run_outcome(run_dir: Path) -> dict:
    out: dict = {}
    evaluation = next(run_dir.glob("evaluate*/evaluation/evaluation.json"), None)
    if evaluation:
        report = json.loads(evaluation.read_text())
        out.update(version=report["version_id"], gate=report["gate"]["reason"], passed=report["gate"]["passed"])
        out["report"] = str(evaluation.parent / "report.html")
        choice = (report.get("preference") or {}).get("choice") or {}
        if choice:
            out["forward"] = choice.get("chosen") or "nothing"
    adapter = next(run_dir.glob("preference*/model/adapter" if out.get("forward") == "sft+dpo"
                                else "train*/model/adapter"), None)
    if adapter:
        out["adapter"] = str(adapter)
    summary = next(run_dir.glob("filter*/summary"), None)
    if summary and summary.is_file():
        pairs = json.loads(summary.read_text()).get("pairs") or {}
        if pairs:
            out["pairs"] = {source: sum(sides.values()) for source, sides in pairs.get("by_source", {}).items()}
    dpo = next(run_dir.glob("preference*/model/metrics.json"), None)
    if dpo:
        metrics = json.loads(dpo.read_text())
        out["preference"] = (f"skipped: {metrics['skipped']}" if metrics.get("skipped") else
                             f"DPO {metrics['global_step']} steps on {metrics['pairs']} pairs, final reward accuracy "
                             f"{metrics.get('final_reward_accuracy')}")
    stale = next(run_dir.glob("export*/stale"), None)
    if stale and stale.is_file():
        out["stale_answers_left_out"] = sum(1 for line in stale.read_text().splitlines() if line.strip())
    deployed = next(run_dir.glob("deploy*/record/deploy.json"), None)
    out["deploy"] = json.loads(deployed.read_text())["reason"] if deployed else "not run (gate refused)"
    return out


def _client(host: str):
    import warnings

    import kfp

    with warnings.catch_warnings():  # the client's warning about Kubeflow versions before 2.0 says nothing here
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=host)


def _unreachable(host: str, exc: Exception) -> UserError:
    reason = str(getattr(exc, "reason", None) or exc)
    errno = re.search(r"\[Errno -?\d+\] [^\"')]+", reason)
    status = getattr(exc, "status", None)
    why = errno.group(0) if errno else f"HTTP {status} {getattr(exc, 'reason', '')}".strip() if status else \
        type(exc).__name__
    return UserError(f"Kubeflow Pipelines at {host} is not reachable ({why})")


@contextlib.contextmanager
def _talking_to(host: str):
    """Connection and API failures of kfp.Client as one line naming the host, instead of chained tracebacks."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except (HTTPError, ApiException, OSError) as exc:
        raise _unreachable(host, exc) from None


@app.command("submit")
def submit_command(host: HostOpt, pipeline: PipelineOpt = "training", params: ParamOpt = None,
                   experiment: Annotated[str, typer.Option(help="Experiment name.")] = "hibachi",
                   db_secret: DbSecretOpt = None, checkpoint_pvc: CheckpointPvcOpt = None, gpu: GpuOpt = None) -> None:
    """Create one run of the pipeline on a Kubeflow Pipelines host."""
    pipeline_func = load_pipeline(pipeline, db_secret, checkpoint_pvc, gpu)
    arguments = _params(params, pipeline_func)  # checked before connecting
    with _talking_to(host):
        client = _client(host)
        result = client.create_run_from_pipeline_func(pipeline_func, arguments=arguments, experiment_name=experiment,
                                                      service_account=get_settings().pipeline.service_account)
    typer.echo(f"run {result.run_id} created on {host}")


@app.command("schedule")
def schedule_command(host: HostOpt,
                     cron: Annotated[str | None, typer.Option(help="Cron (6 fields allowed); default: monthly for "
                                                              "training, hourly for monitoring.")] = None,
                     pipeline: PipelineOpt = "training", params: ParamOpt = None,
                     name: Annotated[str | None, typer.Option(help="Recurring run name.")] = None,
                     experiment: Annotated[str, typer.Option(help="Experiment name.")] = "hibachi",
                     db_secret: DbSecretOpt = None, checkpoint_pvc: CheckpointPvcOpt = None,
                     gpu: GpuOpt = None) -> None:
    """Create a recurring run of the compiled pipeline: training monthly, or monitoring hourly (it starts a training
    run itself when the evidence says so)."""
    import tempfile

    _check_pipeline_name(pipeline)
    kfp_cron = kubeflow_cron(cron or DEFAULT_CRON[pipeline])
    with tempfile.TemporaryDirectory() as tmp:
        # Parameters and cron are checked and the package compiled before connecting.
        package = compile_pipeline(pipeline, Path(tmp) / "pipeline.yaml", db_secret, checkpoint_pvc, gpu)
        arguments = _params(params, load_pipeline(pipeline, db_secret, checkpoint_pvc, gpu))
        with _talking_to(host):
            client = _client(host)
            experiment_id = client.create_experiment(name=experiment).experiment_id
            job = client.create_recurring_run(
                experiment_id=experiment_id, cron_expression=kfp_cron,
                job_name=name or f"hibachi-{pipeline}-{'hourly' if pipeline == 'monitoring' else 'monthly'}",
                pipeline_package_path=str(package), params=arguments, enable_caching=False, max_concurrency=1,
                service_account=get_settings().pipeline.service_account,
            )
    typer.echo(f"recurring run {job.recurring_run_id} ({kfp_cron}) created on {host}")


# Per field of a 6-field cron (seconds first): the allowed range; names are allowed for months and weekdays.
_CRON_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = {4: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
               5: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}


def _cron_field_ok(field: str, index: int) -> bool:
    low, high = _CRON_RANGES[index]
    for part in field.split(","):
        body, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if body in ("*", "?"):
            continue
        for bound in body.split("-", 1):
            lowered = bound.lower()
            if lowered in _CRON_NAMES.get(index, ()):
                continue
            if not bound.isdigit() or not low <= int(bound) <= high:
                return False
    return True


def kubeflow_cron(cron: str) -> str:
    """``cron`` as Kubeflow's scheduler takes it (6 fields, seconds first), each field checked."""
    fields = cron.split()
    if len(fields) not in (5, 6):
        raise UserError(f"--cron {cron!r}: expected 5 or 6 fields")
    six = fields if len(fields) == 6 else ["0", *fields]
    for index, field in enumerate(six):
        if not _cron_field_ok(field, index):
            name = ("second", "minute", "hour", "day of month", "month", "day of week")[index]
            raise UserError(f"--cron {cron!r}: {field!r} is not a valid {name} field")
    return " ".join(six)
