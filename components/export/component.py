"""KFP component: export the signals of a window (default: since the last watermark) to JSONL."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def export_op(dataset: Output[Dataset], database_url: str = "", since: str = "",
              until: str = "") -> NamedTuple("ExportOutputs", [("rows", int), ("dataset_sha256", str)]):
    from collections import namedtuple

    from components.export.export import export_signals
    from hibachi.settings import get_settings

    url = database_url or get_settings().database_url
    result = export_signals(url, dataset.path, since=since or None, until=until or None)
    dataset.metadata.update({"rows": result.rows, "sha256": result.dataset_sha256,
                             "window_start": result.window_start or "", "window_end": result.window_end})
    return namedtuple("ExportOutputs", ["rows", "dataset_sha256"])(result.rows, result.dataset_sha256)
