"""Diffing versus parsing: 1,000 realistic desired/live pairs.

The live side comes from the in-memory cluster (server defaults, managedFields, a tracking annotation), the
desired side from YAML. Prints the time to parse the YAML, to compare every pair with a local prediction, and the
ratio. Run: ``python benchmarks/bench_diff.py [objects]``.
"""

from __future__ import annotations

import sys
import time
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

    started = time.perf_counter()
    desired = [obj for obj, _ in load_manifests(text, file="app.yaml")]
    parse = time.perf_counter() - started
    live = [cluster.apply(obj) for obj in desired]

    started = time.perf_counter()
    diffs = [rc.diff.compare(d, obj) for d, obj in zip(desired, live, strict=True)]
    compare = time.perf_counter() - started
    assert not any(d.modified for d in diffs), [str(d.changes) for d in diffs if d.modified][:3]

    print(f"{len(desired)} pairs ({len(text) / 1024:.0f} KiB of YAML)")
    print(f"{'parse the YAML':<34} {parse:8.3f} s")
    print(f"{'compare every pair (local)':<34} {compare:8.3f} s")
    print(f"{'compare / parse':<34} {compare / parse:8.2f} x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
