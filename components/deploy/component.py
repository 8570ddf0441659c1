"""KFP component: enter the version into the rollout (runs only when the gate passed; idempotent)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def deploy_op(evaluation: Input[Artifact], record: Output[Artifact], database_url: str = "") -> str:
    """Deploys the version that ``evaluation`` (the evaluate step's artifact) scored."""
    import json
    import sys
    from pathlib import Path

    from components.deploy.deploy import deploy_version
    from hibachi.db import make_engine
    from hibachi.settings import get_settings
    from serving.cluster import ClusterError

    url = database_url or get_settings().database_url
    version_id = json.loads((Path(evaluation.path) / "evaluation.json").read_text())["version_id"]
    engine = make_engine(url)
    try:
        result = deploy_version(engine, version_id, Path(record.path))
    except ClusterError as exc:  # one line in the step's log and exit code 2; the step fails, nothing recorded
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    finally:
        engine.dispose()
    record.metadata.update(result.as_dict())
    return result.reason
