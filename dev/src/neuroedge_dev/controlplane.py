"""The local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

kwok plays the kubelet for fake nodes, so the scheduler binds pods and Deployments report ready replicas,
without a container runtime. Everything listens on loopback on free ports; the admin identity is a client
certificate in group system:masters, written into a kubeconfig.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from neuroedge_dev import pki as pki_mod
from neuroedge_dev import procs, toolchain

SERVICE_CIDR = "10.96.0.0/16"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True)
class Component:
    """A started control-plane daemon."""

    name: str
    pid: int
    port: int
    log: Path


def kubeconfig_document(server: str, pki: pki_mod.Pki) -> dict[str, object]:
    """A kubeconfig with the admin identity embedded, so it can be copied or exported on its own."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "neuroedge-dev",
                "cluster": {"server": server, "certificate-authority-data": b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "neuroedge-admin",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": "neuroedge-dev", "context": {"cluster": "neuroedge-dev", "user": "neuroedge-admin"}}
        ],
        "current-context": "neuroedge-dev",
        "preferences": {},
    }


def fake_node(name: str) -> dict[str, object]:
    """A Node that kwok manages (by annotation): it reports Ready and runs every pod bound to it."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake"},
            "phase": "Running",
        },
    }


def _admin_ssl(pki: pki_mod.Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def start_etcd(state: Path, client_port: int, peer_port: int) -> Component:
    """etcd without fsync: throw-away dev and test state, where fsync would dominate API latency."""
    log = state / "logs" / "etcd.log"
    peer = f"http://127.0.0.1:{peer_port}"
    client = f"http://127.0.0.1:{client_port}"
    argv = [
        str(toolchain.binary("etcd")),
        "--name=neuroedge",
        f"--data-dir={state / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=neuroedge={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
        "--quota-backend-bytes=4294967296",
    ]
    pid = procs.spawn(argv, log)
    procs.wait_until("etcd", lambda: procs.http_ok(f"{client}/health"), timeout=30, pid=pid, log=log)
    return Component("etcd", pid, client_port, log)


def start_apiserver(state: Path, port: int, etcd_port: int, pki: pki_mod.Pki) -> Component:
    """kube-apiserver with RBAC, the default admission chain (PodSecurity, ResourceQuota, LimitRanger, ...)
    and no endpoint reconciler: loopback is not a valid endpoint address for the `kubernetes` Service."""
    log = state / "logs" / "kube-apiserver.log"
    argv = [
        str(toolchain.binary("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--cert-dir={state / 'pki'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--storage-media-type=application/vnd.kubernetes.protobuf",
        "-v=1",
    ]
    pid = procs.spawn(argv, log)
    context = _admin_ssl(pki)
    procs.wait_until(
        "kube-apiserver",
        lambda: procs.http_ok(f"https://127.0.0.1:{port}/readyz", context),
        timeout=90,
        pid=pid,
        log=log,
    )
    return Component("kube-apiserver", pid, port, log)


def start_controller_manager(state: Path, port: int, kubeconfig: Path, pki: pki_mod.Pki) -> Component:
    """The controllers a platform engineer relies on: Deployments/ReplicaSets, garbage collection of owned
    objects, namespace deletion, service accounts and tokens, quotas. Node IPAM and cloud loops are off."""
    log = state / "logs" / "kube-controller-manager.log"
    argv = [
        str(toolchain.binary("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        f"--service-account-private-key-file={pki.sa_private}",
        f"--root-ca-file={pki.ca_cert}",
        "--use-service-account-credentials=false",
        "--controllers=*,-nodeipam,-cloud-node-lifecycle",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        "--concurrent-deployment-syncs=10",
        "--concurrent-replicaset-syncs=10",
        "--concurrent-gc-syncs=20",
        "--node-monitor-grace-period=60s",
        "-v=1",
    ]
    pid = procs.spawn(argv, log)
    procs.wait_until("kube-controller-manager", lambda: procs.port_open(port), timeout=60, pid=pid, log=log)
    return Component("kube-controller-manager", pid, port, log)


def start_scheduler(state: Path, port: int, kubeconfig: Path) -> Component:
    """kube-scheduler binds pods to the fake nodes."""
    log = state / "logs" / "kube-scheduler.log"
    argv = [
        str(toolchain.binary("kube-scheduler")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        "-v=1",
    ]
    pid = procs.spawn(argv, log)
    procs.wait_until("kube-scheduler", lambda: procs.port_open(port), timeout=60, pid=pid, log=log)
    return Component("kube-scheduler", pid, port, log)


def start_kwok(state: Path, port: int, kubeconfig: Path) -> Component:
    """kwok manages only nodes annotated `kwok.x-k8s.io/node=fake`, with its standard fast stages (nodes
    become Ready, pods become Running and Ready)."""
    log = state / "logs" / "kwok.log"
    argv = [
        str(toolchain.binary("kwok")),
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.0.0.1",
        f"--server-address=127.0.0.1:{port}",
        f"--config={toolchain.asset('kwok', 'stages.yaml')}",
    ]
    pid = procs.spawn(argv, log, cwd=state)
    procs.wait_until("kwok", lambda: procs.port_open(port), timeout=60, pid=pid, log=log)
    return Component("kwok", pid, port, log)


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True) -> str:
    """Run kubectl against the stack; errors carry kubectl's own message."""
    proc = subprocess.run(
        [str(toolchain.kubectl()), f"--kubeconfig={kubeconfig}", *args],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise procs.StackError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def register_fake_node(kubeconfig: Path, name: str) -> None:
    """Create (or keep) a kwok node and wait until it reports Ready."""
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(fake_node(name)))
    kubectl(kubeconfig, "wait", "--for=condition=Ready", f"node/{name}", "--timeout=60s")


def wait_for_service_accounts(kubeconfig: Path) -> None:
    """Pods are admitted only once the controller manager has created the `default` ServiceAccount."""
    procs.wait_until(
        "default ServiceAccount",
        lambda: bool(
            kubectl(
                kubeconfig, "get", "serviceaccount", "default", "-n", "default", "-o", "name", check=False
            ).strip()
        ),
        timeout=60,
    )


def write_kubeconfig(path: Path, server: str, pki: pki_mod.Pki) -> None:
    """Write the admin kubeconfig (mode 0600: it holds a private key)."""
    path.write_text(yaml.safe_dump(kubeconfig_document(server, pki), sort_keys=False))
    path.chmod(0o600)
