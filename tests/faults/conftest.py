"""The fault suite reuses the gateway's test harness (real servers on loopback)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))

from gateway_harness import make_settings, sim, start_gateway  # noqa: E402, F401 - pytest fixtures
