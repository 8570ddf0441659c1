"""JSON on hot paths (the gateway's journal and replies, the simulators): orjson, a tenth of json's CPU, and
json for what orjson refuses.

orjson refuses a lone UTF-16 surrogate, which a client or a provider can send as a ``\\ud800`` escape; json
writes it escaped, so such a record or reply is never refused, and reads it back.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact JSON (objects with non-string keys and anything else json's ``default=str`` would take)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=str).encode()


def loads(data: bytes) -> Any:
    """Raises ValueError (both libraries' decode errors are ValueErrors) for what is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
