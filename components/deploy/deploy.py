"""The deploy step: a version whose gate passed enters the rollout (shadow, or canary at a percent).

The rollout itself belongs to ``serving.rollout.deploy`` (which records the DeploymentState and
applies it to the cluster or the overlay files). A refused gate deploys nothing and the result
says why; a version already in the rollout is not deployed twice, so a retried or re-run step is
harmless. A cluster error (``serving.cluster.ClusterError``: not found, forbidden, unreachable, a split
changed outside hibachi, ...) fails the step with its one-line message and records nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.queries import latest_deployment
from hibachi.records import ModelVersion
from hibachi.settings import Settings, get_settings
from serving.cluster import ClusterError


@dataclass(frozen=True)
class DeployResult:
    version_id: str
    deployed: bool
    reason: str
    stage: str | None = None
    canary_percent: int | None = None
    state_id: int | None = None
    command: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _apply(session: Session, version: ModelVersion, settings: Settings, actor: str, reason: str):
    from serving import rollout

    percent = settings.rollout.entry_percent if settings.rollout.entry == "canary" else 0
    return rollout.deploy(session, settings.rollout.isvc_name, version.id, version.adapter_uri,
                          entry=settings.rollout.entry, percent=percent, actor=actor, reason=reason,
                          settings=settings)


def deploy_version(engine: Engine, version_id: str, out_dir: Path | str | None = None, *,
                   settings: Settings | None = None, actor: str = "training-pipeline") -> DeployResult:
    settings = settings or get_settings()
    isvc = settings.rollout.isvc_name
    with Session(engine) as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise UserError(f"model version {version_id!r} is not recorded (evaluate stores it)")
        current = latest_deployment(session, isvc)
        if not version.gate_passed:
            result = DeployResult(version_id, False, f"not deployed: gate {version.gate_reason or 'not passed'}")
        elif current is not None and version_id in (current.canary_version, current.stable_version):
            result = DeployResult(version_id, False, f"already deployed: {isvc} has {version_id} as "
                                  f"{'canary' if current.canary_version == version_id else 'stable'} "
                                  f"(state {current.id})", current.stage, current.canary_percent, current.id)
        else:
            try:
                applied = _apply(session, version, settings, actor, f"gate passed: {version.gate_reason}")
            except ClusterError:  # the cluster refused or is unreachable: the step fails, nothing recorded
                raise
            except UserError as exc:  # e.g. another canary still in progress: recorded, not retried
                result = DeployResult(version_id, False, f"not deployed: {exc}")
            else:
                state = applied.state
                result = DeployResult(version_id, True, f"deployed as {state.stage}", state.stage,
                                      state.canary_percent, state.id, applied.kubectl)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "deploy.json").write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    return result
