"""orjson where it can, json where it must: the same JSON either way, and nothing refused."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hibachi import fastjson


@pytest.mark.parametrize("value", [{"a": "é ✓", "n": [1, 2.5, None, True]}, {"lone": "x\ud800y"}, {7: "int key"},
                                   {"when": datetime(2026, 12, 3, 14, 0)}])
def test_dumps_writes_what_json_reads_back(value):
    data = fastjson.dumps(value)
    assert fastjson.loads(data) == json.loads(data)
    expected = json.loads(json.dumps(value, default=str))
    if "when" in value:  # orjson writes a datetime in ISO form, json's str() with a space; both parse back
        assert datetime.fromisoformat(fastjson.loads(data)["when"]) == value["when"]
    else:
        assert fastjson.loads(data) == expected


def test_loads_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        fastjson.loads(b'{"torn": "li')


@pytest.mark.parametrize("text", ['{"n": 123456789012345678901234}', b'{"n": -9223372036854775809}'])
def test_loads_reads_integers_past_64_bits_exactly(text):
    assert fastjson.loads(text) == json.loads(text)
    assert isinstance(fastjson.loads(text)["n"], int)
