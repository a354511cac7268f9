"""Playing the kubelet: Deployments become available and Jobs complete, for real, on the control plane."""

from __future__ import annotations

import pytest

import reconcile as rc
from support import eventually

pytestmark = pytest.mark.integration  # real servers, tools or the control plane


def condition(obj: dict | None, kind: str) -> str | None:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return item.get("status")
    return None


def test_a_deployment_becomes_available_once_its_pods_run(kubelet, kube_cluster, kube_namespace):
    kube_cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": kube_namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
                },
            },
        }
    )
    key = rc.ResourceKey("apps", "Deployment", kube_namespace, "web")
    pods = rc.GroupKind("", "Pod")
    eventually(lambda: len(kube_cluster.list(pods, namespace=kube_namespace)) == 2)
    assert (kube_cluster.get(key).get("status") or {}).get("availableReplicas") is None

    assert kubelet.run_pods(kube_namespace, selector={"app": "web"}) == 2

    eventually(lambda: (kube_cluster.get(key).get("status") or {}).get("availableReplicas") == 2)
    assert condition(kube_cluster.get(key), "Available") == "True"


def test_a_job_completes_once_its_pod_succeeds(kubelet, kube_cluster, kube_namespace):
    kube_cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": kube_namespace},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
    )
    key = rc.ResourceKey("batch", "Job", kube_namespace, "once")
    eventually(lambda: kube_cluster.list(rc.GroupKind("", "Pod"), namespace=kube_namespace))

    assert kubelet.succeed_pods(kube_namespace, selector={"job-name": "once"}) == 1

    eventually(lambda: condition(kube_cluster.get(key), "Complete") == "True")
    assert kube_cluster.get(key)["status"]["succeeded"] == 1


def test_a_job_fails_once_its_pod_fails(kubelet, kube_cluster, kube_namespace):
    kube_cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "doomed", "namespace": kube_namespace},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
    )
    key = rc.ResourceKey("batch", "Job", kube_namespace, "doomed")
    eventually(lambda: kube_cluster.list(rc.GroupKind("", "Pod"), namespace=kube_namespace))

    assert kubelet.fail_pods(kube_namespace, selector={"job-name": "doomed"}) == 1

    eventually(lambda: condition(kube_cluster.get(key), "Failed") == "True")
    job = kube_cluster.get(key)
    assert job["status"]["failed"] == 1
    assert not job["status"].get("succeeded")
    pod = kube_cluster.list(rc.GroupKind("", "Pod"), namespace=kube_namespace)[0]
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    # A finished pod is left alone.
    assert kubelet.fail_pods(kube_namespace, selector={"job-name": "doomed"}) == 0


def test_run_pods_starts_only_pending_pods(kubelet, kube_cluster, kube_namespace):
    # A finished Pod cannot go back to Running (the server refuses with 422): that is not run_pods' business.
    for name in ("done", "waiting"):
        kube_cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": kube_namespace, "labels": {"which": name}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            }
        )
    assert kubelet.succeed_pods(kube_namespace, selector={"which": "done"}) == 1

    assert kubelet.run_pods(kube_namespace) == 1
    assert kubelet.run_pods(kube_namespace) == 0
    phases = {
        pod["metadata"]["name"]: pod["status"]["phase"]
        for pod in kube_cluster.list(rc.GroupKind("", "Pod"), namespace=kube_namespace)
    }
    assert phases == {"done": "Succeeded", "waiting": "Running"}
