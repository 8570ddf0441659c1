"""The rollout walk: each step's traffic, decision and applied change, in order, for every way it can end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from devkit.loop import LoopConfig
from devkit.walk import stage_name, stage_percent, traffic_for, walk


@dataclass
class D:
    action: str
    next_percent: int | None
    reason: str = "because"


class Script:
    """Records every call; answers each decide() from a list of decisions."""

    def __init__(self, decisions):
        self.decisions = list(decisions)
        self.calls: list[tuple] = []
        self.t = datetime(2026, 12, 1, tzinfo=UTC)

    def clock(self):
        self.t += timedelta(minutes=1)
        return self.t

    def set_traffic(self, stage):
        self.calls.append(("traffic", stage))

    def drive(self, stage, round_):
        self.calls.append(("drive", stage, round_))

    def decide(self, since):
        self.calls.append(("decide", since))
        return self.decisions.pop(0)

    def apply(self, decision):
        self.calls.append(("apply", decision.action, decision.next_percent))
        return f"kubectl patch {decision.next_percent}"

    def run(self, **kw):
        return walk(set_traffic=self.set_traffic, drive=self.drive, decide=self.decide, apply=self.apply,
                    clock=self.clock, **kw)


def test_shadow_to_promotion_applies_each_step_and_moves_the_gateway_after_it():
    script = Script([D("promote", 10), D("promote", 50), D("promote", 90), D("promote", 100)])
    result = script.run()
    assert result.final == "promoted"
    assert [s.stage for s in result.steps] == ["shadow", "canary-10", "canary-50", "canary-90", "promoted"]
    kinds = [c[0] if c[0] != "traffic" else f"traffic:{c[1]}" for c in script.calls]
    assert kinds == ["traffic:shadow", "drive", "decide", "apply", "traffic:canary-10", "drive", "decide", "apply",
                     "traffic:canary-50", "drive", "decide", "apply", "traffic:canary-90", "drive", "decide",
                     "apply", "traffic:promoted", "drive"]
    # each decision looks only at its own step: the window starts when the step started
    decides = [c[1] for c in script.calls if c[0] == "decide"]
    assert decides == [s.started for s in result.steps[:4]]
    assert all(s.ended > s.started for s in result.steps)
    assert result.steps[1].applied == "kubectl patch 50" and result.steps[1].next_stage == "canary-50"
    assert result.steps[-1].action is None


def test_a_hold_sends_more_customers_then_the_walk_goes_on():
    script = Script([D("hold", 0, "too few samples"), D("promote", 10), D("rollback", 0, "canary is worse")])
    result = script.run(max_rounds=3)
    assert result.final == "rolled_back"
    assert result.steps[0].rounds == 2 and result.steps[0].action == "promote"
    assert ("drive", "shadow", 1) in script.calls
    assert script.calls[-1] == ("traffic", "rolled_back")  # teachers answer again after a rollback
    assert result.steps[-1].reason == "canary is worse" and result.steps[-1].next_stage == "rolled_back"


def test_holding_through_every_round_stops_where_it_is_without_applying_anything():
    script = Script([D("hold", 10, "inconclusive")] * 2)
    result = script.run(start_percent=10, max_rounds=2)
    assert result.final == "held" and [s.stage for s in result.steps] == ["canary-10"]
    assert not [c for c in script.calls if c[0] == "apply"]
    assert script.calls[0] == ("traffic", "canary-10")


def test_bad_rounds_are_refused():
    with pytest.raises(ValueError, match="max_rounds"):
        Script([]).run(max_rounds=0)


@pytest.mark.parametrize(("percent", "stage", "traffic"), [
    (0, "shadow", ("shadow", 0.0)), (None, "shadow", ("shadow", 0.0)), (10, "canary-10", ("split", 10.0)),
    (90, "canary-90", ("split", 90.0)), (100, "promoted", ("split", 100.0))])
def test_stage_names_and_the_gateway_policy_of_each(percent, stage, traffic):
    assert stage_name(percent) == stage
    assert traffic_for(stage) == traffic
    assert stage_percent(stage) == (percent or 0)
    assert traffic_for("rolled_back") == ("teacher", 0.0)


def test_each_step_sends_enough_customers_for_the_smaller_arm():
    config = LoopConfig(min_samples=50, turns_per_conversation=2.0, canary_conversations=77)
    # 10% and 90%: the smaller arm gets a tenth of ~2 turns per customer -> 1.3 * 50 / 0.2
    assert config.step_conversations("canary-10") == config.step_conversations("canary-90") == 325
    assert config.step_conversations("canary-50") == 65
    assert config.step_conversations("shadow") == 33  # every turn is shadowed
    assert config.step_conversations("promoted") == 77


def test_each_step_keeps_about_the_same_number_of_customers_on_the_student():
    config = LoopConfig(concurrency=16, capture_concurrency=96)
    # The student's share x customers at once stays near 16; a 10% canary is capped by the capture's width.
    assert config.step_concurrency("canary-10") == 96
    assert config.step_concurrency("canary-50") == 32
    assert config.step_concurrency("canary-90") == 18
    assert config.step_concurrency("promoted") == 16
    assert config.step_concurrency("shadow") == 16  # the student answers every turn in shadow
