"""The rollout's kubernetes-client side: read and patch the InferenceService; every failure one line.

In cluster mode (``settings.rollout.use_cluster``) a rollout step changes the InferenceService so:

1. GET it. The operator creates it (``kubectl apply -k manifests/base``); a missing one is an error,
   never created here, so the deploy step's Role needs only ``get`` and ``patch``.
2. Compare what it serves (the adapter label and ``canaryTrafficPercent``) with the rollout record.
   A split changed outside hibachi (an operator's ``kubectl``) is refused and named, with the field
   manager that wrote it, unless the requested step is exactly what the server already serves
   (which is how an operator's change gets recorded).
3. Merge-patch it with its ``resourceVersion`` as a precondition, as field manager ``hibachi-rollout``.
   A conflict (someone wrote in between, e.g. KServe updating the status) re-reads and re-checks
   step 2, up to ``ATTEMPTS`` times; the answer must then serve the requested split.

Every failure is a ``ClusterError`` (a ``UserError``: one line with the cause and the next step, exit
code 2), raised before the rollout records anything.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from hibachi.errors import UserError

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
FIELD_MANAGER = "hibachi-rollout"
VERSION_LABEL = "hibachi.io/adapter-version"
ATTEMPTS = 3
TIMEOUT = (5, 30)  # seconds to connect, to read, per request
RBAC_FILE = "manifests/base/deployer-rbac.yaml"
LOCAL_MODE = "or set HIBACHI_ROLLOUT__USE_CLUSTER=false to write manifest files instead"


class ClusterError(UserError):
    """The cluster refused or could not be reached; nothing was recorded."""


@dataclass(frozen=True)
class Split:
    """What an InferenceService serves: the newest revision's adapter and its share (None = promoted)."""

    version: str | None
    percent: int | None

    def __str__(self) -> str:
        share = "100% (no canaryTrafficPercent)" if self.percent is None else f"{self.percent}%"
        return f"{self.version or 'an unknown adapter'} at {share}"

    def matches(self, other: Split) -> bool:
        """Equal, where an unknown version (a first adapter taken out of service) matches any."""
        return self == other or (self.percent == other.percent and None in (self.version, other.version))


def observed(obj: dict) -> Split:
    """The split an InferenceService object serves (its adapter label; its canaryTrafficPercent)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    return Split(labels.get(VERSION_LABEL), predictor.get("canaryTrafficPercent"))


def recorded(state) -> Split:
    """What a DeploymentState row says the InferenceService serves (its canary, else its stable adapter)."""
    return Split(state.canary_version or state.stable_version, state.canary_percent)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _host(api) -> str:
    try:
        return api.api_client.configuration.host
    except AttributeError:
        return "the cluster"


def make_api(kubeconfig: str | None = None):
    """A CustomObjectsApi: from ``kubeconfig`` when given; else the pod's service account, else the
    kubeconfig the kubernetes client finds (KUBECONFIG, ~/.kube/config)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    in_pod = False
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            in_pod = True
        except config.ConfigException:  # not in a pod with a service account
            pass
    if not in_pod:
        # KUBECONFIG is read here, now: the client library reads it once, at import.
        path = str(kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")
        try:
            config.load_kube_config(config_file=path, client_configuration=configuration)
        except Exception as exc:  # a missing, unreadable or incomplete kubeconfig: all the same to the user
            raise ClusterError(f"no cluster credentials: not in a pod with a service account, and no usable "
                               f"kubeconfig at {path} ({_one_line(exc)}); set KUBECONFIG, {LOCAL_MODE}") from exc
    configuration.retries = 2  # urllib3 retries a refused connection this often, quickly
    return client.CustomObjectsApi(client.ApiClient(configuration))


def _status_message(exc) -> tuple[str, dict]:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return _one_line(exc.body or exc.reason or ""), {}
    if not isinstance(body, dict):
        return _one_line(str(body)), {}
    return _one_line(body.get("message") or exc.reason or ""), body.get("details") or {}


def _cause(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "TLS certificate verification failed"
    return f"{type(reason).__name__}: {_one_line(text)[:160]}"


def translate(exc: Exception, api, verb: str, namespace: str, name: str) -> ClusterError:
    """One line for a kubernetes client error: what happened, where, and what to do next."""
    from kubernetes.client.exceptions import ApiException

    host = _host(api)
    obj = f"InferenceService {namespace}/{name}"
    if not isinstance(exc, ApiException):  # urllib3: refused, DNS, TLS, timeout
        return ClusterError(f"cannot reach the Kubernetes API server at {host} ({_cause(exc)}); check KUBECONFIG "
                            f"and that the cluster is up, {LOCAL_MODE}")
    message, details = _status_message(exc)
    status = exc.status
    if status == 404 and details.get("name"):
        return ClusterError(f"{obj} not found on {host}; create it first (kubectl apply -k manifests/base) "
                            "or check settings.rollout.namespace and --name")
    if status == 404:
        return ClusterError(f"the server at {host} has no {GROUP}/{VERSION} InferenceService API "
                            f"({message or 'not found'}); install KServe (its CRDs) on the cluster first")
    if status == 401:
        return ClusterError(f"the cluster at {host} rejected the credentials (401 Unauthorized: the token is wrong "
                            "or expired); refresh the token in KUBECONFIG or the pod's service account")
    if status == 403:
        return ClusterError(f"forbidden: {message}; bind the caller to the Role hibachi-deployer ({RBAC_FILE}) "
                            f"or use an account that may {verb} inferenceservices in {namespace}")
    if status == 409:
        return ClusterError(f"conflict: {obj} kept changing while hibachi updated it ({ATTEMPTS} attempts: "
                            f"{message}); check who writes it (kubectl get isvc {name} -n {namespace} "
                            "--show-managed-fields) and run the command again")
    if status in (400, 422):
        return ClusterError(f"the server refused the change to {obj} as invalid: {message}; check "
                            "settings.rollout (variant, base_storage_uri) and the version's adapter URI")
    return ClusterError(f"the cluster at {host} answered {status} {exc.reason or ''} to {verb} {obj}: "
                        f"{message or 'no message'}; check the API server and run the command again")


def _errors():
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return ApiException, HTTPError


def read(api, namespace: str, name: str) -> dict:
    try:
        return api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, _request_timeout=TIMEOUT)
    except _errors() as exc:
        raise translate(exc, api, "get", namespace, name) from exc


def changed_by(obj: dict) -> str:
    """Who changed the split, from managedFields: 'changed outside hibachi by kubectl-patch (Update at 2026-...)'.

    hibachi's own field manager counts too: when it wrote last, a `hibachi rollout` step changed the server and
    could not record it (the database failed after the patch), which running that step again records.
    """
    entries = (obj.get("metadata") or {}).get("managedFields") or []

    def owns_split(entry: dict) -> bool:
        fields = entry.get("fieldsV1") or {}
        predictor = fields.get("f:spec", {}).get("f:predictor", {})
        labels = fields.get("f:metadata", {}).get("f:labels", {})
        return "f:canaryTrafficPercent" in predictor or f"f:{VERSION_LABEL}" in labels

    split_owners = [e for e in entries if owns_split(e)]
    # Another manager owning part of the split changed it (its time has whole seconds only, so it may tie with
    # hibachi's); hibachi alone owning the split means its own write was not recorded.
    others = [e for e in split_owners if e.get("manager") != FIELD_MANAGER]
    if split_owners and not others:
        entry = max(split_owners, key=lambda e: e.get("time") or "")
        return f"changed by a `hibachi rollout` step that was not recorded (at {entry.get('time')})"
    others = others or [e for e in entries if e.get("manager") != FIELD_MANAGER]
    if not others:
        return "changed outside hibachi by someone"
    entry = max(others, key=lambda e: e.get("time") or "")
    return f"changed outside hibachi by {entry.get('manager')} ({entry.get('operation')} at {entry.get('time')})"


def drift_error(obj: dict, namespace: str, name: str, recorded: Split, record_id: int | None) -> ClusterError:
    server = observed(obj)
    if server.version == recorded.version or recorded.version is None:
        fix = ("`hibachi rollout promote`" if server.percent is None
               else f"`hibachi rollout set --percent {server.percent}`")
        accept = f"record the server's split with {fix}"
    else:
        accept = "run the `hibachi rollout` step that leads to what the server serves"
    return ClusterError(
        f"InferenceService {namespace}/{name} was {changed_by(obj)}: the server serves "
        f"{server}, the rollout record #{record_id} says {recorded}; {accept}, or restore the recorded split "
        "with kubectl and run the command again (compare: hibachi rollout status)")


def apply_split(api, namespace: str, name: str, body: dict, target: Split, recorded: Split | None = None,
                record_id: int | None = None) -> dict:
    """Patch the InferenceService to serve ``target`` (``body`` is the merge patch); returns the new object.

    ``recorded`` is what the rollout record says the server serves (None before the first step).
    """
    for attempt in range(1, ATTEMPTS + 1):
        current = read(api, namespace, name)
        server = observed(current)
        if recorded is not None and not server.matches(recorded) and not server.matches(target):
            raise drift_error(current, namespace, name, recorded, record_id)
        metadata = {**body.get("metadata", {}), "resourceVersion": current["metadata"]["resourceVersion"]}
        try:
            updated = api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name,
                                                         {**body, "metadata": metadata},
                                                         field_manager=FIELD_MANAGER, _request_timeout=TIMEOUT)
        except _errors() as exc:
            if getattr(exc, "status", None) == 409 and attempt < ATTEMPTS:
                continue  # written in between: read again and re-check
            raise translate(exc, api, "patch", namespace, name) from exc
        if observed(updated) != target:
            raise ClusterError(f"InferenceService {namespace}/{name} does not serve {target} after the patch "
                               f"(it serves {observed(updated)}): a mutating webhook or controller changed it; "
                               f"check it with kubectl get isvc {name} -n {namespace} -o yaml")
        return updated
    raise AssertionError("unreachable")  # the loop returns or raises


def compare(api, namespace: str, name: str, state) -> str:
    """One line for `hibachi rollout status`: what the server serves, and whether the record agrees."""
    obj = read(api, namespace, name)
    server, record = observed(obj), recorded(state)
    if server.matches(record):
        return f"cluster: InferenceService {namespace}/{name} serves {server}, as recorded"
    return (f"cluster: InferenceService {namespace}/{name} serves {server}, but the record #{state.id} says {record}: "
            f"{changed_by(obj)}")
