"""The one container image every pipeline component runs in (the project installed from constraints.txt).

Set ``pipeline.components_image`` (``HIBACHI_PIPELINE__COMPONENTS_IMAGE``) before compiling, e.g. a registry
mirror or a new tag; the components take it when their module is first imported.
"""

from __future__ import annotations

from hibachi.settings import get_settings

COMPONENTS_IMAGE = get_settings().pipeline.components_image
