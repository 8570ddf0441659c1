"""The gateway with the real critic, retriever and knowledge-base answers (skipped until those packages exist)."""

from __future__ import annotations

import pytest
from gateway_harness import ServerThread, chat, provider, state_of, wait_stored
from sqlalchemy import select

from devkit.simulators.faults import Faults
from devkit.simulators.server import create_simulator_app
from gateway.app import create_app
from hibachi.records import Candidate, TrainingSignal


@pytest.fixture
def real():
    from hibachi.critic import Critic
    from hibachi.retrieval import Retriever

    return Critic, Retriever


def test_hallucinating_teacher_is_outvoted_and_every_model_is_grounded(real, kb, make_settings):
    critic_cls, retriever_cls = real
    sim_app = create_simulator_app(kb=kb, seed=3)
    sim_app.state.simulator.faults.per_model["liar-model"] = Faults(hallucination_rate=1.0)
    sim = ServerThread(sim_app).start()
    gateway = None
    try:
        settings = make_settings([provider(sim, "liar"), provider(sim, "honest", kind="anthropic"),
                                  provider(sim, "grok", kind="openai_compatible")])
        gateway = ServerThread(create_app(settings, critic=critic_cls(kb), retriever=retriever_cls(kb))).start()
        questions = ["How much is it per adult?", "Do you offer wagyu?", "Is there a travel fee?",
                     "What does the deposit cost?", "Can you cook indoors?"]
        for question in questions:
            assert chat(gateway, question).status_code == 200
        wait_stored(gateway)
        with state_of(gateway).sessions() as session:
            signals = list(session.scalars(select(TrainingSignal)))
            liar = list(session.scalars(select(Candidate).where(Candidate.provider == "liar")))
        assert len(signals) == len(questions)
        assert all(s.chosen_provider != "liar" for s in signals if s.served_by == "teacher")
        assert any(c.critic_passed is False and c.violations for c in liar)  # the critic caught hallucinations
        assert all(s.topic for s in signals)
        system = sim_app.state.simulator.last_system
        assert all(system[f"{name}-model"] for name in ("liar", "honest", "grok"))  # grounded system prompts
    finally:
        if gateway:
            gateway.stop()
        sim.stop()
