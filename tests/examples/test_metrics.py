"""The metrics example counts the events of real passes, syncs and a heal, in Prometheus' own text format."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

import reconcile as rc
from support import eventually

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metrics.py"


def load_example():
    spec = importlib.util.spec_from_file_location("metrics_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["metrics_example"] = module
    spec.loader.exec_module(module)
    return module


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_metrics_count_syncs_tasks_drift_health_and_passes(tmp_path):
    example = load_example()
    metrics = example.Metrics()
    folder = tmp_path / "guestbook"
    shutil.copytree(example.GUESTBOOK, folder)
    cluster = rc.MemoryCluster()
    app = example.guestbook(folder, cluster, metrics)
    with rc.watch([app], interval=3600, debounce=0.05) as watcher:
        assert watcher.wait_idle(10)
        key = rc.ResourceKey("apps", "Deployment", "default", "guestbook-ui")
        cluster.edit(key, lambda d: d["spec"].update(replicas=9))
        eventually(lambda: watcher.passes["guestbook"] >= 2, timeout=10, what="the heal's pass")
        assert watcher.wait_idle(10)
        passes = watcher.passes["guestbook"]

    found = samples(metrics.exposition())
    syncs = found[("argocd_app_sync_total", (("dry_run", "false"), ("name", "guestbook"), ("phase", "Succeeded")))]
    assert syncs == 2  # the first sync and the heal
    # Each sync reports its tasks, as Argo CD's syncResult does: the first sync three, the heal (a sync of the
    # drifted objects only, as Argo CD's self-heal selects them) the one it applied.
    assert found[("reconcile_app_tasks_total", (("name", "guestbook"), ("result", "Synced")))] == 4
    assert found[("reconcile_app_drift_detected_total", (("name", "guestbook"),))] == 2
    assert found[("argocd_app_reconcile_count", (("name", "guestbook"),))] == passes
    info = [labels for (name, labels), value in found.items() if name == "argocd_app_info" and value == 1]
    assert info == [(("health_status", "Progressing"), ("name", "guestbook"), ("sync_status", "Synced"))]
    assert found[("reconcile_app_health_changes_total", (("name", "guestbook"), ("to", "Progressing")))] == 1
