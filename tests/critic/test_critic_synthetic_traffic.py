"""Over the synthetic traffic: every correct teacher answer passes and every hallucinated one is caught.

The generator (devkit.synth) writes its answers from the knowledge base with its own phrasing, and
labels the hallucinations it injects, so this is an independent check of the critic's rules.
"""

from __future__ import annotations

from devkit import synth


def test_correct_answers_pass_and_hallucinations_fail(kb, critic):
    traffic = synth.generate_traffic(synth.SynthConfig(conversations=120, seed=3, hallucination_rate=0.5), kb)
    wrongly_failed, missed, kinds = [], [], set()
    for conversation in traffic:
        for turn in conversation.turns:
            for answer in turn.candidates:
                verdict = critic.evaluate(turn.user, answer.text)
                if answer.hallucination is None and not verdict.passed:
                    wrongly_failed.append((turn.user, answer.text, [v.fact for v in verdict.violations]))
                elif answer.hallucination is not None:
                    kinds.add(answer.hallucination)
                    if verdict.passed:
                        missed.append((answer.hallucination, answer.text))
    assert not wrongly_failed, wrongly_failed[:3]
    assert not missed, missed[:3]
    assert len(kinds) >= 10  # the traffic covered many kinds of hallucination
