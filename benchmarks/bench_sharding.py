"""200 Applications of 50 objects, split by the example controller across two processes, one Lease per shard.

On the local control plane (etcd, kube-apiserver; no controller manager): the Application CRD, 200 Applications
whose sources are folders of one Git repository (25 Deployments and 25 ConfigMaps each, one namespace each), and
two controller processes (``examples/controller/controller.py --shards 2 --shard I``). Prints, per shard: the
Lease's holder, how many Applications it owns (sha256 of namespace/name), the time until all of them report
``Synced`` at the commit, its no-op round (the sum of its passes' times, from each pass's log line, over the round
that follows the sync), and the process's peak memory.

Run: ``python benchmarks/bench_sharding.py [--apps 200] [--objects 50] [--interval 40]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import reconcile as rc
from reconcile.cluster import KubernetesCluster
from reconcile.manifests import load_manifests
from reconcile.testing import ControlPlane, LocalRepository

ROOT = Path(__file__).resolve().parents[1]
CONTROLLER = ROOT / "examples" / "controller"
sys.path.insert(0, str(CONTROLLER))
sys.path.insert(0, str(ROOT / "benchmarks"))
import sharding  # noqa: E402 - the example's own hash, as its replicas compute it
from bench_real_cluster import assets_folder  # noqa: E402

NAMESPACE = "argocd"
PASS = re.compile(r"reconcile\.pass\.finished.*?\bapp=(?P<app>\S+).*?\bseconds=(?P<seconds>[\d.]+)")


def objects_of(app: str, namespace: str, count: int) -> str:
    docs = []
    for index in range(count // 2):
        name = f"{app}-{index}"
        docs.append(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"data: {{index: '{index}'}}\n"
        )
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"spec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec: {{containers: [{{name: web, image: 'nginx:1.25'}}]}}\n"
        )
    return "---\n".join(docs)


def application(name: str, repo: LocalRepository) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo.url, "targetRevision": "main", "path": f"apps/{name}"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": f"team-{name}"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def synced(cluster: KubernetesCluster, sha: str) -> set[str]:
    """The Applications whose status reports a sync of ``sha`` and Synced."""
    done = set()
    for obj in cluster.list(rc.GroupKind("argoproj.io", "Application"), namespace=NAMESPACE):
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        if sync.get("status") == "Synced" and sync.get("revision") == sha and status.get("operationState"):
            done.add(obj["metadata"]["name"])
    return done


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


SHARDS = 2
PATIENCE = 1800.0  # seconds until every Application must have synced


def install(cluster: KubernetesCluster, repo: LocalRepository, names: list[str], objects: int) -> str:
    """The CRD, the namespaces, the commit of every app's objects and the Applications; the commit's SHA."""
    [(crd, _)] = load_manifests((CONTROLLER / "crd.yaml").read_text(), file="crd.yaml")
    cluster.apply(crd)
    cluster.wait_established("applications.argoproj.io")
    for namespace in [NAMESPACE, *(f"team-{name}" for name in names)]:
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    files = {f"apps/{name}/objects.yaml": objects_of(name, f"team-{name}", objects) for name in names}
    sha = repo.commit(files, f"{len(names)} applications")
    for name in names:
        cluster.create(application(name, repo))
    return sha


def start_controllers(kubeconfig: Path, folder: Path, interval: float) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """One controller process per shard, each logging to its own file."""
    started = []
    for index in range(SHARDS):
        log = folder / f"shard-{index}.log"
        command = [
            sys.executable,
            str(CONTROLLER / "controller.py"),
            f"--kubeconfig={kubeconfig}",
            f"--namespace={NAMESPACE}",
            f"--shards={SHARDS}",
            f"--shard={index}",
            f"--identity=shard-{index}",
            f"--interval={interval}",
            f"--cache-dir={folder / f'cache-{index}'}",
        ]
        with log.open("w") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"}
            )
        started.append((process, log))
    return started


def wait_synced(cluster: KubernetesCluster, sha: str, owners: dict[str, int], started: float) -> dict[int, float]:
    """Seconds from the start until each shard's Applications all report Synced at ``sha``."""
    done_at: dict[int, float] = {}
    while len(done_at) < SHARDS:
        done = synced(cluster, sha)
        for index in range(SHARDS):
            if index not in done_at and {name for name, owner in owners.items() if owner == index} <= done:
                done_at[index] = time.perf_counter() - started
        if time.perf_counter() - started > PATIENCE:
            raise SystemExit(f"not all synced after {PATIENCE:.0f} s: {len(done)} of {len(owners)}")
        time.sleep(1)
    return done_at


def lease_holder(cluster: KubernetesCluster, index: int) -> str | None:
    lease = cluster.get(rc.ResourceKey("coordination.k8s.io", "Lease", NAMESPACE, _lease(index)))
    return ((lease or {}).get("spec") or {}).get("holderIdentity") if lease is not None else None


def report(
    index: int, owners: dict[str, int], log: Path, *, holder: str | None, synced_after: float, peak: float
) -> None:
    """One shard's lines: its Lease, its apps, the time to sync them, its no-op round, its memory."""
    passes: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        found = PASS.search(line)
        if found:
            passes[found["app"]].append(float(found["seconds"]))
    mine = sorted(name for name, owner in owners.items() if owner == index)
    foreign = sorted(set(passes) - set(mine))
    second = [runs[1] for name, runs in passes.items() if name in mine and len(runs) > 1]
    print(f"shard {index}: Lease {_lease(index)} held by {holder}")
    print(f"  applications owned (sha256 of namespace/name) {len(mine):8d}; passes of others' apps: {len(foreign)}")
    print(f"  all of them Synced at the commit after        {synced_after:8.1f} s")
    print(f"  no-op round ({len(second)} second passes), sum       {sum(second):8.2f} s")
    print(f"  peak memory of the process                    {peak:8.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--interval", type=float, default=40.0, help="the controllers' seconds between passes")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(assets=assets_folder(), controller_manager=False) as plane:
        cluster = KubernetesCluster.from_kubeconfig(str(plane.kubeconfig))
        names = [f"app-{index:03d}" for index in range(options.apps)]
        sha = install(cluster, LocalRepository.init(Path(tmp) / "apps.git"), names, options.objects)
        owners = {name: sharding.shard_of(NAMESPACE, name, SHARDS) for name in names}
        started = time.perf_counter()
        controllers = start_controllers(plane.kubeconfig, Path(tmp), options.interval)
        try:
            done_at = wait_synced(cluster, sha, owners, started)
            time.sleep(options.interval + 15)  # the round after the sync: each app's next pass, one interval on
            peaks = [peak_mib(process.pid) for process, _ in controllers]
            holders = [lease_holder(cluster, index) for index in range(SHARDS)]  # released when they stop
        finally:
            for process, _ in controllers:
                process.terminate()
            for process, _ in controllers:
                process.wait(timeout=60)
        print(
            f"{options.apps} Applications of {options.objects} objects, {SHARDS} controller processes, one API server\n"
        )
        for index, (_, log) in enumerate(controllers):
            report(index, owners, log, holder=holders[index], synced_after=done_at[index], peak=peaks[index])


def _lease(index: int) -> str:
    return sharding.Shard(index, SHARDS).lease_name("reconcile-controller")


if __name__ == "__main__":
    main()
