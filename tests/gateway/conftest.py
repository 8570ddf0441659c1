"""Fixtures for the gateway tests (the helpers live in gateway_harness.py)."""

from gateway_harness import make_settings, sim, start_gateway  # noqa: F401 - pytest fixtures
