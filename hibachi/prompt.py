"""The prompt contract: the one function that builds what the student model sees.

``student_messages(retriever, history, question)`` is a grounding system turn (the retrieved facts,
what is not offered, and a quote computed for the numbers in the question), the recent conversation
(customer and assistant turns only, the last ``HISTORY_MESSAGES``, starting with a customer turn) and
the question. The gateway sends exactly this to the local model, export writes training rows with
it, and evaluation generates with it, so the gate scores the model on what it is served.

The grounding is a function of the question, the knowledge base and this module's code (its version is
``PROMPT_VERSION``). The gateway stores the one it built with each signal (``TrainingSignal.grounding``), with the
knowledge base's sha256 and ``PROMPT_VERSION``: rebuilding it (retrieval and quote) for every exported row cost
more than reading the rows, and most questions are distinct. Export takes the stored grounding while both still
match the configured knowledge base and this version, which is then the text a rebuild gives, and rebuilds it
otherwise (older turns, changed facts, a new contract): training rows always carry the grounding serving builds
today. So a change to what ``grounding`` writes for a question bumps ``PROMPT_VERSION``; one that does not would
leave stored groundings in training rows that serving no longer sends, which ``parity`` reports (evaluation
renders the serving side from a fresh grounding, ``grounding differs``). ``grounding_sha256`` lets a caller compare.
``parity`` replays stored turns through the training renderer and the serving renderer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from hibachi.quote import named_items, quote_lines

# Bump when the shape of the student's messages or a question's grounding text changes (the stand-in base is keyed
# on it, and export uses a stored grounding only under the version it was built with).
PROMPT_VERSION = "4"
HISTORY_MESSAGES = 2  # the last exchange: enough for follow-ups ("and for kids?"); older turns cost context
QUOTE_HEADER = "Quote for this question (computed from the prices above):"
NAMED_HEADER = "The question names:"


class _Retriever(Protocol):
    kb: Any

    def system_prompt(self, question: str, k: int = 3) -> str: ...


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def grounding(retriever: _Retriever, question: str) -> str:
    """The system turn: role, rules, retrieved facts, the items the question names, and the computed quote."""
    text = retriever.system_prompt(question)
    kb = getattr(retriever, "kb", None)
    if kb is None:
        return text
    named = named_items(kb, question)
    if named:
        text += "\n" + NAMED_HEADER + "\n" + "\n".join(f"- {line}" for line in named)
    lines = quote_lines(kb, question)
    if lines:
        text += "\n" + QUOTE_HEADER + "\n" + "\n".join(f"- {line}" for line in lines)
    return text


@lru_cache(maxsize=8)
def facts_sha256(retriever: _Retriever) -> str | None:
    """The sha256 of the knowledge base a retriever grounds from (what a stored grounding is valid for), or None
    for a retriever without a real one. Once per retriever: the gateway and export both ask per turn."""
    from hibachi.knowledge import KnowledgeBase
    from hibachi.retraining import knowledge_sha256

    kb = getattr(retriever, "kb", None)
    return knowledge_sha256(kb) if isinstance(kb, KnowledgeBase) else None


def grounding_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def conversation_turns(history: Iterable[dict]) -> list[dict]:
    """The history the student sees: customer and assistant turns only, the most recent ones, starting with a customer.

    A client's own system messages go to the teachers, not to the student (its system turn is the grounding).
    """
    turns = [{"role": m.get("role"), "content": _text(m.get("content")).strip()}
             for m in history if m.get("role") in ("user", "assistant")]
    turns = turns[-HISTORY_MESSAGES:] if HISTORY_MESSAGES else []
    while turns and turns[0]["role"] != "user":
        turns = turns[1:]
    return turns


def assemble(system: str, history: Iterable[dict], question: str) -> list[dict]:
    """The student's messages from an already built grounding (the gateway caches the grounding per question)."""
    return [{"role": "system", "content": system}, *conversation_turns(history),
            {"role": "user", "content": _text(question).strip()}]


def student_messages(retriever: _Retriever, history: Iterable[dict], question: str) -> list[dict]:
    """What the student sees for ``question`` after ``history``: grounding, recent turns, the question."""
    return assemble(grounding(retriever, question), history, question)


def training_messages(retriever: _Retriever, history: Iterable[dict], question: str, answer: str) -> list[dict]:
    """A training row: the student's messages ending in the answer it should have given."""
    return [*student_messages(retriever, history, question), {"role": "assistant", "content": _text(answer).strip()}]


# --- renderers: what the tokenizer makes of a conversation on each side ---


def render_serving(tokenizer, messages: Sequence[dict]) -> list[int]:
    """The prompt ids the predictor generates from (``serving.engine.ChatEngine.prompt_ids``)."""
    return list(tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True,
                                              return_dict=True)["input_ids"])


def render_training(tokenizer, row: Sequence[dict]) -> list[int]:
    """The ids a training row puts before its answer: the whole row rendered, cut where the answer's tokens start.

    The trainer renders the whole row (answer included); the prefix before the assistant's generation
    mask is what the model conditions on while learning the answer.
    """
    encoded = tokenizer.apply_chat_template(list(row), tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
    ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
    start = max(i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1])) if any(mask) else len(ids)
    return ids[:start]


@dataclass
class ParityResult:
    identical: int = 0
    total: int = 0
    mismatches: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.identical == self.total

    def line(self, what: str = "turns") -> str:
        text = (f"prompt parity: {self.identical}/{self.total} {what} token-identical between training and "
                "serving renderers")
        if self.mismatches:
            reasons: dict[str, int] = {}
            for m in self.mismatches:
                reasons[m["reason"]] = reasons.get(m["reason"], 0) + 1
            text += " (" + "; ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"identical": self.identical, "total": self.total, "line": self.line(),
                "mismatches": self.mismatches[:20]}


_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")  # what the filter's PII scrubber puts in place of personal data


def _mismatch_reason(served: Sequence[dict], row: Sequence[dict]) -> str:
    if served and row and served[0] != row[0]:
        return "grounding differs"
    differing = [b for a, b in zip(served, row, strict=False) if a != b]
    if differing and all(_PLACEHOLDER.search(str(m.get("content", ""))) for m in differing):
        return "customer text scrubbed of PII by the filter"
    return "conversation differs"


def parity(tokenizer, turns: Iterable[tuple[str, list[dict], list[dict]]],
           serving_messages: Callable[[list[dict]], list[dict]] | None = None) -> ParityResult:
    """Compare, per stored turn ``(key, messages the gateway sent, training row)``, the two renderings' token ids.

    ``serving_messages`` maps what the gateway built to what reaches the model (e.g. a provider's
    message merging); identity when None.
    """
    result = ParityResult()
    for key, served, row in turns:
        served = serving_messages(served) if serving_messages else served
        a, b = render_serving(tokenizer, served), render_training(tokenizer, row)
        result.total += 1
        if a == b:
            result.identical += 1
            continue
        reason = _mismatch_reason(served, row)
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        result.mismatches.append({"key": key, "reason": reason, "first_different_token": first,
                                  "serving_tokens": len(a), "training_tokens": len(b)})
    return result
