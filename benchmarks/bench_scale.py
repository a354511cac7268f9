"""Growth from 1,000 to 10,000 objects in one app, and 200 apps of 50 objects in one process (in memory).

1. One app of N/2 Deployments and N/2 ConfigMaps in ``MemoryCluster``, N = 1,000 and 10,000, each size in its own
   process (``bench_memory_pipeline.py --json``): first pass, no-op pass, a pass healing one drifted object, peak
   RSS above the interpreter's baseline; printed with the ratio for 10x the objects and the issue's goals.
2. 200 apps of 25 Deployments and 25 ConfigMaps, each in its own namespace, sharing one ``MemoryCluster``: a first
   round (everything created), then a full round of no-op passes.

Run: ``python benchmarks/bench_scale.py [--skip-growth] [--apps 200]``; ``--profile`` profiles the no-op round.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

import reconcile as rc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_memory_pipeline import DEPLOYMENT  # noqa: E402 - the benchmarks share their application

GOALS = {"first pass": 10.5, "no-op pass": 10.5, "self-heal pass": 10.5}


def growth() -> None:
    figures = {}
    for deployments in (500, 5000):
        done = subprocess.run(
            [sys.executable, str(HERE / "bench_memory_pipeline.py"), str(deployments), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        figures[2 * deployments] = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = figures[1000], figures[10000]
    print("one app, in memory          1,000 objects   10,000 objects   ratio   goal")
    for name, goal in GOALS.items():
        ratio = large[name] / small[name]
        print(f"  {name:<24} {small[name]:10.3f} s   {large[name]:12.3f} s   {ratio:5.1f}x   <= {goal}x")
    for count in (1000, 10000):
        per_object = figures[count]["peak RSS above baseline (MiB)"] * 1024 / count
        print(f"  peak RSS per object at {count:>6,}: {per_object:5.1f} KiB (goal <= 25 KiB at 10,000)")
    heal = large["self-heal pass"] / large["no-op pass"]
    print(f"  heal / no-op at 10,000: {heal:.2f}x (goal <= 1.2x plus one write)")


def many_apps(count: int, *, profile: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        cluster = rc.MemoryCluster()
        apps = []
        for index in range(count):
            folder = Path(tmp, f"app-{index}")
            folder.mkdir()
            (folder / "objects.yaml").write_text("---\n".join(DEPLOYMENT.format(i=i) for i in range(25)))
            apps.append(
                rc.Reconciler(
                    name=f"app-{index}",
                    source=rc.DirectorySource(folder),
                    renderer=rc.DirectoryRenderer(),
                    cluster=cluster,
                    namespace=f"team-{index}",
                    policy=rc.SyncPolicy(automated=True, sync_options=("CreateNamespace=true",)),
                )
            )
        started = time.perf_counter()
        assert all(app.reconcile().ok for app in apps)
        first = time.perf_counter() - started
        rounds = []
        profiler = cProfile.Profile() if profile else None
        for _ in range(3):
            gc.collect()
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            results = [app.reconcile() for app in apps]
            rounds.append(time.perf_counter() - started)
            if profiler:
                profiler.disable()
            assert all(r.sync is None and r.sync_status is rc.SyncStatus.SYNCED for r in results)
    above = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    print(f"{count} apps of 50 objects ({50 * count:,} objects), one MemoryCluster:")
    print(f"  first round (create all)   {first:8.2f} s")
    print(f"  no-op round, best of 3     {min(rounds):8.2f} s   (goal <= 2 s for 200 apps)")
    print(f"  peak RSS above baseline    {above:8.1f} MiB")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-growth", action="store_true", help="only the many-apps part")
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not args.skip_growth:
        growth()
    many_apps(args.apps, profile=args.profile)


if __name__ == "__main__":
    main()
