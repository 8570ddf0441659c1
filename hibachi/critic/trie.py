"""A regex alternation of many literal words, factored by common prefixes so matching stays fast.

Python's regex engine tries an alternation's branches one by one at every position; a plain
"a|b|c..." over a hundred aliases dominated the critic's time. The trie form tries one branch per
first letter.
"""

from __future__ import annotations

import re


def trie_pattern(words: list[str] | set[str] | tuple[str, ...]) -> str:
    """A non-capturing group matching exactly the given words (longest match preferred)."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True
    return _render(trie) if trie else "(?!)"


def _render(node: dict) -> str:
    ends = "" in node
    branches = [re.escape(char) + _render(child) for char, child in sorted(node.items()) if char != ""]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        return "(?:" + body + ")?"
    return body
