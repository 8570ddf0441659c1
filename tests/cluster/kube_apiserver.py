"""A real Kubernetes control plane without nodes (etcd + kube-apiserver), started the envtest way.

Binaries: ``KUBEBUILDER_ASSETS`` (a folder with ``etcd`` and ``kube-apiserver``, e.g. from
``setup-envtest use 1.31 -p path``) when set; else the workspace's kube-apiserver v1.20.2
(``../shared/tools/kube-apiserver/*.xz``, unpacked once into a cache folder and checked against its
sha256) with Debian's etcd (``apt-get install -y etcd-server``). ``find_binaries`` returns the reason
when there are none, so the layer can skip saying why.

``KubeServer.start`` runs both on free loopback ports with token authentication and RBAC (as on a
cluster), writes an admin kubeconfig that verifies the server's certificate, and returns when
``/readyz`` answers. Nothing reconciles: no nodes, no KServe controller.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_TOOL = REPO.parent / "shared" / "tools" / "kube-apiserver"
SHARED_XZ = "kube-apiserver-v1.20.2-linux-amd64.xz"
SHARED_SHA256 = "263960c0eea707fbf3cc74a556f945a848ba049bd86ce587b08a8f6eb6250469"  # of the unpacked binary
CRDS = REPO / "manifests" / "crds" / "kserve"
NAMESPACE, OTHER_NAMESPACE = "hibachi", "elsewhere"  # the manifests' namespace; one the deployer may not touch


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    apiserver: Path
    source: str  # where they came from, for the test report


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hibachi" / "kube-apiserver"


def _unpack_shared(xz: Path) -> Path:
    """The shared tool's binary, unpacked once into the cache (atomically) and checked."""
    target = _cache_dir() / f"kube-apiserver-{SHARED_SHA256[:12]}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    digest = hashlib.sha256()
    with lzma.open(xz) as src, partial.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    if digest.hexdigest() != SHARED_SHA256:
        partial.unlink()
        raise RuntimeError(f"{xz} unpacks to sha256 {digest.hexdigest()}, expected {SHARED_SHA256}")
    partial.chmod(0o755)
    partial.replace(target)
    return target


def find_binaries() -> Binaries | str:
    """The binaries to run, or why there are none."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        folder = Path(assets)
        missing = [name for name in ("etcd", "kube-apiserver") if not (folder / name).is_file()]
        if missing:
            return f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}"
        return Binaries(folder / "etcd", folder / "kube-apiserver", f"KUBEBUILDER_ASSETS={assets}")
    xz = SHARED_TOOL / SHARED_XZ
    if not xz.is_file():
        return (f"no API server binaries: set KUBEBUILDER_ASSETS (setup-envtest use 1.31 -p path) or provide "
                f"{xz}")
    etcd = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").is_file() else None)
    if not etcd:
        return "etcd not found: apt-get install -y etcd-server (or set KUBEBUILDER_ASSETS)"
    return Binaries(Path(etcd), _unpack_shared(xz), f"{xz.name} + {etcd}")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:  # all held open at once, so the ports differ
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """In the child: its own process group, and (Linux) SIGTERM when the test run dies, so a killed run
    leaves no API server behind."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _version(apiserver: Path) -> tuple[int, int]:
    out = subprocess.run([str(apiserver), "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"v(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"{apiserver} --version printed {out!r}")
    return int(match.group(1)), int(match.group(2))


def _rsa_key(directory: Path) -> tuple[Path, Path]:
    key, pub = directory / "sa.key", directory / "sa.pub"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True,
                   timeout=60)
    return key, pub


def kubeconfig(server: str, ca_file: Path, token: str, namespace: str | None = None) -> str:
    context = {"cluster": "test", "user": "user", **({"namespace": namespace} if namespace else {})}
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": context}],
    })


@dataclass
class KubeServer:
    binaries: Binaries
    rundir: Path
    version: tuple[int, int] = (0, 0)
    server: str = ""
    token: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        return self.rundir / "certs" / "apiserver.crt"  # self-signed by the server: leaf + its CA

    @property
    def admin_kubeconfig(self) -> Path:
        return self.rundir / "kubeconfig"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.rundir / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.processes.append(proc)
        return proc

    def log_tail(self, name: str = "apiserver", lines: int = 15) -> str:
        path = self.rundir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""

    def start(self, timeout: float = 60.0) -> KubeServer:
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.version = _version(self.binaries.apiserver)
        etcd_port, peer_port, api_port = _free_ports(3)
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn("etcd", [
            str(self.binaries.etcd), "--name", "test", "--data-dir", str(self.rundir / "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"test=http://127.0.0.1:{peer_port}", "--max-request-bytes", "10485760",
        ])
        self.token = secrets.token_hex(16)
        (self.rundir / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n")
        key, pub = _rsa_key(self.rundir)
        args = [
            str(self.binaries.apiserver), f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", f"--secure-port={api_port}", f"--cert-dir={self.rundir / 'certs'}",
            f"--token-auth-file={self.rundir / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={pub}",
            f"--service-account-signing-key-file={key}", "--service-cluster-ip-range=10.96.0.0/24",
            "--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
        ]
        if self.version < (1, 24):
            args.append("--insecure-port=0")  # removed in 1.24; off by default since
        self._spawn("apiserver", args)
        self.server = f"https://127.0.0.1:{api_port}"
        self._wait_ready(timeout)
        self.admin_kubeconfig.write_text(kubeconfig(self.server, self.ca_file, self.token))
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the CA is only written once up
        last = ""
        while time.monotonic() < deadline:
            for proc, name in zip(self.processes, ("etcd", "apiserver"), strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: {self.log_tail(name)}")
            request = urllib.request.Request(f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as reply:
                    if reply.status == 200 and self.ca_file.is_file():
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"kube-apiserver not ready after {timeout:.0f}s ({last}): {self.log_tail()}")

    def stop(self) -> None:
        for proc in reversed(self.processes):  # the API server first, then etcd
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
        self.processes.clear()


def crd_for_old_servers(path: Path, version: tuple[int, int]) -> dict:
    """A CRD from the project's copy, as this server accepts it.

    Kubernetes before 1.21 rejects ``default: ""`` in a structural schema (``must be of type string:
    "null"``), a bug fixed later; for those versions the install drops exactly those keys from this
    in-memory copy. The files in manifests/crds/kserve stay faithful.
    """
    crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if version < (1, 21):
        _drop_empty_defaults(crd)
    return crd


def _drop_empty_defaults(node) -> None:
    if isinstance(node, dict):
        if node.get("default") == "":
            del node["default"]
        for value in node.values():
            _drop_empty_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_empty_defaults(value)


def kserve_crds(version: tuple[int, int]) -> list[dict]:
    return [crd_for_old_servers(path, version) for path in sorted(CRDS.glob("serving.kserve.io_*.yaml"))]


def dumps(objs: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
