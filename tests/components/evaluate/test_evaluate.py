"""Evaluate: a model trained on wrong answers is refused and nothing deploys; too small a holdout is recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from components.deploy.deploy import deploy_version
from components.evaluate.evaluate import evaluate_candidate
from components.train.train import main
from hibachi.records import DeploymentState, ModelVersion
from hibachi.settings import Settings, TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chat_examples import write_examples  # noqa: E402

pytestmark = [pytest.mark.storage, pytest.mark.slow]


class PassEverything:
    """A critic that objects to nothing, so only semantic accuracy can refuse the candidate."""

    def evaluate(self, prompt, response):
        return SimpleNamespace(passed=True, violations=[], quality_score=1.0)


class MustNotBeCalled:
    def evaluate(self, prompt, response):
        raise AssertionError("nothing should be scored without enough data")


def _count(factory, model):
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_wrong_answers_are_refused_and_nothing_is_deployed(db, tmp_path, tiny_base, kb):
    engine, factory = db
    settings = Settings(data_dir=tmp_path / "var", gate={"min_samples": 10, "max_new_tokens": 24})
    wrong = write_examples(tmp_path / "wrong.jsonl", kb, wrong=True, repeat=2)
    holdout = write_examples(tmp_path / "holdout.jsonl", kb)
    main(wrong, tmp_path / "run", TrainingSettings(base_model=tiny_base, max_steps=6, batch_size=4, max_length=128,
                                                   save_steps=100))
    result = evaluate_candidate(engine, holdout, tiny_base, tmp_path / "run" / "adapter", "v-wrong", "f" * 64,
                                tmp_path / "eval", settings=settings, critic=PassEverything())
    assert not result.decision.passed and result.decision.reason.startswith("refused: accuracy")
    assert result.candidate.accuracy.n == len(kb.passages())
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["candidate"]["accuracy"]["ci95"][0] <= report["candidate"]["accuracy"]["value"]
    page = (tmp_path / "eval" / "report.html").read_text()
    assert "Gate: refused" in page
    # The base alone answered the same holdout: both columns are there, and the lift is their difference.
    assert result.base.accuracy.n == result.candidate.accuracy.n
    assert report["lift"]["accuracy"] == round(report["candidate"]["accuracy"]["value"]
                                               - report["base"]["accuracy"]["value"], 4)
    assert "<th>base model</th><th>adapter</th>" in page
    assert "prompt parity: 0/0" in page  # these hand-written rows came from no stored gateway turn
    with factory() as session:
        row = session.get(ModelVersion, "v-wrong")
        assert (row.gate_passed, row.dataset_sha256) == (False, "f" * 64)
    deployed = deploy_version(engine, "v-wrong", settings=settings)
    assert not deployed.deployed and "refused: accuracy" in deployed.reason
    assert _count(factory, DeploymentState) == 0

    # With a stable adapter in production, the next candidate is compared with it too.
    with factory() as session:
        session.add(DeploymentState(isvc_name=settings.rollout.isvc_name, stable_version="v-wrong", stage="stable",
                                    action="promote", actor="test", reason="test"))
        session.commit()
    second = evaluate_candidate(engine, holdout, tiny_base, tmp_path / "run" / "adapter", "v-next", "e" * 64,
                                tmp_path / "eval2", settings=settings, critic=PassEverything())
    assert second.production_version == "v-wrong"
    assert second.production.accuracy.value == second.candidate.accuracy.value  # same adapter, same answers
    assert any(c["name"] == "accuracy_vs_production" for c in second.decision.checks)


def test_holdout_below_min_samples_records_not_enough_data(db, tmp_path, tiny_base, kb):
    engine, factory = db
    holdout = tmp_path / "holdout.jsonl"
    rows = [json.loads(line) for line in write_examples(tmp_path / "all.jsonl", kb).read_text().splitlines()][:3]
    holdout.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_candidate(engine, holdout, tiny_base, tmp_path / "missing-adapter", "v-small", "a" * 64,
                                tmp_path / "eval", settings=Settings(data_dir=tmp_path / "var"),
                                critic=MustNotBeCalled())
    assert result.decision.not_enough_data and not result.decision.passed
    assert result.decision.reason == "not enough data: 3 holdout examples, the gate needs at least 20"
    with factory() as session:
        assert session.get(ModelVersion, "v-small").gate_reason.startswith("not enough data")
    assert "not enough data" in (tmp_path / "eval" / "report.html").read_text()
    assert not deploy_version(engine, "v-small", settings=Settings(data_dir=tmp_path / "var")).deployed
