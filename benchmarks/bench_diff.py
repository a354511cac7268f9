"""Diffing versus parsing: 1,000 realistic desired/live pairs.

The live side comes from the in-memory cluster (server defaults, managedFields, a tracking annotation), the
desired side from YAML. Prints the time to parse the YAML and to compare every pair, with the server's dry-run
answer as the prediction (what the Reconciler does with a cluster at hand) and with a local prediction (no
cluster, or ``ServerSideDiff=false``), and their ratios; each figure is the best of five runs.
Run: ``python benchmarks/bench_diff.py [objects]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import reconcile as rc
from reconcile.manifests import load_manifests

sys.path.insert(0, str(Path(__file__).parent))
from bench_real_cluster import MIX, manifest


def main(count: int) -> None:
    docs = [
        manifest(kind, f"{kind.lower()}-{i}", "bench") for i in range(count // 10) for kind, n in MIX for _ in range(n)
    ]
    docs = [
        doc.replace(f"name: {doc.split('name: ')[1].split()[0]}", f"name: obj-{i}", 1) for i, doc in enumerate(docs)
    ]
    text = "---\n".join(docs)
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})

    desired = [obj for obj, _ in load_manifests(text, file="app.yaml")]
    for obj in desired:
        cluster.apply(obj)
    answers = [cluster.apply(obj, dry_run=True) for obj in desired]
    # Read back after the controllers' writes (a ServiceAccount's token), as a reconcile pass would.
    live = [cluster.get(rc.ResourceKey.from_manifest(obj)) for obj in desired]

    def parse() -> None:
        load_manifests(text, file="app.yaml")

    def compare_with_answers() -> None:
        diffs = [rc.diff.compare(d, obj, predicted_live=a) for d, obj, a in zip(desired, live, answers, strict=True)]
        assert not any(d.modified for d in diffs), [str(d.changes) for d in diffs if d.modified][:3]

    def compare_locally() -> None:
        diffs = [rc.diff.compare(d, obj) for d, obj in zip(desired, live, strict=True)]
        assert not any(d.modified for d in diffs), [str(d.changes) for d in diffs if d.modified][:3]

    parsing = best_of(parse)
    print(f"{len(desired)} pairs ({len(text) / 1024:.0f} KiB of YAML), best of {RUNS} runs")
    print(f"{'parse the YAML':<42} {parsing:8.3f} s")
    for label, run in (
        ("compare, server's answer as prediction", compare_with_answers),
        ("compare, local prediction", compare_locally),
    ):
        seconds = best_of(run)
        print(f"{label:<42} {seconds:8.3f} s  {seconds / parsing:5.2f} x parse")


RUNS = 5


def best_of(run: Callable[[], None]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
