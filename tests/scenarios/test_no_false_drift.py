"""Zero false OutOfSync on common workloads, and every real change reported at its path, on both clusters."""

from __future__ import annotations

from pathlib import Path

import reconcile as rc

CORPUS = (Path(__file__).parent / "corpus" / "workloads.yaml").read_text()


def paths(diff: rc.DiffResult, key: rc.ResourceKey) -> list[str]:
    return [f"{c.symbol} {c.path}" for c in diff[key].changes]


def test_common_workloads_are_synced_after_a_sync_and_each_change_is_found(env):
    env.write("workloads.yaml", CORPUS)
    app = env.app(automated=True)
    first = app.reconcile()
    assert first.error is None
    assert first.sync.succeeded, str(first.sync)

    # Nothing changed: server defaults, quantities spelled differently, HPA and controllers are not drift.
    quiet = app.diff()
    assert not quiet.modified, quiet.unified()

    deployment = env.key("apps", "Deployment", "web")
    service = env.key("", "Service", "web")
    cronjob = env.key("batch", "CronJob", "tick")
    # One field changed, one added and one removed in Git; one changed live.
    edited = (
        CORPUS.replace("value: fast", "value: safe")
        .replace("  selector: {app: web}\n", "  selector: {app: web}\n  sessionAffinity: ClientIP\n")
        .replace(
            "          containers: [{name: tick, image: busybox, args: [date]}]",
            "          containers: [{name: tick, image: busybox}]",
        )
    )
    env.write("workloads.yaml", edited)
    env.cluster.patch(
        env.key("networking.k8s.io", "Ingress", "web"),
        {"metadata": {"annotations": {"x": "y"}}},
        field_manager="kubectl-patch",
    )
    hpa = env.key("autoscaling", "HorizontalPodAutoscaler", "web")
    env.cluster.patch(hpa, {"spec": {"maxReplicas": 9}}, field_manager="kubectl-patch")

    diff = app.diff()

    assert paths(diff, deployment) == ["~ /spec/template/spec/containers/0/env/0/value"]
    # The server would also fill in the affinity's timeout; no apply owns that default, so, as with a webhook's
    # field, the diff keeps its live state (absent), as the reference engine does.
    assert paths(diff, service) == ["~ /spec/sessionAffinity"]
    assert paths(diff, cronjob) == ["- /spec/jobTemplate/spec/template/spec/containers/0/args"]
    assert paths(diff, hpa) == ["~ /spec/maxReplicas"]
    assert not diff[env.key("networking.k8s.io", "Ingress", "web")].modified  # someone else's annotation
    assert {str(d.key) for d in diff.modified_resources} == {
        str(deployment),
        str(service),
        str(cronjob),
        str(hpa),
    }
