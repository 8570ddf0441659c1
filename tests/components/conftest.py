from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    from hibachi.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def write_examples(path, kb, wrong: bool = False, repeat: int = 1):
    passages = kb.passages()
    rows = []
    for _ in range(repeat):
        for i, passage in enumerate(passages):
            answer = passages[(i + len(passages) // 2) % len(passages)].text if wrong else passage.text
            rows.append({"messages": [{"role": "user", "content": f"Tell me about {passage.topic}."},
                                      {"role": "assistant", "content": answer}],
                         "metadata": {"signal_id": f"t{len(rows)}", "topic": passage.topic}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
