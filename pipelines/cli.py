"""`hibachi pipeline`: compile the IR YAML, run locally with kfp.local, submit a run, schedule a recurring run."""

from __future__ import annotations

import json
import os
import sys
import time
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


def load_pipeline(name: str, db_secret: str | None = None, checkpoint_pvc: str | None = None):
    if name == "training":
        from pipelines.training import ClusterOptions, make_training_pipeline

        configured = ClusterOptions.from_settings()  # a command-line flag wins over pipeline.* settings
        return make_training_pipeline(ClusterOptions(db_secret or configured.db_secret,
                                                     checkpoint_pvc or configured.checkpoint_pvc))
    if name == "monitoring":
        from pipelines.monitoring import monitoring_pipeline

        return monitoring_pipeline
    raise UserError(f"--pipeline must be training or monitoring, got {name!r}")


def compile_pipeline(name: str, out: Path, db_secret: str | None = None, checkpoint_pvc: str | None = None) -> Path:
    from kfp import compiler

    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(load_pipeline(name, db_secret, checkpoint_pvc), str(out))
    return out


def _params(pairs: list[str] | None) -> dict[str, str]:
    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UserError(f"--param {pair!r}: expected NAME=VALUE")
        key, value = pair.split("=", 1)
        params[key] = value
    return params


@app.command("compile")
def compile_command(
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the IR YAML.")] = None,
    pipeline: PipelineOpt = "training",
    db_secret: Annotated[str | None, typer.Option(help="Secret with key database-url (cluster).")] = None,
    checkpoint_pvc: Annotated[str | None, typer.Option(help="PVC for training checkpoints (cluster).")] = None,
) -> None:
    """Write the pipeline's IR YAML, the file to upload in the Kubeflow Pipelines UI."""
    path = compile_pipeline(pipeline, out or Path(f"{pipeline}_pipeline.yaml"), db_secret, checkpoint_pvc)
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
    if pipeline not in ("training", "monitoring"):
        raise UserError(f"--pipeline must be training or monitoring, got {pipeline!r}")
    if not local:
        raise UserError("only --local runs here; use `hibachi pipeline submit --host URL` for a cluster")
    from kfp import local as kfp_local

    from hibachi.settings import get_settings

    settings = get_settings()
    url = database_url or settings.database_url
    _prepare_database(url, sample)
    root = pipeline_root or settings.data_dir / "pipeline_runs"
    root.mkdir(parents=True, exist_ok=True)
    # The components run `python3 -m kfp.dsl.executor_main`: make that this interpreter.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    kfp_local.init(runner=kfp_local.SubprocessRunner(use_venv=False), pipeline_root=str(root.resolve()))
    started = time.perf_counter()
    if pipeline == "monitoring":
        from pipelines.monitoring import monitoring_pipeline

        task = monitoring_pipeline(database_url=url, data_dir=str(settings.data_dir), window_hours=window_hours,
                                   base_model=base_model, max_steps=max_steps)
    else:
        from pipelines.training import training_pipeline

        task = training_pipeline(database_url=url, since=since, until=until, base_model=base_model,
                                 max_steps=max_steps)
    runs = sorted(root.glob(f"hibachi-{pipeline}-*"), key=lambda p: p.stat().st_mtime)
    summary = {"seconds": round(time.perf_counter() - started, 1), "outputs": str(runs[-1]) if runs else str(root)}
    if runs and pipeline == "monitoring":
        summary.update(_retraining(runs[-1]))
    if runs and (pipeline == "training" or summary.get("retraining") == "train"):
        summary.update(run_outcome(runs[-1]))
    del task
    typer.echo(json.dumps(summary, indent=2))


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
    import kfp

    return kfp.Client(host=host)


@app.command("submit")
def submit_command(host: HostOpt, pipeline: PipelineOpt = "training", params: ParamOpt = None,
                   experiment: Annotated[str, typer.Option(help="Experiment name.")] = "hibachi",
                   db_secret: Annotated[str | None, typer.Option()] = None,
                   checkpoint_pvc: Annotated[str | None, typer.Option()] = None) -> None:
    """Create one run of the pipeline on a Kubeflow Pipelines host."""
    client = _client(host)
    result = client.create_run_from_pipeline_func(load_pipeline(pipeline, db_secret, checkpoint_pvc),
                                                  arguments=_params(params), experiment_name=experiment,
                                                  service_account=get_settings().pipeline.service_account)
    typer.echo(f"run {result.run_id} created on {host}")


@app.command("schedule")
def schedule_command(host: HostOpt,
                     cron: Annotated[str | None, typer.Option(help="Cron (6 fields allowed); default: monthly for "
                                                              "training, hourly for monitoring.")] = None,
                     pipeline: PipelineOpt = "training", params: ParamOpt = None,
                     name: Annotated[str | None, typer.Option(help="Recurring run name.")] = None,
                     experiment: Annotated[str, typer.Option(help="Experiment name.")] = "hibachi",
                     db_secret: Annotated[str | None, typer.Option()] = None,
                     checkpoint_pvc: Annotated[str | None, typer.Option()] = None) -> None:
    """Create a recurring run of the compiled pipeline: training monthly, or monitoring hourly (it starts a training
    run itself when the evidence says so)."""
    import tempfile

    cron = cron or DEFAULT_CRON.get(pipeline, DEFAULT_CRON["training"])
    fields = cron.split()
    if len(fields) not in (5, 6):
        raise UserError(f"--cron {cron!r}: expected 5 or 6 fields")
    # Kubeflow's scheduler takes 6-field cron (seconds first).
    kfp_cron = cron if len(fields) == 6 else "0 " + cron
    client = _client(host)
    experiment_id = client.create_experiment(name=experiment).experiment_id
    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline(pipeline, Path(tmp) / "pipeline.yaml", db_secret, checkpoint_pvc)
        job = client.create_recurring_run(
            experiment_id=experiment_id, cron_expression=kfp_cron,
            job_name=name or f"hibachi-{pipeline}-{'hourly' if pipeline == 'monitoring' else 'monthly'}",
            pipeline_package_path=str(package), params=_params(params), enable_caching=False, max_concurrency=1,
            service_account=get_settings().pipeline.service_account,
        )
    typer.echo(f"recurring run {job.recurring_run_id} ({kfp_cron}) created on {host}")
