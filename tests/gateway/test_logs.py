"""Structured logs: one JSON object a line, the request id attached, customer text and keys never written."""

from __future__ import annotations

import json
import logging

from gateway_harness import chat, provider

from gateway.logs import JsonFormatter, request_id_var


def test_formatter_adds_the_request_id_and_redacts_sensitive_fields():
    token = request_id_var.set("req-1")
    try:
        record = logging.makeLogRecord({"name": "gateway.x", "levelname": "INFO", "msg": "hello",
                                        "prompt": "my card is 4111", "api_key": "sk-123", "served_by": "teacher"})
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert entry["request_id"] == "req-1" and entry["served_by"] == "teacher"
    assert entry["prompt"] == "[redacted]" and entry["api_key"] == "[redacted]"


def test_request_logs_hold_the_request_id_but_no_key_or_message(sim, make_settings, start_gateway, capfd):
    gateway = start_gateway(make_settings([provider(sim, "openai")], log_level="INFO"))
    response = chat(gateway, "my secret question about wagyu")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    answered = [e for e in lines if e["msg"] == "answered"]
    assert answered and answered[0]["request_id"] == response.headers["x-request-id"]
    text = json.dumps(lines)
    assert "dev-customer-key" not in text and "secret question" not in text
