"""The evaluation's HTML report: an Evidently report over the scored holdout answers.

Only offline descriptors are used (length, word count, a price regexp): the NLTK-based ones need
downloads. The gate decision heads the page, with the base model and the adapter side by side and the
prompt-parity line; with no scored rows ("not enough data") the page
holds the decision alone.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

PRICE = r"\$\d+"


METRICS = (("accuracy", "accuracy vs teacher"), ("hallucination_rate", "hallucination rate"),
           ("business_logic", "business-logic compliance"))


def _cell(scores: dict | None, key: str) -> str:
    if not scores:
        return "<td>-</td>"
    rate = scores[key]
    low, high = rate["ci95"]
    return f"<td>{rate['value']:.3f} ({rate['count']}/{rate['n']}, 95% CI {low:.3f}-{high:.3f})</td>"


def comparison_table(report: dict) -> str:
    """Base model, adapter (and production) side by side on the same holdout, with counts and confidence."""
    columns = [("base model", report.get("base")), ("adapter", report.get("candidate"))]
    if report.get("production"):
        columns.append((f"production ({report.get('production_version')})", report["production"]))
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in columns)
    body = "".join(f"<tr><th>{label}</th>{''.join(_cell(scores, key) for _, scores in columns)}</tr>"
                   for key, label in METRICS)
    sims = "".join(f"<td>{scores['mean_similarity']:.3f}</td>" if scores else "<td>-</td>" for _, scores in columns)
    return (f"<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th></th>{head}</tr>{body}"
            f"<tr><th>mean similarity</th>{sims}</tr></table>")


def parity_line(report: dict) -> str:
    parity = report.get("prompt_parity")
    return parity["line"] if parity else "prompt parity: not checked (no holdout scored)"


def _decision_banner(report: dict) -> str:
    gate = report["gate"]
    colour = "#1a7f37" if gate["passed"] else "#b42318"
    return (f"<div style='font-family:sans-serif;padding:12px;border-left:6px solid {colour}'>"
            f"<h2>Gate: {'passed' if gate['passed'] else 'refused'} ({html.escape(report['version_id'])})</h2>"
            f"<p>{html.escape(gate['reason'])}</p>{comparison_table(report)}"
            f"<p>lift from fine-tuning (adapter minus base): "
            f"{html.escape(json.dumps(report.get('lift')))}</p>"
            f"<p>{html.escape(parity_line(report))}</p></div>")


def write_html_report(rows: list[dict], report: dict, path: Path) -> Path:
    banner = _decision_banner(report)
    if not rows:
        path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation</title></head>"
                        f"<body>{banner}</body></html>")
        return path
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.descriptors import RegExp, TextLength, WordCount
    from evidently.presets import TextEvals

    frame = pd.DataFrame([{"prompt": r["prompt"], "answer": r["answer"], "reference": r["reference"],
                           "similarity": r["similarity"], "accurate": int(r["accurate"]),
                           "critic_passed": int(r["critic_passed"]), "hallucinated": int(r["hallucinated"])}
                          for r in rows])
    definition = DataDefinition(text_columns=["prompt", "answer", "reference"],
                                numerical_columns=["similarity", "accurate", "critic_passed", "hallucinated"])
    descriptors = [TextLength("answer", alias="answer length"), WordCount("answer", alias="answer words"),
                   RegExp("answer", reg_exp=PRICE, alias="answer states a price"),
                   TextLength("reference", alias="teacher length"),
                   RegExp("reference", reg_exp=PRICE, alias="teacher states a price")]
    dataset = Dataset.from_pandas(frame, data_definition=definition, descriptors=descriptors)
    snapshot = Report([TextEvals()]).run(dataset, None)
    snapshot.save_html(str(path))
    page = path.read_text()
    marker = "<body>"
    at = page.find(marker)
    path.write_text(page[:at + len(marker)] + banner + page[at + len(marker):] if at >= 0 else banner + page)
    return path
