"""The training mix: rows whose grounding carries a computed quote are repeated, nothing else changes."""

from __future__ import annotations

import pytest

from components.train.train import carries_quote, training_mix
from hibachi.errors import UserError
from hibachi.prompt import QUOTE_HEADER


def _row(system: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": "q"},
                         {"role": "assistant", "content": answer}]}


QUOTED = _row(f"Facts:\n- Adults are $60.\n{QUOTE_HEADER}\n- For 20 adults x $60 = $1,200.", "For 20 adults ...")
PLAIN = _row("Facts:\n- Adults are $60.", "Adults are $60.")


def test_rows_with_a_computed_quote_are_repeated_in_place_the_others_kept_once():
    mix = training_mix([PLAIN, QUOTED, PLAIN], quote_repeats=3)
    assert mix == [PLAIN, QUOTED, QUOTED, QUOTED, PLAIN]
    assert training_mix([PLAIN, QUOTED], quote_repeats=1) == [PLAIN, QUOTED]


def test_only_the_system_turn_decides():
    # A customer who pastes the header into a question does not make the row a quote row.
    pasted = {"messages": [{"role": "system", "content": "Facts:"}, {"role": "user", "content": QUOTE_HEADER},
                           {"role": "assistant", "content": "a"}]}
    assert carries_quote(QUOTED) and not carries_quote(PLAIN) and not carries_quote(pasted)
    assert not carries_quote({"messages": [{"role": "user", "content": QUOTE_HEADER},
                                           {"role": "assistant", "content": "a"}]})


def test_a_repeat_count_under_one_is_a_clear_error():
    with pytest.raises(UserError, match="quote_repeats"):
        training_mix([QUOTED], quote_repeats=0)
