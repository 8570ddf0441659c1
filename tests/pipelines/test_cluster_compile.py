"""What the compiled YAML asks of a cluster: per-run checkpoints, resources and GPUs, the volume where its paths are
read, the same Secret and volume for both pipelines, and no kfp installed at runtime."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import pipelines.cli as cli
from components.train.component import train_op
from pipelines.training import LOCAL_RUN, make_training_pipeline

runner = CliRunner()


def _compile(tmp_path: Path, pipeline: str, *flags: str) -> tuple[dict, dict]:
    out = tmp_path / f"{pipeline}.yaml"
    result = runner.invoke(cli.app, ["compile", "--pipeline", pipeline, "--out", str(out), *flags])
    assert result.exit_code == 0, result.output
    spec, *platform = yaml.safe_load_all(out.read_text())  # no platform document without Kubernetes settings
    return spec, platform[0]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if platform else {}


def _train_task(spec: dict) -> dict:
    tasks = spec["root"]["dag"]["tasks"]
    return tasks["train-op"]["inputs"]["parameters"]


def test_each_run_keeps_its_checkpoints_in_a_directory_of_its_own(tmp_path):
    spec, platform = _compile(tmp_path, "training", "--checkpoint-pvc", "ckpt")
    params = _train_task(spec)
    assert params["checkpoint_dir"]["runtimeValue"]["constant"] == "/mnt/checkpoints/train"
    assert params["run_id"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}"  # the run's id, at runtime


@pytest.mark.parametrize("run_id,expected", [("run-a", "ckpt/run-a"), ("", "ckpt")])
def test_the_train_step_writes_checkpoints_under_the_run_id(tmp_path, monkeypatch, run_id, expected):
    from types import SimpleNamespace

    import components.train.train as train

    seen = []

    def fake_main(train_file, work, config):
        seen.append(work)
        (work / "adapter").mkdir(parents=True)
        (work / "metrics.json").write_text("{}")
        return {"base_model": "base", "global_step": 1}

    monkeypatch.setattr(train, "main", fake_main)
    model = SimpleNamespace(path=str(tmp_path / "model"), metadata={})
    metrics = SimpleNamespace(log_metric=lambda *args: None)
    train_op.python_func(train=SimpleNamespace(path=str(tmp_path / "train.jsonl")), model=model, metrics=metrics,
                         checkpoint_dir=str(tmp_path / "ckpt"), run_id=run_id, base_model=str(tmp_path))
    assert seen == [tmp_path / expected]
    assert (tmp_path / "model" / "metrics.json").is_file()


def test_monitoring_takes_the_secret_and_volume_flags_like_training(tmp_path):
    _, platform = _compile(tmp_path, "monitoring", "--db-secret", "hibachi-db", "--checkpoint-pvc", "ckpt")
    for step in ("exec-monitor-op", "exec-retraining-op", "exec-export-op", "exec-evaluate-op", "exec-deploy-op"):
        assert platform[step]["secretAsEnv"][0]["secretName"] == "hibachi-db", step
    assert platform["exec-train-op"]["pvcMount"][0]["constant"] == "ckpt"


def test_the_volume_is_mounted_wherever_its_paths_are_read(tmp_path):
    _, platform = _compile(tmp_path, "training", "--checkpoint-pvc", "ckpt")
    for step in ("exec-train-op", "exec-preference-op", "exec-evaluate-op"):
        assert platform[step]["pvcMount"][0]["mountPath"] == "/mnt/checkpoints", step
    assert "pvcMount" not in platform.get("exec-export-op", {})


def _resources(spec: dict) -> dict:
    return {name: executor["container"].get("resources", {})
            for name, executor in spec["deploymentSpec"]["executors"].items()}


def test_every_step_requests_cpu_and_memory_and_the_model_steps_a_gpu_when_compiled_for_gpu(tmp_path):
    spec, platform = _compile(tmp_path, "training", "--gpu")
    resources = _resources(spec)
    for name, asked in resources.items():
        assert asked.get("resourceCpuRequest") and asked.get("resourceMemoryLimit"), name
    for step in ("exec-train-op", "exec-preference-op", "exec-evaluate-op"):
        assert resources[step]["accelerator"]["resourceType"] == "nvidia.com/gpu", step
        assert resources[step]["accelerator"]["resourceCount"] == "1", step
        assert platform[step]["tolerations"][0]["key"] == "nvidia.com/gpu", step
    assert "accelerator" not in resources["exec-export-op"]
    spec, _ = _compile(tmp_path, "training", "--cpu")
    assert not any("accelerator" in asked for asked in _resources(spec).values())
    assert _resources(spec)["exec-train-op"]["resourceMemoryRequest"]


def test_the_monitoring_steps_do_not_install_kfp_at_runtime(tmp_path):
    spec, _ = _compile(tmp_path, "monitoring")
    for name, executor in spec["deploymentSpec"]["executors"].items():
        container = executor["container"]
        assert "pip install" not in " ".join([*container.get("command", []), *container.get("args", [])]), name


def test_a_local_run_is_built_without_retries_or_resources(tmp_path):
    from kfp import compiler

    out = tmp_path / "local.yaml"
    compiler.Compiler().compile(make_training_pipeline(LOCAL_RUN), str(out))
    spec = next(yaml.safe_load_all(out.read_text()))
    assert not any("retryPolicy" in task for task in spec["root"]["dag"]["tasks"].values())
    assert not any(_resources(spec).values())
