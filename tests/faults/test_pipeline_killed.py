"""A pipeline run killed in the middle of training: the rerun completes and the version is deployed once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hibachi.records import DeploymentState, ModelVersion

pytestmark = [pytest.mark.fault, pytest.mark.slow]

# A permissive gate, so the rerun reaches deploy (the refusal path has its own tests).
GATE = {"HIBACHI_GATE__MIN_ACCURACY": "0", "HIBACHI_GATE__MIN_BUSINESS_LOGIC": "0",
        "HIBACHI_GATE__MAX_HALLUCINATION_RATE": "1", "HIBACHI_GATE__MIN_SAMPLES": "5",
        "HIBACHI_GATE__MAX_EVAL_SAMPLES": "12", "HIBACHI_GATE__MAX_NEW_TOKENS": "16",
        "HIBACHI_TRAINING__BATCH_SIZE": "4", "HIBACHI_TRAINING__MAX_LENGTH": "512",
        "HIBACHI_PREFERENCE__ENABLED": "false"}


def _pipeline(tmp_path: Path, base: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, **GATE, "HIBACHI_DATA_DIR": str(tmp_path / "var"), "HIBACHI_TRAINING__BASE_MODEL": str(base),
           "HIBACHI_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}"}
    command = [sys.executable, "-m", "hibachi_cli", "pipeline", "run", "--local", "--max-steps", "30", *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_rerun_after_a_kill_mid_training_completes_and_deploys_once(tmp_path, fault_table, tiny_base):
    first = _pipeline(tmp_path, tiny_base, "--sample", "160")
    killed_in = None
    deadline = time.monotonic() + 300
    for line in first.stdout:
        if "Executing task" in line and "train-op" in line:
            time.sleep(3)  # training has started: cut the whole run (executor included) off
            os.killpg(first.pid, signal.SIGKILL)
            killed_in = "train-op"
            break
        assert time.monotonic() < deadline, "the pipeline never reached training"
    first.wait(timeout=30)
    assert killed_in == "train-op" and first.returncode == -signal.SIGKILL

    rerun = _pipeline(tmp_path, tiny_base)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-3000:]

    engine = create_engine(f"sqlite:///{tmp_path / 'pipeline.db'}")
    with engine.connect() as conn:
        versions = conn.execute(select(ModelVersion.id, ModelVersion.gate_passed)).all()
        deployments = conn.execute(select(DeploymentState.canary_version, DeploymentState.action)).all()
    engine.dispose()
    # One pipeline job: killed once, completed by the rerun; the deployment is what must not be lost or doubled.
    fault_table.record("pipeline killed mid-training, rerun", sent=1, answered=int(rerun.returncode == 0),
                       stored=len(deployments), expected_stored=1,
                       note=f"{len(versions)} version(s), {len(deployments)} deployment(s)")
    assert len(versions) == 1 and versions[0].gate_passed
    assert deployments == [(versions[0].id, "deploy")]  # deployed exactly once, the version that finished
