"""Evaluation's speed-ups keep its results: answers in the holdout's order, embeddings reused, threads restored."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from components.evaluate import evaluate
from components.evaluate.evaluate import CachedEmbedder, generate_answers, similarities
from components.threads import cpu_threads


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


class CountingModel:
    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts, normalize_embeddings=False, convert_to_numpy=True):
        self.encoded += list(texts)
        vectors = np.array([[len(t), t.count("a") + 1.0] for t in texts], dtype=float).reshape(len(texts), 2)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if normalize_embeddings else vectors


def test_the_cached_embedder_encodes_each_text_once_and_gives_the_models_vectors():
    model = CountingModel()
    cached = CachedEmbedder(model)
    references = ["a banana", "rice", "a banana"]
    first = similarities(cached, ["bananas", "rice", "nope"], references)
    second = similarities(cached, ["rice", "bananas", "nope"], references)
    assert sorted(model.encoded) == sorted({"a banana", "rice", "bananas", "nope"})
    assert first == similarities(CountingModel(), ["bananas", "rice", "nope"], references)
    assert second == similarities(CountingModel(), ["rice", "bananas", "nope"], references)
    # Other options are another encoding: not served from the cache.
    raw = cached.encode(["rice"], normalize_embeddings=False)
    assert raw.tolist() == [[4.0, 1.0]] and model.encoded.count("rice") == 2


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
