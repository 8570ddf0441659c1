"""``hibachi critic score``: verdict lines for good input; one-line errors naming file and line for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import hibachi_cli


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["hibachi", "critic", "score", *args])
    code = 0
    try:
        hibachi_cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


TEACHER = json.dumps({"prompt": "Do you serve wagyu beef?", "response": "Yes, wagyu at $80/person"})
STUDENT = json.dumps({"prompt": "Do you serve wagyu beef?", "response": "I don't see wagyu in the menu"})


def test_scores_each_line_to_stdout(tmp_path, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, str(write(tmp_path / "in.jsonl", TEACHER, "", STUDENT)))
    assert code == 0
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v["passed"] for v in verdicts] == [False, True]
    assert set(verdicts[0]) == {"passed", "violations", "quality_score"}
    assert verdicts[0]["violations"][0]["fact"] == "wagyu beef: not offered"
    assert 0.0 <= verdicts[0]["quality_score"] < verdicts[1]["quality_score"] == 1.0


def test_writes_to_out_and_accepts_an_empty_file(tmp_path, monkeypatch, capsys):
    out_path = tmp_path / "sub" / "verdicts.jsonl"
    code, out, _ = run(monkeypatch, capsys, str(write(tmp_path / "in.jsonl", TEACHER)), "--out", str(out_path))
    assert code == 0 and out == ""
    assert json.loads(out_path.read_text())["passed"] is False
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out, _ = run(monkeypatch, capsys, str(empty))
    assert code == 0 and out == ""


@pytest.mark.parametrize(("bad_line", "message"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"prompt": "hi"}), "missing field 'response'"),
    (json.dumps({"response": "hi"}), "missing field 'prompt'"),
    (json.dumps({"prompt": "hi", "response": 5}), "field 'response' must be a string"),
    (json.dumps(["prompt", "response"]), "expected a JSON object"),
])
def test_bad_line_gives_one_line_error_and_writes_nothing(tmp_path, monkeypatch, capsys, bad_line, message):
    source = write(tmp_path / "in.jsonl", TEACHER, bad_line, STUDENT)
    out_path = tmp_path / "verdicts.jsonl"
    code, out, err = run(monkeypatch, capsys, str(source), "--out", str(out_path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"{source}:2: {message}" in err
    assert not out_path.exists() and list(tmp_path.iterdir()) == [source]


def test_bad_line_leaves_an_existing_out_file_untouched(tmp_path, monkeypatch, capsys):
    out_path = tmp_path / "verdicts.jsonl"
    out_path.write_text("previous\n")
    code, _, _ = run(monkeypatch, capsys, str(write(tmp_path / "in.jsonl", "{oops")), "--out", str(out_path))
    assert code == 2 and out_path.read_text() == "previous\n"


def test_crlf_and_byte_order_mark_are_read(tmp_path, monkeypatch, capsys):
    source = tmp_path / "windows.jsonl"
    source.write_bytes(("\ufeff" + TEACHER + "\r\n" + STUDENT + "\r\n").encode("utf-8"))
    code, out, _ = run(monkeypatch, capsys, str(source))
    assert code == 0 and [json.loads(line)["passed"] for line in out.splitlines()] == [False, True]


def test_missing_file_is_a_user_error(tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, str(tmp_path / "absent.jsonl"))
    assert code == 2 and "absent.jsonl: file not found" in err
