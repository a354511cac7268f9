"""Figures for one application of many objects reconciled into the in-memory cluster.

Prints the time of a first pass (everything created), a no-op pass (nothing to do), a pass that heals one drifted
object, and the process's peak resident memory above its baseline (after imports, before the application).
Run: ``python benchmarks/bench_memory_pipeline.py [deployments] [--json]``; ``--json`` prints the figures as one JSON
line last, for ``bench_memory_models.py``.
"""

from __future__ import annotations

import gc
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import structlog

import reconcile as rc

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  labels: {{app: web-{i}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web-{i}}}}}
  template:
    metadata: {{labels: {{app: web-{i}}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{{containerPort: 80}}]
          env: [{{name: INDEX, value: "{i}"}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-{i}}}
data: {{index: "{i}"}}
"""


FIGURES: dict[str, float] = {}


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    gc.collect()  # each pass starts with the same collector state: a full collection lands in none of them
    started = time.perf_counter()
    value = fn()
    FIGURES[label.split(" (", maxsplit=1)[0]] = seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:8.3f} s")
    return value


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main(count: int, *, as_json: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    baseline = peak_kib()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(count):
            (folder / f"web-{i}.yaml").write_text(DEPLOYMENT.format(i=i))
        cluster = rc.MemoryCluster()
        app = rc.Reconciler(
            name="bench",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
        )
        print(f"{2 * count} objects ({count} Deployments, {count} ConfigMaps)")
        first = timed("first pass (create all)", app.reconcile)
        assert first.sync_status is rc.SyncStatus.SYNCED, first
        noops = []
        for _ in range(3):  # the best of three: a no-op pass is short, and a single one is noisy
            noop = timed("no-op pass", app.reconcile)
            assert noop.sync is None
            noops.append(FIGURES["no-op pass"])
        FIGURES["no-op pass"] = min(noops)
        heals = []
        for replicas in (7, 8, 9):  # the best of three too, so that the two figures compare like with like
            cluster.patch(rc.ResourceKey("apps", "Deployment", "default", "web-0"), {"spec": {"replicas": replicas}})
            healed = timed("self-heal pass (1 drifted object)", app.reconcile)
            assert healed.sync_status is rc.SyncStatus.SYNCED
            assert healed.sync is not None
            heals.append(FIGURES["self-heal pass"])
        FIGURES["self-heal pass"] = min(heals)
        above = (peak_kib() - baseline) / 1024
        FIGURES["peak RSS above baseline (MiB)"] = above
        print(f"{'peak resident memory':<34} {peak_kib() / 1024:8.1f} MiB ({above:.1f} MiB above the baseline)")
    if as_json:
        print(json.dumps(FIGURES))


if __name__ == "__main__":
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    main(int(numbers[0]) if numbers else 250, as_json="--json" in sys.argv)
