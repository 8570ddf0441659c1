"""The export's JSONL line writer: the bytes json.dumps wrote before, faster; odd values still written."""

from __future__ import annotations

import json

from components.export.export import _grounding, _json_line, row_messages


def _old_line(record) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def test_json_lines_are_the_bytes_json_dumps_wrote():
    record = {"messages": [{"role": "user", "content": "¿Precio? 20 adultos — “hibachi” 🍤\n\t\"x\"\\"}],
              "metadata": {"quality_score": 0.1 + 0.2, "rating": 5, "ok": True, "none": None, "big": 2**62,
                           "candidates": [{"latency_ms": 12.5, "violations": []}]}}
    assert _json_line(record) == _old_line(record)
    assert json.loads(_json_line(record)) == record
    # The one difference: exponents below 1e-4 lose json's leading zero (same value, still valid JSON).
    assert _json_line({"tiny": 1e-7}) == b'{"tiny":1e-7}\n' and json.loads(_json_line({"tiny": 1e-7})) == {"tiny": 1e-7}


def test_values_orjson_refuses_still_go_through_json():
    record = {"id": 2**70, "text": "a"}
    assert _json_line(record) == _old_line(record)


def test_row_messages_look_up_each_question_once():
    _grounding.cache_clear()
    row = {"conversation": [], "prompt": "How much for 20 adults?", "chosen_response": " Adults are $60. "}
    first = row_messages(row)
    again = row_messages({**row, "chosen_response": "Other."})
    assert first[0] == again[0] and first[0]["role"] == "system"
    assert first[-1] == {"role": "assistant", "content": "Adults are $60."}
    assert _grounding.cache_info().hits == 1 and _grounding.cache_info().misses == 1
