"""KFP component: export the signals of a window (default: since the last watermark) to JSONL, with their
preference pairs, leaving out (and listing) answers that today's facts make wrong."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def export_op(dataset: Output[Dataset], pairs: Output[Dataset], stale: Output[Artifact], database_url: str = "",
              since: str = "", until: str = ""
              ) -> NamedTuple("ExportOutputs", [("rows", int), ("dataset_sha256", str), ("pairs", int),
                                                ("stale_rows", int)]):
    from collections import namedtuple

    from components.export.export import export_signals
    from hibachi.critic import get_critic
    from hibachi.settings import get_settings

    url = database_url or get_settings().database_url
    result = export_signals(url, dataset.path, since=since or None, until=until or None, pairs_path=pairs.path,
                            stale_path=stale.path, critic=get_critic())
    dataset.metadata.update({"rows": result.rows, "sha256": result.dataset_sha256,
                             "window_start": result.window_start or "", "window_end": result.window_end,
                             "knowledge_sha256": result.knowledge_sha256 or "",
                             "skipped_rows": result.skipped_rows, "skipped": list(result.skipped)})
    if result.skipped_rows:  # shown in the Kubeflow UI's log and the artifact's metadata, each with its signal id
        print(f"export: {result.skipped_rows} stored rows could not be read and were left out: "
              + "; ".join(f"{s['signal_id']} ({s['reason']})" for s in result.skipped[:5]))
    pairs.metadata.update({"pairs": result.pairs})
    stale.metadata.update({"stale_rows": result.stale_rows, "knowledge_sha256": result.knowledge_sha256 or ""})
    if result.stale_rows:
        print(f"export: {result.stale_rows} stored answers fail under today's facts and were left out "
              f"(listed in {stale.path})")
    Outputs = namedtuple("ExportOutputs", ["rows", "dataset_sha256", "pairs", "stale_rows"])
    return Outputs(result.rows, result.dataset_sha256, result.pairs, result.stale_rows)
