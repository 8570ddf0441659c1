"""``hibachi critic score FILE.jsonl [--out PATH]``: one verdict line per {"prompt", "response"} line.

Every line is validated before anything is written, and ``--out`` is written to a temporary file
that replaces the target only when complete, so bad input never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hibachi.errors import UserError
from hibachi.jsonl import json_objects

app = typer.Typer(help="The critic: check answers against the knowledge base.", no_args_is_help=True)

FIELDS = ("prompt", "response")


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """The (prompt, response) pairs of a JSONL file; the first bad line raises UserError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    pairs = []
    for number, record in json_objects(text.splitlines(), lambda n: f"{path}:{n}",
                                       expected=f"a JSON object with {' and '.join(FIELDS)}"):
        for name in FIELDS:
            if name not in record:
                raise UserError(f"{path}:{number}: missing field '{name}'")
            if not isinstance(record[name], str):
                raise UserError(f"{path}:{number}: field '{name}' must be a string, got {type(record[name]).__name__}")
        pairs.append((record["prompt"], record["response"]))
    return pairs


def write_atomically(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command("score")
def score(
    file: Annotated[Path, typer.Argument(help="JSONL with one {\"prompt\", \"response\"} object per line.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write verdicts here instead of stdout.")] = None,
) -> None:
    """Judge every response; print one verdict line each: {"passed", "violations", "quality_score"}."""
    from hibachi.critic import get_critic

    pairs = read_pairs(file)
    critic = get_critic()
    lines = [json.dumps(critic.evaluate(p, r).model_dump(mode="json")) + "\n" for p, r in pairs]
    if out is None:
        sys.stdout.writelines(lines)
    else:
        write_atomically(out, lines)
