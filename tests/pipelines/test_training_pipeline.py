"""The compiled training pipeline: loads back with kfp, one image everywhere, caching/retries/secrets as designed."""

from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp import dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from components.image import COMPONENTS_IMAGE
from pipelines.cli import compile_pipeline
from pipelines.training import RETRIES, ClusterOptions, configure

STEPS = ("export", "filter", "train", "preference", "evaluate", "deploy")


def _docs(path: Path) -> list[dict]:
    return list(yaml.safe_load_all(path.read_text()))


def test_compiled_yaml_loads_back_and_every_executor_uses_the_project_image(tmp_path):
    from kfp.components import load_component_from_file

    path = compile_pipeline("training", tmp_path / "training.yaml")
    component = load_component_from_file(str(path))
    assert component.name == "hibachi-training"
    spec = json_format.ParseDict(_docs(path)[0], pipeline_spec_pb2.PipelineSpec())
    executors = spec.deployment_spec["executors"]
    assert len(executors) == len(STEPS)
    for name, executor in executors.items():
        container = json_format.MessageToDict(executor)["container"]
        assert container["image"] == COMPONENTS_IMAGE, name
        assert "pip install" not in " ".join([*container.get("command", []), *container.get("args", [])]), name


def test_caching_retries_and_gate_condition(tmp_path):
    path = compile_pipeline("training", tmp_path / "training.yaml")
    root = _docs(path)[0]["root"]["dag"]["tasks"]
    assert set(root) == {"export-op", "filter-op", "train-op", "preference-op", "evaluate-op", "condition-1"}
    assert root["preference-op"]["dependentTasks"] == ["filter-op", "train-op"]  # DPO on the SFT adapter
    assert root["preference-op"]["retryPolicy"]["maxRetryCount"] == RETRIES["preference"][0]
    assert root["export-op"]["cachingOptions"].get("enableCache", False) is False
    assert root["train-op"]["cachingOptions"]["enableCache"] is True
    assert root["export-op"]["retryPolicy"]["maxRetryCount"] == RETRIES["export"][0]
    assert "passed" in root["condition-1"]["triggerPolicy"]["condition"]
    inner = _docs(path)[0]["components"]["comp-condition-1"]["dag"]["tasks"]["deploy-op"]
    assert inner["cachingOptions"].get("enableCache", False) is False
    assert inner["retryPolicy"]["maxRetryCount"] == RETRIES["deploy"][0]


def test_cluster_options_attach_the_secret_and_the_checkpoint_volume(tmp_path):
    path = compile_pipeline("training", tmp_path / "cluster.yaml", db_secret="hibachi-db", checkpoint_pvc="ckpt")
    platform = _docs(path)[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert platform["exec-export-op"]["secretAsEnv"][0]["secretName"] == "hibachi-db"
    assert platform["exec-export-op"]["secretAsEnv"][0]["keyToEnv"] == [{"secretKey": "database-url",
                                                                         "envVar": "DATABASE_URL"}]
    assert platform["exec-train-op"]["pvcMount"][0]["mountPath"] == "/mnt/checkpoints"
    assert "exec-filter-op" not in platform


def test_monitoring_pipeline_compiles_through_the_same_command(tmp_path):
    path = compile_pipeline("monitoring", tmp_path / "monitoring.yaml")
    assert _docs(path)[0]["pipelineInfo"]["name"] == "hibachi-monitoring"


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def flaky_op(counter: str) -> int:
    from pathlib import Path

    path = Path(counter)
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    if attempts == 1:
        raise RuntimeError("database not reachable yet (forced failure)")
    return attempts


def test_a_step_that_fails_once_succeeds_through_the_configured_retry(tmp_path, monkeypatch):
    import os
    import sys

    from kfp import local

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    monkeypatch.setitem(RETRIES, "export", (2, "0s"))

    @dsl.pipeline(name="retry-check")
    def retry_pipeline(counter: str) -> int:
        return configure(flaky_op(counter=counter), "export", ClusterOptions()).output

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    run = retry_pipeline(counter=str(tmp_path / "count"))
    assert run.output == 2
    assert (tmp_path / "count").read_text() == "2"


def test_cli_refuses_unknown_pipeline_and_non_local_run():
    from hibachi.errors import UserError
    from pipelines.cli import load_pipeline

    with pytest.raises(UserError, match="--pipeline must be training or monitoring"):
        load_pipeline("nightly")
