"""Quickstart: a Git repository becomes live objects, drifts, heals and prunes, on the in-memory cluster.

Run it with ``python examples/quickstart.py``. Everything happens in a temporary folder and in memory.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import structlog

import reconcile as rc

GUESTBOOK = Path(__file__).parent / "guestbook"
DEPLOYMENT = rc.ResourceKey("apps", "Deployment", "default", "guestbook-ui")


def step(title: str) -> None:
    print(f"\n=== {title}")


def main() -> None:
    # The library never configures logging; this host shows only warnings so the story stays readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reconcile-quickstart-") as tmp:
        # A real Git repository holding the guestbook app in its "guestbook" folder.
        repo = rc.testing.LocalRepository.init(Path(tmp) / "repo.git")
        repo.commit_directory(GUESTBOOK, "Add the guestbook", prefix="guestbook")

        # In memory, with its workloads settling at once as a real cluster's controllers would make them.
        cluster = rc.MemoryCluster(simulate_workloads=True)
        app = rc.Reconciler(
            name="guestbook",
            source=rc.GitSource(repo.url, revision="main", path="guestbook", cache_dir=Path(tmp) / "cache"),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            namespace="default",
            policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
        )

        step("1. First pass: the repository becomes live objects")
        print(app.reconcile())

        step("2. Someone scales the Deployment behind our back: the drift")
        cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}})
        drift = app.diff()
        print(drift)
        print(drift.unified())

        step("3. The next pass heals it (self_heal=True)")
        healed = app.reconcile()
        print(healed)
        print(f"live replicas: {cluster.get(DEPLOYMENT)['spec']['replicas']}")

        step("4. A commit removes the ConfigMap: the next pass prunes it (prune=True)")
        repo.commit({"guestbook/configmap.yaml": None}, "Remove the banner ConfigMap")
        print(app.reconcile())
        gone = cluster.get(rc.ResourceKey("", "ConfigMap", "default", "guestbook-banner")) is None
        print(f"ConfigMap still live: {not gone}")

    print(f"\nDone in {time.perf_counter() - started:.2f}s.")


if __name__ == "__main__":
    main()
