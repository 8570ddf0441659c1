"""The drift module embeds each prompt once per process: a second report over the same sample costs nothing."""

from __future__ import annotations

import numpy as np

from hibachi.monitoring import drift


class CountingEmbedder:
    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts, **_options):
        self.encoded += list(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    def get_sentence_embedding_dimension(self):
        return 2


def test_each_text_is_encoded_once_and_the_vectors_keep_the_callers_order(monkeypatch):
    model = CountingEmbedder()
    monkeypatch.setattr(drift, "_embedder", lambda: model)
    monkeypatch.setattr(drift, "_EMBEDDED", {})
    first = drift.embed(["a", "bbb", "a"])
    second = drift.embed(["bbb", "cc"])
    assert first[:, 0].tolist() == [1, 3, 1] and second[:, 0].tolist() == [3, 2]
    assert model.encoded == ["a", "bbb", "cc"]
    assert drift.embed([]).shape == (0, 2)


def test_a_full_cache_starts_over_and_still_answers_the_whole_call(monkeypatch):
    model = CountingEmbedder()
    monkeypatch.setattr(drift, "_embedder", lambda: model)
    monkeypatch.setattr(drift, "_EMBEDDED", {})
    monkeypatch.setattr(drift, "_EMBEDDED_MAX", 3)
    drift.embed(["a", "bb"])
    vectors = drift.embed(["a", "ccc", "dddd"])  # 2 cached + 2 new > 3: cleared, all three encoded again
    assert vectors[:, 0].tolist() == [1, 3, 4]
    assert model.encoded == ["a", "bb", "a", "ccc", "dddd"]
