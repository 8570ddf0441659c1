"""`hibachi pipeline`: compile writes loadable YAML; submit/schedule call kfp.Client with the compiled package."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

import pipelines.cli as cli
from hibachi.errors import UserError

runner = CliRunner()


class RecordingClient:
    """Stands in for kfp.Client (no Kubeflow host here); records what the commands ask of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def create_experiment(self, name):
        self.calls.append(("create_experiment", {"name": name}))
        return SimpleNamespace(experiment_id="exp-1")

    def create_recurring_run(self, **kwargs):
        package = Path(kwargs["pipeline_package_path"])
        kwargs["pipeline_name"] = yaml.safe_load(package.read_text())["pipelineInfo"]["name"]
        self.calls.append(("create_recurring_run", kwargs))
        return SimpleNamespace(recurring_run_id="rr-1")

    def create_run_from_pipeline_func(self, func, arguments, experiment_name, service_account=None):
        self.calls.append(("create_run", {"arguments": arguments, "experiment": experiment_name,
                                          "service_account": service_account}))
        return SimpleNamespace(run_id="run-1")


@pytest.fixture
def client(monkeypatch):
    fake = RecordingClient()
    monkeypatch.setattr(cli, "_client", lambda host: fake)
    return fake


def test_compile_writes_the_training_and_monitoring_yaml(tmp_path):
    for name in ("training", "monitoring"):
        result = runner.invoke(cli.app, ["compile", "--pipeline", name, "--out", str(tmp_path / f"{name}.yaml")])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load((tmp_path / f"{name}.yaml").read_text())["pipelineInfo"]["name"] == f"hibachi-{name}"


def test_schedule_creates_a_monthly_recurring_run(client):
    result = runner.invoke(cli.app, ["schedule", "--host", "http://kfp:8888", "--cron", "0 3 1 * *",
                                     "--param", "max_steps=200"])
    assert result.exit_code == 0, result.output
    (_, experiment), (_, job) = client.calls
    assert experiment == {"name": "hibachi"}
    assert job["cron_expression"] == "0 0 3 1 * *" and job["experiment_id"] == "exp-1"
    assert job["params"] == {"max_steps": 200} and job["pipeline_name"] == "hibachi-training"  # the declared int
    assert job["enable_caching"] is False
    assert job["service_account"] == "hibachi-deployer"  # the deploy step's least-privilege account


def test_submit_creates_a_run_with_parameters(client):
    result = runner.invoke(cli.app, ["submit", "--host", "http://kfp:8888", "--param", "since=2026-10-01"])
    assert result.exit_code == 0, result.output
    assert client.calls == [("create_run", {"arguments": {"since": "2026-10-01"}, "experiment": "hibachi",
                                            "service_account": "hibachi-deployer"})]


@pytest.mark.parametrize("args,message", [
    (["schedule", "--host", "h", "--cron", "0 3"], "expected 5 or 6 fields"),
    (["submit", "--host", "h", "--param", "oops"], "expected NAME=VALUE"),
    (["run"], "only --local runs here"),
])
def test_bad_arguments_are_user_errors(client, args, message):
    result = runner.invoke(cli.app, args)
    assert isinstance(result.exception, UserError) and message in str(result.exception)


def test_schedule_runs_the_monitoring_pipeline_hourly_by_default(client):
    result = runner.invoke(cli.app, ["schedule", "--host", "http://kfp:8888", "--pipeline", "monitoring"])
    assert result.exit_code == 0, result.output
    job = client.calls[-1][1]
    assert job["cron_expression"] == "0 0 * * * *" and job["pipeline_name"] == "hibachi-monitoring"
    assert job["job_name"] == "hibachi-monitoring-hourly" and job["max_concurrency"] == 1


def test_run_names_the_retraining_decision_and_the_pairs_of_a_finished_run(tmp_path):
    import json

    run = tmp_path / "hibachi-monitoring-1"
    (run / "retraining-op").mkdir(parents=True)
    (run / "retraining-op" / "decision").write_text(json.dumps({
        "triggered": True, "reason": "train: knowledge base changed", "staleness": {"reason": "v1 is stale"}}))
    assert cli._retraining(run) == {"retraining": "train", "retraining_reason": "train: knowledge base changed",
                                    "production_adapter": "v1 is stale"}
    assert cli._retraining(tmp_path) == {}
    (run / "filter-op").mkdir()
    (run / "filter-op" / "summary").write_text(json.dumps({"pairs": {"by_source": {
        "teacher_rejected": {"train": 5, "holdout": 1}, "admin_correction": {"train": 2}}}}))
    (run / "preference-op" / "model").mkdir(parents=True)
    (run / "preference-op" / "model" / "metrics.json").write_text(json.dumps({"skipped": "too few pairs: 8"}))
    outcome = cli.run_outcome(run)
    assert outcome["pairs"] == {"teacher_rejected": 6, "admin_correction": 2}
    assert outcome["preference"] == "skipped: too few pairs: 8"


def test_run_refuses_an_unknown_pipeline(client):
    result = runner.invoke(cli.app, ["run", "--local", "--pipeline", "nightly"])
    assert isinstance(result.exception, UserError) and "--pipeline must be training or monitoring" in str(
        result.exception)
