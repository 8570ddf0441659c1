"""Reading a chat-completions body (the SDK hands it over decoded): every field checked, nothing assumed."""

from __future__ import annotations

import pytest

from gateway.providers import ProviderError
from gateway.providers.openai_chat import completion_from


def test_reads_answer_model_and_usage():
    body = {"model": "gpt-4o-2024", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
    completion = completion_from(body, "gpt-4o")
    assert (completion.text, completion.model, completion.input_tokens, completion.output_tokens) == \
        ("Hi", "gpt-4o-2024", 12, 3)


def test_missing_or_odd_optional_fields_fall_back():
    completion = completion_from({"choices": [{"message": {"content": None}}], "usage": {"prompt_tokens": -1,
                                                                                         "completion_tokens": "3"}},
                                 "gpt-4o")
    assert (completion.text, completion.model, completion.input_tokens, completion.output_tokens) == \
        ("", "gpt-4o", 0, 0)  # an empty answer: Provider.complete refuses it as bad_response


@pytest.mark.parametrize("body", ["<html>bad gateway</html>", None, [], {}, {"choices": []}, {"choices": {}},
                                  {"choices": [None]}, {"choices": [{"message": "Hi"}]},
                                  {"choices": [{"message": {"content": 42}}]}])
def test_a_body_without_an_answer_is_a_bad_response(body):
    with pytest.raises(ProviderError) as raised:
        completion_from(body, "gpt-4o")
    assert raised.value.kind == "bad_response"
