"""Rollout of LoRA adapters on the InferenceService, with KServe's canary semantics and a recorded history.

A new adapter version enters as the newest revision with ``canaryTrafficPercent`` (0 = shadow);
``set_percent`` moves that share; ``promote`` removes the field so the new revision takes all traffic;
``rollback`` pins the previous stable adapter with ``canaryTrafficPercent: 0`` in one step. Every
change validates first, stages its ``DeploymentState`` row (who, why, previous), applies (a merge patch
through the kubernetes client when ``settings.rollout.use_cluster``, see serving.cluster; else the live manifest
files) and then commits the row. For the student's InferenceService (``settings.rollout.isvc_name``) the
gateway's traffic policy is recorded in the same transaction (``gateway_policy``), so every gateway replica
follows the rollout within ``gateway.policy_refresh_s``, whoever ran the step (an operator, the monitoring
pipeline). Staging the row first means a database that cannot take it (locked, down)
stops the change before anything is served differently, and a change recorded by someone else in the meantime
(two operators, or an operator and the analysis) is refused instead of forking the history. Invalid requests and
cluster errors raise ``UserError`` and record nothing.
"""

from __future__ import annotations

import getpass
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.monitoring.canary import Decision
from hibachi.queries import deployment_history, known_rollouts, latest_deployment, model_version_ids
from hibachi.records import DeploymentState, ModelVersion, TrafficPolicyChange
from hibachi.settings import Settings, get_settings
from serving.builders import build_inference_service, canary_patch


@dataclass
class RolloutResult:
    state: DeploymentState
    kubectl: str  # the equivalent command, for a person to read or run
    written: list[Path] = field(default_factory=list)  # manifest files changed (file mode)


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# The rollout's read side is the shared record queries, under the names the CLI uses.
status = latest_deployment
history = deployment_history


def manifests_root(settings: Settings) -> Path:
    """Where file-mode rollouts write: settings.serving.manifests_dir, else data_dir/manifests."""
    return settings.serving.manifests_dir or settings.data_dir / "manifests"


# An InferenceService name is a Kubernetes DNS-1035 label; it also names the live manifest folder.
ISVC_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_isvc_name(isvc: str) -> str:
    if not isinstance(isvc, str) or not ISVC_NAME.match(isvc):
        raise UserError(f"InferenceService name {isvc!r} is not valid: lowercase letters, digits and '-', starting "
                        "with a letter, at most 63 characters")
    return isvc


def _check_percent(percent: int) -> None:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise UserError(f"canary percent must be an integer within 0-100, got {percent!r}")


def _check_text(actor: str, reason: str) -> None:
    if not actor or not actor.strip():
        raise UserError("actor must not be empty (who made the change)")
    if not reason or not reason.strip():
        raise UserError("reason must not be empty (why the change was made)")


def _model_version(session: Session, version: str) -> ModelVersion:
    row = session.get(ModelVersion, version)
    if row is None:
        known = model_version_ids(session)[-10:]
        raise UserError(f"unknown adapter version {version!r}; registered versions: {', '.join(known) or 'none'}")
    return row


def _require(session: Session, isvc: str) -> DeploymentState:
    current = status(session, isvc)
    if current is None:
        known = known_rollouts(session)
        raise UserError(f"no rollout for InferenceService {isvc!r}; known: {', '.join(known) or 'none yet'} "
                        "(start one with `hibachi rollout deploy`)")
    return current


def _previous_stable(session: Session, current: DeploymentState) -> str | None:
    """The stable version before the current one, walking the recorded chain back."""
    row = current
    while row.previous_id is not None:
        row = session.get(DeploymentState, row.previous_id)
        if row.stable_version and row.stable_version != current.stable_version:
            return row.stable_version
    return None


def _last_change_check(session: Session, isvc: str, previous: DeploymentState | None, staged: DeploymentState) -> None:
    """Refuse when another change to ``isvc`` was recorded after ``previous`` was read (concurrent commands).

    Called with the new row flushed: SQLite then holds its write lock, and on PostgreSQL ``previous`` is locked
    (FOR UPDATE), so a second command waits here for the first to commit and then sees its row.
    """
    newest = session.scalar(select(func.max(DeploymentState.id)).where(
        DeploymentState.isvc_name == isvc, DeploymentState.id != staged.id))
    if newest != (previous.id if previous else None):
        other = session.get(DeploymentState, newest)
        raise UserError(f"{isvc} changed while this command ran (#{other.id} {other.action} by {other.actor}: "
                        f"{other.reason}); nothing was changed by this one: check `hibachi rollout status` and run "
                        "it again if it still applies")


def _apply(session: Session, settings: Settings, isvc: str, version: str, percent: int | None,
           api=None, previous: DeploymentState | None = None) -> tuple[str, list[Path]]:
    """Make the serving side match (adapter ``version`` at ``percent``); returns (kubectl, written files).

    In cluster mode the server must still serve what ``previous`` recorded (serving.cluster).
    """
    cfg = settings.rollout
    adapter_uri = _model_version(session, version).adapter_uri
    patch = canary_patch(isvc, cfg.namespace, cfg.base_storage_uri, adapter_uri, percent, cfg.variant, version)
    body = {"metadata": {"labels": patch["metadata"]["labels"]}, "spec": patch["spec"]}
    kubectl = (f"kubectl patch inferenceservice {isvc} -n {cfg.namespace} --type merge "
               f"-p {shlex.quote(json.dumps(body))}")
    if cfg.use_cluster:  # read, check against the record, patch; errors are one-line ClusterErrors
        from serving import cluster

        recorded = None if previous is None else cluster.recorded(previous)
        cluster.apply_split(api or cluster.make_api(), cfg.namespace, isvc, body, cluster.Split(version, percent),
                            recorded, previous.id if previous else None)
        return kubectl, []
    return kubectl, _write_live(settings, isvc, adapter_uri, version, percent)


def _write_live(settings: Settings, isvc: str, adapter_uri: str, version: str, percent: int | None) -> list[Path]:
    import yaml

    from serving.render_manifests import HEADER

    cfg = settings.rollout
    live = manifests_root(settings) / "live" / isvc
    live.mkdir(parents=True, exist_ok=True)
    manifest = build_inference_service(isvc, cfg.namespace, cfg.base_storage_uri, adapter_uri, percent,
                                       cfg.variant, version)
    files = {
        live / "inferenceservice.yaml": "# Written by `hibachi rollout`; apply with kubectl apply -k .\n"
        + yaml.safe_dump(manifest, sort_keys=False),
        live / "kustomization.yaml": HEADER.replace("render_manifests", "rollout")
        + yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                          "resources": ["inferenceservice.yaml"]}, sort_keys=False),
    }
    written = []
    for path, content in files.items():
        if not path.is_file() or path.read_text() != content:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(content)
            tmp.replace(path)  # atomic: a reader never sees half a manifest
            written.append(path)
    return written


def _stage(session: Session, previous: DeploymentState | None, isvc: str, *, stable: str | None,
           canary: str | None, percent: int | None, stage: str, action: str, actor: str,
           reason: str) -> DeploymentState:
    """The new state row, flushed but not committed (see the module docstring)."""
    if previous is not None:
        session.execute(select(DeploymentState.id).where(DeploymentState.id == previous.id).with_for_update())
    row = DeploymentState(isvc_name=isvc, stable_version=stable, canary_version=canary, canary_percent=percent,
                          stage=stage, action=action, actor=actor.strip(), reason=reason.strip(),
                          previous_id=previous.id if previous else None)
    session.add(row)
    session.flush()
    _last_change_check(session, isvc, previous, row)
    return row


def gateway_policy(state: DeploymentState) -> tuple[str, float]:
    """The gateway's traffic policy (policy, split percent) for a rollout state of the student's InferenceService.

    With a stable adapter the student answers every customer and KServe splits the student's calls between the
    stable and the canary revision (``canaryTrafficPercent``). Before the first promotion the teachers are the
    stable arm, which KServe cannot route to, so the gateway splits: shadow, then the canary's share of sessions.
    """
    if state.stable_version:
        return "split", 100.0
    if state.stage == "shadow":
        return "shadow", 0.0
    if state.stage == "canary":
        return "split", float(state.canary_percent or 0)
    return "teacher", 0.0  # a first adapter rolled back


def _follow_in_gateway(session: Session, state: DeploymentState) -> None:
    """Stage the gateway's traffic policy for ``state`` in the same transaction (every replica re-reads it)."""
    policy, percent = gateway_policy(state)
    newest = session.scalars(select(TrafficPolicyChange).order_by(TrafficPolicyChange.id.desc()).limit(1)).first()
    if newest is not None and (newest.policy, newest.split_percent) == (policy, percent):
        return
    session.add(TrafficPolicyChange(policy=policy, split_percent=percent,
                                    actor=f"{state.actor} (hibachi rollout #{state.id})"[:128],
                                    reason=f"rollout {state.action} of {state.isvc_name}: {state.reason}"))
    session.flush()


def _change(session: Session, settings: Settings | None, isvc: str, previous: DeploymentState | None,
            serve_version: str, serve_percent: int | None, api=None, **row) -> RolloutResult:
    settings = settings or get_settings()
    try:
        state = _stage(session, previous, isvc, **row)
        if settings.rollout.gateway_follows and isvc == settings.rollout.isvc_name:
            _follow_in_gateway(session, state)
        kubectl, written = _apply(session, settings, isvc, serve_version, serve_percent, api, previous)
    except BaseException:
        session.rollback()
        raise
    try:
        session.commit()
    except Exception as exc:  # applied, not recorded: say so; running the same command again records it
        session.rollback()
        raise UserError(f"{isvc} now serves {serve_version} at "
                        f"{'100' if serve_percent is None else serve_percent}% but the record could not be written "
                        f"({type(exc).__name__}); run the same command again to record it") from exc
    return RolloutResult(state, kubectl, written)


def deploy(session: Session, isvc: str, version: str, adapter_uri: str | None = None, entry: str = "shadow",
           percent: int = 0, actor: str | None = None, reason: str = "new adapter version",
           settings: Settings | None = None, api=None, override_gate: bool = False) -> RolloutResult:
    """A new adapter version enters as the newest revision: shadow (0%) or canary at ``percent``.

    A version the evaluation gate refused is refused here too, unless a person overrides the gate
    (``override_gate``); the recorded reason then names the gate's refusal next to theirs.
    """
    actor = actor or default_actor()
    _check_text(actor, reason)
    check_isvc_name(isvc)
    if entry not in ("shadow", "canary"):
        raise UserError(f"entry must be shadow or canary, got {entry!r}")
    _check_percent(percent)
    if entry == "shadow" and percent:
        raise UserError(f"a shadow entry serves no customers (0%), got --percent {percent}; use --entry canary")
    if entry == "canary" and percent == 0:
        raise UserError("a canary entry needs a percent above 0 (use entry shadow for 0%)")
    row = _model_version(session, version)
    if adapter_uri and adapter_uri != row.adapter_uri:
        raise UserError(f"version {version!r} is registered with adapter {row.adapter_uri}, not {adapter_uri}")
    if row.gate_passed is False and not override_gate:
        raise UserError(f"version {version!r} failed the evaluation gate ({row.gate_reason}); not deploying it")
    if row.gate_passed is False:
        reason = f"{reason.strip()} [gate overridden; it refused: {row.gate_reason}]"
    current = status(session, isvc)
    if current is not None and current.canary_version:
        raise UserError(f"{isvc} already has canary {current.canary_version} at {current.canary_percent}%; "
                        "promote or roll it back first")
    stable = current.stable_version if current else None
    if version == stable:
        raise UserError(f"version {version!r} is already the stable version of {isvc}")
    return _change(session, settings, isvc, current, version, percent, api, stable=stable, canary=version,
                   percent=percent, stage=entry, action="deploy", actor=actor, reason=reason)


def set_percent(session: Session, isvc: str, percent: int, actor: str | None = None,
                reason: str = "manual traffic change", settings: Settings | None = None, api=None) -> RolloutResult:
    actor = actor or default_actor()
    _check_text(actor, reason)
    _check_percent(percent)
    current = _require(session, isvc)
    if not current.canary_version:
        raise UserError(f"{isvc} has no canary in progress (stage {current.stage}); deploy a version first")
    return _change(session, settings, isvc, current, current.canary_version, percent, api,
                   stable=current.stable_version, canary=current.canary_version, percent=percent,
                   stage="canary" if percent > 0 else "shadow", action="set", actor=actor, reason=reason)


def promote(session: Session, isvc: str, actor: str | None = None, reason: str = "manual promotion",
            settings: Settings | None = None, api=None) -> RolloutResult:
    """The canary becomes the stable revision: ``canaryTrafficPercent`` is removed."""
    actor = actor or default_actor()
    _check_text(actor, reason)
    current = _require(session, isvc)
    if not current.canary_version:
        raise UserError(f"{isvc} has no canary to promote (stable {current.stable_version}, stage {current.stage})")
    return _change(session, settings, isvc, current, current.canary_version, None, api,
                   stable=current.canary_version, canary=None, percent=None, stage="stable", action="promote",
                   actor=actor, reason=reason)


def rollback(session: Session, isvc: str, actor: str | None = None, reason: str = "manual rollback",
             settings: Settings | None = None, api=None) -> RolloutResult:
    """Return to the previous stable adapter in one step.

    With a canary in progress: ``canaryTrafficPercent: 0`` sends every request to the previous
    revision (the stable adapter) and the spec names the stable adapter again. With none (undoing a
    promotion): the spec names the previous stable adapter and the field is removed, since KServe's
    "previous revision" is then the promoted one. A first adapter (no stable yet, the teacher is the
    baseline) is taken out of service: no stable, no canary, the only revision left at 0 %.
    """
    actor = actor or default_actor()
    _check_text(actor, reason)
    current = _require(session, isvc)
    percent: int | None = 0
    if current.action == "rollback":  # a retried rollback must not undo the one before it
        raise UserError(f"{isvc} is already rolled back (#{current.id} by {current.actor}: {current.reason}; stable "
                        f"{current.stable_version or '- (the teachers answer)'}); to return to an older version, "
                        "deploy it")
    if current.canary_version:
        target = current.stable_version
        if target is None:
            return _change(session, settings, isvc, current, current.canary_version, 0, api, stable=None,
                           canary=None, percent=0, stage="rolled_back", action="rollback", actor=actor,
                           reason=reason)
    else:
        target, percent = _previous_stable(session, current), None
        if target is None:
            raise UserError(f"{isvc} has no earlier stable version to roll back to (stable {current.stable_version})")
    return _change(session, settings, isvc, current, target, percent, api, stable=target, canary=None,
                   percent=percent, stage="rolled_back", action="rollback", actor=actor, reason=reason)


def apply_decision(session: Session, decision: Decision, actor: str, settings: Settings | None = None):
    """Perform a canary analysis decision, recorded like a manual step; a hold changes nothing.

    A rollback is the manual one: a first adapter (no stable one to return to) is taken out of service, so the
    teachers answer again and a later analysis has no canary to advance. Returns the new state and the
    equivalent kubectl command, or None for a hold.
    """
    reason = f"canary analysis: {decision.reason}"
    options = {"actor": actor, "reason": reason, "settings": settings}
    if decision.action == "rollback":
        return rollback(session, decision.isvc, **options)
    if decision.action == "promote":
        if decision.next_percent is not None and decision.next_percent < 100:
            return set_percent(session, decision.isvc, decision.next_percent, **options)
        return promote(session, decision.isvc, **options)
    return None
