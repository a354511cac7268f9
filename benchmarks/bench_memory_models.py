"""The in-memory cluster's model at two revisions, side by side on the same application.

Runs ``bench_memory_pipeline.py``'s passes (first pass, no-op pass, one-object heal, peak memory) for each size,
each in a fresh process, alternately with this checkout's library and with the library at ``--base`` (a Git
revision of this repository, checked out into a temporary folder), ``--runs`` times each; prints the best of each
figure for both and their ratio (single runs vary by 20% or more on a shared machine: garbage collection pauses).

Run: ``python benchmarks/bench_memory_models.py [--base REV] [--sizes 1000 5000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "benchmarks" / "bench_memory_pipeline.py"
FIGURES = ("first pass", "no-op pass", "self-heal pass", "peak RSS above baseline (MiB)")


def run(src: Path, objects: int) -> dict[str, float]:
    """One process: the pipeline benchmark with ``src`` first on the import path; its figures as JSON."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    found = subprocess.run(
        [sys.executable, str(PIPELINE), str(objects // 2), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(found.stdout.strip().splitlines()[-1])
    return figures


def checkout(revision: str, into: Path) -> Path:
    """This repository's ``src`` at ``revision``, exported into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="0355276", help="the revision to compare with (default: the 1.20 model)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_src = checkout(args.base, Path(tmp))
        print(f"{'objects':>8} {'figure':<32} {'base ' + args.base:>14} {'this checkout':>14} {'ratio':>7}")
        for size in args.sizes:
            befores, afters = [], []
            for _ in range(args.runs):
                befores.append(run(base_src, size))
                afters.append(run(ROOT / "src", size))
            before = {figure: min(r[figure] for r in befores) for figure in FIGURES}
            after = {figure: min(r[figure] for r in afters) for figure in FIGURES}
            for figure in FIGURES:
                ratio = after[figure] / before[figure] if before[figure] else float("nan")
                print(f"{size:>8} {figure:<32} {before[figure]:>14.3f} {after[figure]:>14.3f} {ratio:>6.2f}x")


if __name__ == "__main__":
    main()
