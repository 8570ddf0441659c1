"""Evaluation's speed-ups keep its results: answers in the holdout's order, one shared embedder, threads restored."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from components.evaluate import evaluate
from components.evaluate.evaluate import generate_answers, similarities
from hibachi.torch_threads import cpu_threads


class EchoEngine:
    """Answers each prompt with its question; records the prompt lengths of every batch it is given."""

    batches: list[list[int]] = []

    @classmethod
    def load(cls, base_model, adapters=None):
        cls.batches = []
        return cls()

    def fit_messages(self, messages, max_new_tokens):
        return messages

    def prompt_ids(self, messages):
        return list(range(len(messages[-1]["content"])))

    def generate_batch(self, requests):
        self.batches.append([len(r.prompt_ids) for r in requests])
        return [SimpleNamespace(text=f"re: {r.messages[-1]['content']}") for r in requests]


def test_answers_come_back_in_the_prompts_order_though_generated_shortest_first(monkeypatch):
    import serving.engine

    monkeypatch.setattr(serving.engine, "ChatEngine", EchoEngine)
    monkeypatch.setattr(evaluate, "BATCH", 4)
    questions = ["x" * n for n in (9, 2, 7, 1, 5, 3, 8, 6, 4, 10)]
    answers = generate_answers("base", None, [[{"role": "user", "content": q}] for q in questions], 16)
    assert answers == [f"re: {q}" for q in questions]
    assert EchoEngine.batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_similarities_are_the_cosines_of_the_shared_cached_embedder():
    from hibachi.monitoring import drift

    assert evaluate.load_embedder() is drift.embed  # one MiniLM and one cache per process (tests/monitoring)

    def unit(texts):
        vectors = np.array([[len(t), t.count("a") + 1.0] for t in texts], dtype=float).reshape(len(texts), 2)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    sims = similarities(unit, ["bananas", "rice"], ["a banana", "rice"])
    expected = [float(unit(["bananas"])[0] @ unit(["a banana"])[0]), 1.0]
    assert sims == pytest.approx(expected)


def test_cpu_threads_sets_torch_threads_for_the_block_and_restores_them():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("on CUDA the threads are left alone")
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(0):
        assert torch.get_num_threads() == before
