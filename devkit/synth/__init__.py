"""Synthetic customer traffic for the demo and the tests: conversations, teacher answers, outcomes.

``generate_traffic(SynthConfig(...))`` returns conversations; ``devkit.synth.answers.answer_question``
answers one customer message from the knowledge base (the provider simulators use it);
``devkit.synth.load.load_traffic`` writes conversations into the record schema, scored by the critic.
"""

from devkit.synth.generator import Conversation, SynthConfig, Turn, generate_traffic, iter_traffic

__all__ = ["Conversation", "SynthConfig", "Turn", "generate_traffic", "iter_traffic"]
