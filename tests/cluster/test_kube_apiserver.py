"""The cluster harness itself, without starting anything: where binaries come from, why they are
missing, and the CRD install's one adaptation for Kubernetes 1.20."""

from __future__ import annotations

import hashlib
import json
import lzma

import kube_apiserver as harness
import pytest


def test_kubebuilder_assets_win_and_a_gap_is_named(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert harness.find_binaries() == f"KUBEBUILDER_ASSETS={tmp_path} lacks etcd, kube-apiserver"
    for name in ("etcd", "kube-apiserver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
    found = harness.find_binaries()
    assert (found.etcd, found.apiserver) == (tmp_path / "etcd", tmp_path / "kube-apiserver")


def test_without_binaries_the_reason_says_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setattr(harness, "SHARED_TOOL", tmp_path / "absent")
    reason = harness.find_binaries()
    assert isinstance(reason, str) and "set KUBEBUILDER_ASSETS" in reason


def test_the_shared_binary_is_unpacked_once_and_checked(tmp_path, monkeypatch) -> None:
    payload = b"\x7fELF not really"
    xz = tmp_path / "kube-apiserver.xz"
    xz.write_bytes(lzma.compress(payload))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(harness, "SHARED_SHA256", hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(RuntimeError, match="unpacks to sha256"):
        harness._unpack_shared(xz)
    assert not list((tmp_path / "cache").rglob("*.part"))
    monkeypatch.setattr(harness, "SHARED_SHA256", hashlib.sha256(payload).hexdigest())
    binary = harness._unpack_shared(xz)
    assert binary.read_bytes() == payload and binary.stat().st_mode & 0o111
    xz.write_bytes(b"")  # the cached copy is used from now on
    assert harness._unpack_shared(xz) == binary


def test_old_servers_get_the_crds_without_empty_string_defaults_only() -> None:
    path = harness.CRDS / "serving.kserve.io_inferenceservices.yaml"
    raw = path.read_text()
    new = harness.crd_for_old_servers(path, (1, 31))
    old = json.loads(json.dumps(new))  # a copy (parsing 2 MB of YAML twice is slow)
    harness._drop_empty_defaults(old)  # what crd_for_old_servers does below 1.21

    def defaults(node) -> list:
        if isinstance(node, dict):
            return ([node["default"]] if "default" in node else []) + [d for v in node.values() for d in defaults(v)]
        if isinstance(node, list):
            return [d for v in node for d in defaults(v)]
        return []

    assert defaults(new).count("") == raw.count('default: ""') > 0
    assert "" not in defaults(old)
    assert [d for d in defaults(new) if d != ""] == defaults(old)  # every other default kept
    assert path.read_text() == raw  # the shipped copy is untouched


def test_the_version_decides_whether_defaults_are_dropped(tmp_path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text('spec:\n  a: {type: string, default: ""}\n  b: {type: string, default: "x"}\n'
                   '  c: [{type: string, default: ""}]\n')
    assert harness.crd_for_old_servers(crd, (1, 20)) == {"spec": {"a": {"type": "string"},
                                                                  "b": {"type": "string", "default": "x"},
                                                                  "c": [{"type": "string"}]}}
    assert harness.crd_for_old_servers(crd, (1, 21))["spec"]["a"] == {"type": "string", "default": ""}
