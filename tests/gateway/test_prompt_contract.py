"""Parity: turns the gateway served are replayed through the training renderer and the serving renderer.

The gateway builds the student's request (``ChatService.ask_student``) and stores the turn
(``ChatService.signal_record``, its grounding included); export builds the training row from what was stored.
Rendered by the model's chat template, the request the student received and the row it is trained on must be the
same tokens up to the answer.
"""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

from components.export.export import row_messages
from devkit.synth.generator import SynthConfig, generate_traffic
from gateway.ensemble import CandidateResult
from gateway.providers.openai_chat import OpenAIChatProvider
from gateway.service import ChatService, Served, Turn
from gateway.storage import GROUNDING_FIELDS
from hibachi import prompt
from hibachi.retrieval import Retriever
from hibachi.settings import Settings


class RecordingEnsemble:
    """Stands in for the ensemble: records what the student is sent and answers with a fixed text."""

    def __init__(self) -> None:
        self.sent: list[list[dict]] = []
        self.students = [SimpleNamespace(name="student", config=SimpleNamespace(model="adapter-v1"),
                                         breaker=SimpleNamespace(available=lambda: True))]

    async def call(self, provider, messages, system, question, timeout_s=None):
        # The OpenAI-compatible provider merges `system` into the messages exactly like this.
        self.sent.append(OpenAIChatProvider._messages(messages, system))
        return CandidateResult(provider="student", model="adapter-v1", role="student", response="ok",
                               critic_passed=True)


def test_stored_gateway_turns_render_token_identical_for_training_and_serving(kb, tiny_base, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    ensemble = RecordingEnsemble()
    retriever = Retriever(kb)
    service = ChatService(Settings(data_dir=tmp_path), ensemble, capture=None, metrics=None, kb=kb,
                          retriever=retriever, policy=SimpleNamespace(policy="split"))
    turns, rng = [], random.Random(3)
    for conversation in generate_traffic(SynthConfig(conversations=25, seed=11), kb):
        messages: list[dict] = []
        if rng.random() < 0.3:  # some clients send their own system message; it is not the student's
            messages.append({"role": "system", "content": "Be brief."})
        for synth_turn in conversation.turns:
            messages.append({"role": "user", "content": synth_turn.user})
            turn = Turn(request_id=f"r{len(turns)}", session_id=conversation.id, api_key_id=None,
                        messages=list(messages))
            system = asyncio.run(service.system_prompt(turn.question))
            asyncio.run(service.ask_student(turn, system))
            served = Served(text=synth_turn.answer, served_by="teacher", provider="openai", model="t",
                            policy="split", candidates=[])
            stored = service.signal_record(turn, served)  # what the journal writes to the database
            columns = {"conversation": stored["conversation"], "prompt": stored["prompt"],
                       "chosen_response": stored["chosen_response"]}
            # Export takes the grounding stored with the turn (the facts have not changed): the row is the one a
            # rebuild gives, and the system turn is the student's own (the client's system text comes after it).
            row = row_messages({**columns, **{k: stored[k] for k in GROUNDING_FIELDS}}, retriever)
            assert row == row_messages(columns, retriever)
            assert stored["grounding"] == system and ensemble.sent[-1][0]["content"].startswith(system)
            turns.append((stored["request_id"], ensemble.sent[-1], row))
            messages.append({"role": "assistant", "content": synth_turn.answer})
    result = prompt.parity(tokenizer, turns)
    assert result.total == len(turns) > 50
    assert result.ok, result.mismatches[:3]
    assert any(prompt.QUOTE_HEADER in sent[0]["content"] for _, sent, _ in turns)
    assert all(sent[0]["role"] == "system" and "Be brief." not in sent[0]["content"] for _, sent, _ in turns)
