"""PII scrubber: recall per kind of secret and business facts kept on the generated labelled set, and speed.

The set is ``devkit.evalsets.pii_cases.generate`` (seeded; names of many origins with and without cues and in
lower case, phones incl. ten bare digits, SSNs with spaces, emails, addresses, cards, beside cities, dates,
times, prices and dishes). Each recall row's baseline is the same figure for the regex pass alone (no name
detector, no phone parser: what the scrubber was before the gazetteer), measured in the same run. Targets are
the issue's: no secret leaked, no fact lost. A last row counts names the scrubber invents in the synthetic
teachers' answers (business text with no person in it).

    python -m benchmarks.bench_pii [--quick]
"""

from __future__ import annotations

import argparse
import re
import time

TARGET_TEXTS_PER_SECOND = 1000.0
_NAME_CUE = re.compile(r"(?P<cue>\b(?:[Mm]y name is|I'm|I am|[Tt]his is|[Tt]hanks,|[Rr]egards,|[Cc]all me)\s+)"
                       r"(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})")


class _RegexOnly:
    """The scrubber's patterns without the name finder and the phone parser: the baseline."""

    def __init__(self) -> None:
        from components.filter import pii

        self.pii = pii
        self.keep = pii.keep_words()

    def scrub(self, text: str) -> str:
        pii = self.pii
        text = pii.EMAIL.sub("[EMAIL]", text)
        text = re.sub(r"\b\d{3}-\d{2}-\d{4}\b", "[SSN]", text)
        text = pii.CARD.sub(lambda m: "[CARD]" if pii._luhn(re.sub(r"\D", "", m.group(0))) else m.group(0), text)
        text = pii.PHONE.sub("[PHONE]", text)
        text = pii.ADDRESS.sub("[ADDRESS]", text)
        return _NAME_CUE.sub(lambda m: m.group("cue") + "[NAME]" if m.group("name").split()[0].lower()
                             not in self.keep else m.group(0), text)


def _answers(conversations: int) -> list[str]:
    from devkit.synth import SynthConfig, generate_traffic
    from hibachi.knowledge import load_knowledge_base

    traffic = generate_traffic(SynthConfig(conversations=conversations, seed=7, hallucination_rate=0.25,
                                           teachers=2), load_knowledge_base())
    return sorted({c.text for conv in traffic for turn in conv.turns for c in turn.candidates})


def _row(figure: str, value: float, unit: str, baseline: float | None, target: str, meets: bool) -> dict:
    ratio = round(value / baseline, 4) if baseline else None
    return {"benchmark": "pii", "figure": figure, "value": round(value, 4), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 4), "ratio": ratio, "target": target,
            "meets": meets}


def run(quick: bool = False) -> list[dict]:
    from components.filter.pii import Scrubber
    from devkit.evalsets.pii_cases import generate, score

    cases = generate(300 if quick else 1500, seed=13)
    scrubber = Scrubber()
    scrubber.scrub("warm up: load the gazetteer once")
    baseline = _RegexOnly()
    started = time.process_time()
    result = score(cases, lambda text: scrubber.scrub(text).text)
    seconds = time.process_time() - started
    started = time.process_time()
    before = score(cases, baseline.scrub)
    base_seconds = time.process_time() - started
    rows = [_row(f"texts scrubbed per second, one core ({len(cases)} generated texts)", len(cases) / seconds,
                 "texts/s", len(cases) / base_seconds, f">= {TARGET_TEXTS_PER_SECOND:,.0f} texts/s",
                 len(cases) / seconds >= TARGET_TEXTS_PER_SECOND)]
    for kind in sorted(result.total):
        leaked = result.total[kind] - result.found[kind]
        rows.append(_row(f"recall {kind} ({result.found[kind]}/{result.total[kind]} removed, {leaked} leaked)",
                         result.recall(kind), "fraction", before.recall(kind), "1.0 (0 leaked)", leaked == 0))
    lost = result.facts_total - result.facts_kept
    rows.append(_row(f"business facts kept ({result.facts_kept}/{result.facts_total}, {lost} lost)",
                     result.facts_kept / result.facts_total, "fraction",
                     before.facts_kept / before.facts_total, "1.0 (0 lost)", lost == 0))
    answers = _answers(60 if quick else 300)
    invented = sum(scrubber.scrub(a).counts.get("NAME", 0) for a in answers)
    rows.append(_row(f"names invented in {len(answers)} synthetic teacher answers (no person in them)",
                     invented, "names", None, "0", invented == 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(f"{row['figure']}: {row['value']} {row['unit']} (baseline {row['baseline']}; target {row['target']}: "
              f"{'met' if row['meets'] else 'NOT met'})")


if __name__ == "__main__":
    main()
