"""JSON Lines input: one object per line, and every error says which file and line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from hibachi.errors import UserError


def json_objects(lines: Iterable[str], where: Callable[[int], str], *, expected: str = "a JSON object",
                 error: type[Exception] = UserError) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; a line that is not a JSON object raises ``error``.

    ``where(number)`` names the line in messages (``"data.jsonl:3"``, ``"stdin line 3"``).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where(number)}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise error(f"{where(number)}: expected {expected}")
        yield number, record
