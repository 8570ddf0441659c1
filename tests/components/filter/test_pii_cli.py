"""`hibachi pii scrub`: JSONL in, scrubbed JSONL out; a bad line is one error line with its number, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

HIBACHI = [sys.executable, "-c", "from hibachi_cli import main; main()"]


def _scrub(stdin: str):
    return subprocess.run([*HIBACHI, "pii", "scrub"], input=stdin, capture_output=True, text=True, timeout=120)


def test_scrub_lines():
    lines = [{"text": "my name is Maria Lopez, maria@example.com, lobster tail +$10", "id": 1},
             {"text": "Call (555) 123-4567 at 6:30 pm", "id": 2}]
    done = _scrub("".join(json.dumps(x) + "\n" for x in lines))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert out == [{"text": "my name is [NAME], [EMAIL], lobster tail +$10", "id": 1},
                   {"text": "Call [PHONE] at 6:30 pm", "id": 2}]


def test_bad_line_is_reported_with_its_number():
    done = _scrub('{"text": "ok"}\n{"text": 5}\n')
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: stdin line 2: missing string field 'text'"]
    bad = _scrub('{"text": "ok"}\n\n{oops\n')
    assert bad.returncode == 2 and "stdin line 3: not valid JSON" in bad.stderr and "Traceback" not in bad.stderr
