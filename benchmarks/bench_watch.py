"""From a live change to its heal: the watcher against polling, on the local control plane.

A self-healing app (a Deployment of 2 replicas and a ConfigMap) is watched through a ``CachedCluster``; another
app of 20 ConfigMaps shares the cache. Each round scales the Deployment to 5 through the scale subresource (what
``kubectl scale`` sends) and measures the time until the API server holds 2 replicas again; the heal is seen by
a separate watch, so the measurement adds no polling delay. Prints the median and spread of the rounds, the
passes each app ran (the unrelated app should run none), and what a poll-only host would wait on average.

Run: ``python benchmarks/bench_watch.py [--rounds 20] [--debounce 0.2] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import tempfile
import threading
import time
from pathlib import Path

import structlog

import reconcile as rc
from reconcile.cluster import CachedCluster, KubernetesCluster
from reconcile.testing import ControlPlane

NAMESPACE = "bench-watch"
REPLICAS = 2  # in Git
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
"""


def app(folder: Path, cluster: CachedCluster, name: str) -> rc.Reconciler:
    return rc.Reconciler(
        name=name,
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=NAMESPACE,
        policy=rc.SyncPolicy(automated=True, self_heal=True, prune=True),
    )


def main() -> None:  # noqa: PLR0915 - a benchmark reads best as one story
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--debounce", type=float, default=0.2)
    parser.add_argument("--profile", action="store_true", help="profile the watcher's threads' work (cProfile)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp, ControlPlane() as plane:
        web, other = Path(tmp, "web"), Path(tmp, "other")
        web.mkdir()
        other.mkdir()
        (web / "deployment.yaml").write_text(DEPLOYMENT)
        (web / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n")
        for index in range(20):
            (other / f"c{index}.yaml").write_text(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: other-{index}}}\ndata: {{a: b}}\n"
            )
        plane.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/web"
        with KubernetesCluster.from_kubeconfig(plane.kubeconfig) as kube, CachedCluster(kube) as cached:
            apps = [app(web, cached, "web"), app(other, cached, "unrelated")]
            profiler = cProfile.Profile() if args.profile else None
            with rc.watch(apps, interval=3600, debounce=args.debounce) as watcher:
                assert watcher.wait_idle(60), "the first passes did not settle"
                time.sleep(1.0)  # the controllers' status writes after the first sync settle too
                watcher.wait_idle(60)
                before = watcher.passes
                # A second watch, of our own, tells when the heal landed.
                healed = threading.Event()
                key = rc.ResourceKey("apps", "Deployment", NAMESPACE, "web")

                scaled_at = [1 << 62]  # the resourceVersion the scale wrote: only a later one can be the heal

                def seen(_type: str, obj: dict) -> None:
                    version = int(obj["metadata"]["resourceVersion"])
                    ours = rc.ResourceKey.from_manifest(obj) == key and obj["spec"]["replicas"] == REPLICAS
                    if ours and version > scaled_at[0]:
                        healed.set()

                latencies = []
                if profiler:
                    profiler.enable()
                for _ in range(args.rounds):
                    healed.clear()
                    scaled_at[0] = 1 << 62  # until the scale is answered, no event counts (the debounce is longer)
                    cached.add_listener(seen)
                    started = time.perf_counter()
                    scale = plane.request("PATCH", path + "/scale", {"spec": {"replicas": 5}})
                    scaled_at[0] = int(scale["metadata"]["resourceVersion"])
                    if not healed.wait(30):
                        raise SystemExit("a heal did not come within 30 s")
                    latencies.append(time.perf_counter() - started)
                    cached.remove_listener(seen)
                    watcher.wait_idle(30)
                if profiler:
                    profiler.disable()
                after = watcher.passes
    latencies.sort()
    median = statistics.median(latencies)
    print(f"heal after a live scale, {args.rounds} rounds, debounce {args.debounce:g} s (seconds):")
    print(
        f"  median {median:.3f}   min {latencies[0]:.3f}   "
        f"p90 {latencies[int(0.9 * (len(latencies) - 1))]:.3f}   max {latencies[-1]:.3f}"
    )
    print(f"  of which the debounce: {args.debounce:.3f}; the rest is the watch, one pass and one apply")
    print("passes during the rounds:")
    for name in before:
        print(f"  {name:<10} {after[name] - before[name]}")
    print("a host that only polls heals at its next pass: on average half its interval (90 s at Argo CD's 180 s)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
