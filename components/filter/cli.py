"""`hibachi pii scrub`: JSONL lines with a ``text`` field on stdin, the same lines scrubbed on stdout."""

from __future__ import annotations

import json
import sys

import typer

from hibachi.errors import UserError
from hibachi.jsonl import json_objects

app = typer.Typer(help="PII: scrub names, emails, phones, addresses, card and SSN numbers.", no_args_is_help=True)


@app.command("scrub")
def scrub(field: str = typer.Option("text", help="The field of each JSON line to scrub.")) -> None:
    """Read JSONL on stdin and write it with the field scrubbed; a bad line stops with its number (exit 2)."""
    from components.filter.pii import Scrubber

    scrubber = Scrubber()
    for number, record in json_objects(sys.stdin, lambda n: f"stdin line {n}",
                                       expected=f"a JSON object with a string field {field!r}"):
        if not isinstance(record.get(field), str):
            raise UserError(f"stdin line {number}: missing string field {field!r}")
        result = scrubber.scrub(record[field])
        record[field] = result.text
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
