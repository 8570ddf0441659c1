"""KFP component: quality gates, PII scrubbing, dedup and the train/holdout split of an export and its pairs."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def filter_op(exported: Input[Dataset], pairs: Input[Dataset], train: Output[Dataset], holdout: Output[Dataset],
              pairs_train: Output[Dataset], pairs_holdout: Output[Dataset], summary: Output[Artifact],
              summary_html: Output[HTML], metrics: Output[Metrics]
              ) -> NamedTuple("FilterOutputs", [("train_rows", int), ("holdout_rows", int), ("dataset_sha256", str),
                                                ("train_pairs", int)]):
    import json
    from collections import namedtuple

    from components.filter.filter import filter_dataset
    from hibachi.settings import get_settings

    result = filter_dataset(exported.path, train.path, holdout.path, summary.path, get_settings().filter,
                            html_path=summary_html.path, pairs_path=pairs.path, pairs_train_path=pairs_train.path,
                            pairs_holdout_path=pairs_holdout.path)
    data = json.loads(open(summary.path, encoding="utf-8").read())
    for rule, dropped in data["dropped"].items():
        metrics.log_metric(f"dropped_{rule}", dropped)
    for name in ("input_rows", "kept_rows", "train_rows", "holdout_rows", "pii_scrubbed_rows", "corrected_rows"):
        metrics.log_metric(name, data[name])
    for name in ("input_pairs", "train_pairs", "holdout_pairs"):
        metrics.log_metric(name, data["pairs"][name])
    for source, sides in data["pairs"]["by_source"].items():
        metrics.log_metric(f"pairs_{source}", sum(sides.values()))
    for artifact in (train, holdout):
        artifact.metadata["sha256"] = result.dataset_sha256
    Outputs = namedtuple("FilterOutputs", ["train_rows", "holdout_rows", "dataset_sha256", "train_pairs"])
    return Outputs(result.train_rows, result.holdout_rows, result.dataset_sha256, data["pairs"]["train_pairs"])
