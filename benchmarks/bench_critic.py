"""Critic throughput on one core: responses judged per second over a realistic mix.

The mix is the synthetic traffic's teacher answers (every topic, a quarter of them hallucinated),
judged in one process. The baseline, measured in the same run over the same texts, is a trivial
pass (regex word tokenization of prompt and response), so the ratio says what the checks cost
beyond reading the text once. Target: at least 2,000 responses/second, so the critic can run
inline on every candidate.

Then the held-in figures on the labelled set ``devkit.evalsets.critic_cases`` (wrong and right answers per
class of mistake, generated from the knowledge base, seeded): per class, the share of wrong answers caught
(target >= 95%) and of right answers flagged (target <= 5%).

    python -m benchmarks.bench_critic [--quick]
"""

from __future__ import annotations

import argparse
import re
import time

TARGET_PER_SECOND = 2000.0
TARGET_RECALL = 0.95
TARGET_FALSE_ALARMS = 0.05
_TOKEN = re.compile(r"\w+")


def _mix(conversations: int) -> list[tuple[str, str]]:
    from devkit.synth import SynthConfig, generate_traffic
    from hibachi.knowledge import load_knowledge_base

    traffic = generate_traffic(SynthConfig(conversations=conversations, seed=7, hallucination_rate=0.25,
                                           teachers=2), load_knowledge_base())
    return [(turn.user, candidate.text) for conv in traffic for turn in conv.turns for candidate in turn.candidates]


def _rate(function, pairs: list[tuple[str, str]], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for prompt, response in pairs:
            function(prompt, response)
        best = min(best, time.process_time() - started)
    return len(pairs) / best


def _tokenize(prompt: str, response: str) -> int:
    return len(_TOKEN.findall(prompt.lower())) + len(_TOKEN.findall(response.lower()))


def run(quick: bool = False) -> list[dict]:
    from hibachi.critic import Critic
    from hibachi.knowledge import load_knowledge_base

    pairs = _mix(60 if quick else 400)
    critic = Critic(load_knowledge_base())
    repeats = 2 if quick else 5
    baseline = _rate(_tokenize, pairs, repeats)
    judged = _rate(critic.evaluate, pairs, repeats)
    failed = sum(not critic.evaluate(p, r).passed for p, r in pairs)
    return [{
        "benchmark": "critic",
        "figure": f"responses judged per second, one core ({len(pairs)} responses, {failed} failing)",
        "value": round(judged, 1),
        "unit": "responses/s",
        "baseline": round(baseline, 1),
        "ratio": round(judged / baseline, 4),
        "target": f">= {TARGET_PER_SECOND:,.0f} responses/s",
        "meets": judged >= TARGET_PER_SECOND,
    }, *_class_rows(critic, 10 if quick else 40)]


def _class_rows(critic, per_class: int) -> list[dict]:
    """Recall and false alarms per class on the generated labelled set (no baseline: the set defines them)."""
    from devkit.evalsets.critic_cases import CLASSES, generate, score
    from hibachi.knowledge import load_knowledge_base

    result = score(generate(load_knowledge_base(), per_class=per_class, seed=13),
                   lambda prompt, response: not critic.evaluate(prompt, response).passed)
    rows = []
    for klass in (*CLASSES, None):
        name = klass or "all classes"
        recall, alarms = result.recall(klass), result.false_alarm_rate(klass)
        caught = sum(result.caught.values()) if klass is None else result.caught[klass]
        wrong = sum(result.wrong.values()) if klass is None else result.wrong[klass]
        flagged = sum(result.flagged.values()) if klass is None else result.flagged[klass]
        right = sum(result.right.values()) if klass is None else result.right[klass]
        rows.append({"benchmark": "critic", "figure": f"recall, {name} ({caught}/{wrong} wrong answers caught)",
                     "value": round(recall, 4), "unit": "fraction", "baseline": None, "ratio": None,
                     "target": ">= 0.95", "meets": recall >= TARGET_RECALL})
        rows.append({"benchmark": "critic", "figure": f"false alarms, {name} ({flagged}/{right} right answers "
                     "flagged)", "value": round(alarms, 4), "unit": "fraction", "baseline": None, "ratio": None,
                     "target": "<= 0.05", "meets": alarms <= TARGET_FALSE_ALARMS})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        if row["baseline"] is None:
            print(f"{row['figure']}: {row['value']:.3f} (target {row['target']}: "
                  f"{'met' if row['meets'] else 'NOT met'})")
            continue
        print(f"{row['figure']}: {row['value']:,.0f} {row['unit']} (baseline tokenize-only {row['baseline']:,.0f}/s, "
              f"ratio {row['ratio']:.3f}; target {row['target']}: {'met' if row['meets'] else 'NOT met'})")


if __name__ == "__main__":
    main()
