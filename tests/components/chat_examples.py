"""Chat-messages examples from the knowledge base for the train and evaluate tests."""

from __future__ import annotations

import json


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
