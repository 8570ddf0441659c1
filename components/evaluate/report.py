"""The evaluation's HTML report: an Evidently report over the scored holdout answers.

Only offline descriptors are used (length, word count, a price regexp): the NLTK-based ones need
downloads. The gate decision heads the page; with no scored rows ("not enough data") the page
holds the decision alone.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

PRICE = r"\$\d+"


def _decision_banner(report: dict) -> str:
    gate = report["gate"]
    colour = "#1a7f37" if gate["passed"] else "#b42318"
    return (f"<div style='font-family:sans-serif;padding:12px;border-left:6px solid {colour}'>"
            f"<h2>Gate: {'passed' if gate['passed'] else 'refused'} ({html.escape(report['version_id'])})</h2>"
            f"<p>{html.escape(gate['reason'])}</p><pre>{html.escape(json.dumps(report['candidate'], indent=1))}</pre>"
            f"<p>production ({html.escape(str(report['production_version']))}): "
            f"<pre>{html.escape(json.dumps(report['production'], indent=1))}</pre></p></div>")


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
