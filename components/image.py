"""The one container image every pipeline component runs in (the project installed from constraints.txt).

Override with ``HIBACHI_COMPONENTS_IMAGE`` at compile time (e.g. a registry mirror or a new tag).
"""

from __future__ import annotations

import os

DEFAULT_COMPONENTS_IMAGE = "ghcr.io/hibachi-distill/components:0.1.0"
COMPONENTS_IMAGE = os.environ.get("HIBACHI_COMPONENTS_IMAGE", DEFAULT_COMPONENTS_IMAGE)
