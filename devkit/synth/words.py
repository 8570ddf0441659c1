"""Small text helpers shared by the answerer, the hallucinations and the conversation generator."""

from __future__ import annotations

from typing import Any


def money(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def message_text(message: dict[str, Any]) -> str:
    """A message's text whether its content is a string or a list of content blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""
