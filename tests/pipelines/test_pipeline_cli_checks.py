"""`hibachi pipeline`: bad input is refused before anything starts or connects; failures are one line."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import pipelines.cli as cli
from hibachi.errors import UserError

runner = CliRunner()


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(host):
        raise AssertionError("connected before checking the arguments")

    monkeypatch.setattr(cli, "_client", refuse)


@pytest.fixture
def no_local_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("started the run before checking the arguments")

    monkeypatch.setattr(cli, "_prepare_database", refuse)
    monkeypatch.setattr(cli, "run_locally", refuse, raising=False)  # absent before the fix


@pytest.mark.parametrize("args,message", [
    (["--since", "garbage"], "--since 'garbage': expected an ISO 8601 time"),
    (["--until", "yesterday"], "--until 'yesterday': expected an ISO 8601 time"),
    (["--since", "2026-10-02", "--until", "2026-10-01"], "is not before --until"),
    (["--max-steps", "-1"], "--max-steps -1"),
    (["--window-hours", "0", "--pipeline", "monitoring"], "--window-hours 0"),
    (["--base-model", "/nonexistent/model"], "--base-model /nonexistent/model: no config.json"),
])
def test_local_run_checks_its_arguments_before_starting(no_local_run, args, message):
    result = runner.invoke(cli.app, ["run", "--local", *args])
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception)


def test_a_failed_local_step_is_one_line_naming_the_step_and_its_log(tmp_path, monkeypatch):
    import os

    from kfp import dsl, local

    from components.image import COMPONENTS_IMAGE

    @dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
    def broken_op() -> str:
        raise ValueError("Invalid isoformat string: 'garbage'")

    @dsl.pipeline(name="broken")
    def broken_pipeline() -> str:
        return broken_op().output

    monkeypatch.setenv("PATH", str(os.path.dirname(sys.executable)) + os.pathsep + os.environ["PATH"])
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    log = tmp_path / "logs" / "run.log"
    with pytest.raises(UserError) as caught:
        cli.run_locally(broken_pipeline, {}, log)
    assert str(caught.value) == f"pipeline step broken-op failed; its log is in {log}"
    assert "Invalid isoformat string" in log.read_text()  # the step's own traceback is kept in the log


def test_failed_step_reads_kfp_locals_messages():
    nested = ("Pipeline \x1b[95m'hibachi-monitoring'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m. Inner task "
              "failed: \x1b[96m'export-op'\x1b[0m inside \x1b[96m'hibachi-training'\x1b[0m.")
    assert cli.failed_step(nested) == "export-op"  # the innermost step, not the sub-pipeline
    assert cli.failed_step("Task \x1b[96mtrain-op\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m") == "train-op"
    assert cli.failed_step("something else") is None


@pytest.mark.parametrize("args,message", [
    (["submit", "--host", "h", "--param", "foo"], "expected NAME=VALUE"),
    (["submit", "--host", "h", "--param", "max_steps=many"], "--param max_steps='many': expected an integer"),
    (["submit", "--host", "h", "--param", "nonsense=1"], "has no such parameter"),
    (["submit", "--host", "h", "--param", "since=garbage"], "--param since 'garbage': expected an ISO 8601"),
    (["submit", "--host", "h", "--pipeline", "monitoring", "--param", "apply_decision=maybe"], "expected true or"),
    (["schedule", "--host", "h", "--cron", "a b c d e"], "'a' is not a valid minute field"),
    (["schedule", "--host", "h", "--cron", "0 25 * * *"], "'25' is not a valid hour field"),
    (["schedule", "--host", "h", "--param", "foo"], "expected NAME=VALUE"),
])
def test_parameters_and_cron_are_checked_before_connecting(no_connection, args, message):
    result = runner.invoke(cli.app, args)
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception)


def test_parameters_are_sent_with_the_pipelines_declared_types():
    from pipelines.monitoring import make_monitoring_pipeline
    from pipelines.training import ClusterOptions

    monitoring = make_monitoring_pipeline(ClusterOptions())
    assert cli._params(["max_steps=200", "window_hours=6", "apply_decision=true", "isvc=llama"], monitoring) == {
        "max_steps": 200, "window_hours": 6.0, "apply_decision": True, "isvc": "llama"}


def test_a_valid_cron_becomes_kubeflows_six_fields():
    assert cli.kubeflow_cron("0 3 1 * *") == "0 0 3 1 * *"
    assert cli.kubeflow_cron("*/15 0-6 * jan-mar mon,fri") == "0 */15 0-6 * jan-mar mon,fri"
    assert cli.kubeflow_cron("30 0 * * * *") == "30 0 * * * *"


def test_an_unreachable_host_is_one_line_naming_it():
    result = subprocess.run([sys.executable, "-m", "hibachi_cli", "pipeline", "submit", "--host",
                             "http://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: Kubeflow Pipelines at http://127.0.0.1:9 is not reachable ([Errno 111] Connection "
                     "refused)"], result.stderr
