"""reconcile side by side with kubectl on one local API server (etcd + the tier's kube-apiserver, no controllers).

A generated application of 1,000 objects in 10 namespaces (ConfigMaps, Secrets, Services, Deployments and
ServiceAccounts) is measured, each side in fresh namespaces:

1. first sync vs ``kubectl apply --server-side -f <folder>``, and a bare concurrent client (16 threads of
   server-side applies, no diff, no dry run) as the machine's limit;
2. a no-op reconcile (the median of 5) vs ``kubectl diff --server-side -f <folder>``;
3. a reconcile after one object changed in Git;
4. API requests per pass by verb, and this process's peak memory.

Prints a table and writes the figures as JSON. Run: ``python benchmarks/bench_real_cluster.py [--objects N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

import reconcile as rc
from reconcile.cluster import CachedCluster, KubernetesCluster
from reconcile.testing import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
# Per 10 objects of a namespace: the mix of a typical application.
MIX = (("ConfigMap", 3), ("Secret", 2), ("Service", 2), ("Deployment", 2), ("ServiceAccount", 1))


def manifest(kind: str, name: str, namespace: str) -> str:
    meta = f"metadata:\n  name: {name}\n  namespace: {namespace}\n  labels: {{app: {name}}}\n"
    bodies = {
        "ConfigMap": f"apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  setting: value-{name}\n  mode: fast\n",
        "Secret": f"apiVersion: v1\nkind: Secret\n{meta}stringData:\n  password: secret-{name}\n",
        "ServiceAccount": f"apiVersion: v1\nkind: ServiceAccount\n{meta}",
        "Service": (
            f"apiVersion: v1\nkind: Service\n{meta}spec:\n  selector: {{app: {name}}}\n"
            "  ports: [{port: 80, targetPort: 8080, protocol: TCP}]\n"
        ),
        "Deployment": (
            f"apiVersion: apps/v1\nkind: Deployment\n{meta}spec:\n  replicas: 2\n"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
            "          ports: [{containerPort: 8080, protocol: TCP}]\n"
            "          resources: {requests: {cpu: 100m, memory: 64Mi}}\n"
        ),
    }
    return bodies[kind]


def generate(folder: Path, prefix: str, objects: int, namespaces: int) -> list[str]:
    """Write the application into ``folder``; returns its namespaces (not part of the app: created first)."""
    folder.mkdir(parents=True)
    names = [f"{prefix}-{n}" for n in range(namespaces)]
    per_namespace = objects // namespaces
    for namespace in names:
        docs, index = [], 0
        while index < per_namespace:
            for kind, count in MIX:
                for _ in range(count):
                    if index < per_namespace:
                        docs.append(manifest(kind, f"{kind.lower()}-{index}", namespace))
                        index += 1
        (folder / f"{namespace}.yaml").write_text("---\n".join(docs))
    return names


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def kubectl(assets: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(assets / "kubectl"), f"--kubeconfig={kubeconfig}", *args], capture_output=True, check=False
    )


def assets_folder() -> Path:
    if os.environ.get("KUBEBUILDER_ASSETS"):
        return Path(os.environ["KUBEBUILDER_ASSETS"])
    out = subprocess.run(["bash", str(ROOT / "scripts" / "test-assets.sh")], capture_output=True, check=True)
    return Path(out.stdout.decode().strip().splitlines()[-1])


def measure_pass(
    app: rc.Reconciler,
    cluster: KubernetesCluster,
    figures: dict[str, Any],
    label: str,
    *,
    syncs: bool,
    repeat: int = 1,
) -> None:
    """Time a pass and count its requests; the pass must end Synced, having synced or not as expected.

    With ``repeat``, the pass (one that changes nothing) runs that many times and the median is the figure: a pass
    of a tenth of a second varies by 2-3x from run to run on a shared 2-core machine.
    """
    samples = []
    for _ in range(repeat):
        cluster.stats.reset()
        seconds, result = timed(app.reconcile)
        assert result.sync_status is rc.SyncStatus.SYNCED, result
        assert (result.sync is not None) is syncs, result
        samples.append(seconds)
    figures[f"reconcile_{label}_s"] = statistics.median(samples)
    figures[f"reconcile_{label}_samples_s"] = samples
    figures[f"reconcile_{label}_requests"] = cluster.stats.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench-real-cluster.json"))
    options = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    assets = assets_folder()
    figures: dict[str, Any] = {"objects": options.objects, "namespaces": options.namespaces}

    with tempfile.TemporaryDirectory() as tmp, ControlPlane(assets=assets, controller_manager=False) as plane:
        cluster = KubernetesCluster.from_kubeconfig(str(plane.kubeconfig))
        folders = {side: Path(tmp) / side for side in ("ours", "kubectl", "bare")}
        spaces = {
            side: generate(folder, f"bench-{side}", options.objects, options.namespaces)
            for side, folder in folders.items()
        }
        for namespace in (n for names in spaces.values() for n in names):
            cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

        # 1. First sync.
        seconds, out = timed(
            lambda: kubectl(assets, plane.kubeconfig, "apply", "--server-side", "-f", str(folders["kubectl"]))
        )
        assert out.returncode == 0, out.stderr.decode()
        figures["kubectl_apply_server_side_s"] = seconds

        bare_objects = [r.manifest for r in rc.DirectoryRenderer().render(rc.DirectorySource(folders["bare"]).fetch())]
        with ThreadPoolExecutor(16) as pool:
            seconds, _ = timed(lambda: list(pool.map(cluster.apply, bare_objects)))
        figures["bare_client_16_threads_s"] = seconds

        app = rc.Reconciler(
            name="bench",
            source=rc.DirectorySource(folders["ours"]),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
        )
        measure_pass(app, cluster, figures, "first_sync", syncs=True)

        # 2. Nothing to do.
        seconds, out = timed(
            lambda: kubectl(assets, plane.kubeconfig, "diff", "--server-side", "-f", str(folders["kubectl"]))
        )
        assert out.returncode == 0, out.stdout.decode()[-2000:]
        figures["kubectl_diff_server_side_s"] = seconds
        measure_pass(app, cluster, figures, "noop", syncs=False, repeat=5)

        # 3. One object changed in Git.
        first_file = sorted(folders["ours"].iterdir())[0]
        first_file.write_text(first_file.read_text().replace("mode: fast", "mode: safe", 1))
        measure_pass(app, cluster, figures, "one_change", syncs=True)

        # 2b. Nothing to do, reads served by the watch-fed live cache (a long-running host).
        with CachedCluster(cluster) as cached:
            watched = rc.Reconciler(
                name="bench",
                source=rc.DirectorySource(folders["ours"]),
                renderer=rc.DirectoryRenderer(),
                cluster=cached,
                policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
            )
            watched.reconcile()
            watched.reconcile()  # the caches of the kinds in play start here
            measure_pass(watched, cluster, figures, "noop_cached", syncs=False, repeat=5)
        figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures["first_sync_vs_kubectl"] = figures["kubectl_apply_server_side_s"] / figures["reconcile_first_sync_s"]
    figures["first_sync_vs_bare_client"] = figures["reconcile_first_sync_s"] / figures["bare_client_16_threads_s"]
    figures["noop_vs_kubectl_diff"] = figures["kubectl_diff_server_side_s"] / figures["reconcile_noop_s"]
    figures["noop_cached_vs_kubectl_diff"] = figures["kubectl_diff_server_side_s"] / figures["reconcile_noop_cached_s"]
    report(figures)
    options.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {options.json}")


def report(f: dict[str, Any]) -> None:
    print(f"{f['objects']} objects in {f['namespaces']} namespaces, one local API server (2 cores shared)\n")
    rows = [
        ("first sync: kubectl apply --server-side", f["kubectl_apply_server_side_s"]),
        ("first sync: bare client, 16 threads", f["bare_client_16_threads_s"]),
        ("first sync: reconcile", f["reconcile_first_sync_s"]),
        ("no-op: kubectl diff --server-side", f["kubectl_diff_server_side_s"]),
        ("no-op: reconcile (median of 5)", f["reconcile_noop_s"]),
        ("no-op: reconcile with the live cache (median of 5)", f["reconcile_noop_cached_s"]),
        ("one object changed: reconcile", f["reconcile_one_change_s"]),
    ]
    for label, seconds in rows:
        print(f"{label:<52} {seconds:8.2f} s")
    print(f"\n{'first sync, kubectl / reconcile':<44} {f['first_sync_vs_kubectl']:8.2f} x")
    print(f"{'first sync, reconcile / bare client':<44} {f['first_sync_vs_bare_client']:8.2f} x")
    print(f"{'no-op, kubectl diff / reconcile':<44} {f['noop_vs_kubectl_diff']:8.2f} x")
    print(f"{'no-op, kubectl diff / reconcile (live cache)':<44} {f['noop_cached_vs_kubectl_diff']:8.2f} x")
    for label in ("first_sync", "noop", "noop_cached", "one_change"):
        print(f"requests, {label:<34} {f[f'reconcile_{label}_requests']}")
    print(f"{'peak memory (this process)':<44} {f['peak_rss_mib']:8.1f} MiB")


if __name__ == "__main__":
    main()
