"""Manifests people write for today's Kubernetes, on the in-memory cluster and on the real control plane alike.

After a sync, and after the controllers wrote, nothing is drift; each live change is drift at its path; each
invalid object is refused by both with the server's words.
"""

from __future__ import annotations

import copy
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc

CORPUS = Path(__file__).parent / "corpus" / "today.yaml"


def synced_app(env: Any) -> rc.Reconciler:
    env.write("today.yaml", CORPUS.read_text())
    app = env.app(automated=True)
    first = app.reconcile()
    assert first.error is None, first
    assert first.sync_status is rc.SyncStatus.SYNCED, first.sync
    return app


def controllers_wrote(env: Any) -> None:
    """On the real control plane, wait until the controllers have written the Deployment's status."""
    if isinstance(env.cluster, rc.MemoryCluster):
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        live = env.cluster.get(env.key("apps", "Deployment", "api"))
        if (live.get("status") or {}).get("observedGeneration"):
            return
        time.sleep(0.2)
    pytest.fail("the deployment controller did not write the Deployment's status")


def test_todays_manifests_sync_and_stay_synced(env):
    app = synced_app(env)
    again = app.reconcile()
    assert again.sync is None
    assert again.sync_status is rc.SyncStatus.SYNCED
    controllers_wrote(env)
    diff = app.diff()
    assert not diff.modified, diff.unified()
    hpa = env.cluster.get(env.key("autoscaling", "HorizontalPodAutoscaler", "api"))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    cron = env.cluster.get(env.key("batch", "CronJob", "report"))
    assert cron["spec"]["timeZone"] == "Europe/Paris"
    pod = env.cluster.get(env.key("", "Pod", "debug"))
    assert pod["spec"]["initContainers"][0]["restartPolicy"] == "Always"


@pytest.mark.parametrize(
    ("target", "patch", "path"),
    [
        (("autoscaling", "HorizontalPodAutoscaler", "api"), {"spec": {"maxReplicas": 3}}, "/spec/maxReplicas"),
        (
            ("autoscaling", "HorizontalPodAutoscaler", "api"),
            {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}}}},
            "/spec/behavior/scaleDown/stabilizationWindowSeconds",
        ),
        (("policy", "PodDisruptionBudget", "api"), {"spec": {"minAvailable": 2}}, "/spec/minAvailable"),
        (("batch", "CronJob", "report"), {"spec": {"timeZone": "Asia/Tokyo"}}, "/spec/timeZone"),
        (
            ("networking.k8s.io", "Ingress", "api"),
            {"spec": {"ingressClassName": "other"}},
            "/spec/ingressClassName",
        ),
        (
            ("apps", "StatefulSet", "db"),
            {"spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain"}}},
            "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted",
        ),
        (
            ("discovery.k8s.io", "EndpointSlice", "external-db"),
            {"ports": [{"name": "pg", "port": 5433}]},
            "/ports/0/port",
        ),
    ],
)
def test_each_live_change_is_drift_at_its_path(env, target, patch, path):
    group, kind, name = target
    app = synced_app(env)
    env.cluster.patch(env.key(group, kind, name), patch, field_manager="kubectl-patch")
    diff = app.diff()
    changed = {(d.key.kind, change.path) for d in diff.modified_resources for change in d.changes}
    assert (kind, path) in changed, diff.unified()
    assert {k for k, _ in changed} == {kind}


def _corpus() -> dict[tuple[str, str], dict[str, Any]]:
    loaded = rc.manifests.load_manifests(CORPUS.read_text(), file=CORPUS.name)
    return {(d["kind"], d["metadata"]["name"]): d for d, _ in loaded}


def _mutated(kind: str, name: str, change: Any) -> dict[str, Any]:
    obj = copy.deepcopy(_corpus()[(kind, name)])
    change(obj)
    return obj


INVALID = {
    "selector-misses-labels": (
        _mutated("Deployment", "api", lambda d: d["spec"]["template"]["metadata"].update(labels={"app": "other"})),
        'Deployment.apps "api" is invalid: spec.template.metadata.labels: Invalid value: {"app":"other"}: '
        "`selector` does not match template `labels`",
    ),
    "negative-replicas": (
        _mutated("Deployment", "api", lambda d: d["spec"].update(replicas=-1)),
        'Deployment.apps "api" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    ),
    "container-name": (
        _mutated("Deployment", "api", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(name="Api")),
        'Deployment.apps "api" is invalid: spec.template.spec.containers[0].name: Invalid value: "Api": '
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ),
    "pdb-both-bounds": (
        _mutated("PodDisruptionBudget", "api", lambda d: d["spec"].update(maxUnavailable=1)),
        'PodDisruptionBudget.policy "api" is invalid: spec: Invalid value: {"MinAvailable":1,"Selector":'
        '{"matchLabels":{"app":"api"}},"MaxUnavailable":1,"UnhealthyPodEvictionPolicy":null}: '
        "minAvailable and maxUnavailable cannot be both set",
    ),
    "cron-time-zone": (
        _mutated("CronJob", "report", lambda d: d["spec"].update(timeZone="Mars/Olympus")),
        'CronJob.batch "report" is invalid: spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone '
        "Mars/Olympus",
    ),
    "cron-schedule": (
        _mutated("CronJob", "report", lambda d: d["spec"].update(schedule="every day")),
        'CronJob.batch "report" is invalid: spec.schedule: Invalid value: "every day": expected exactly 5 fields, '
        "found 2: [every day]",
    ),
    "hpa-bounds": (
        _mutated("HorizontalPodAutoscaler", "api", lambda d: d["spec"].update(maxReplicas=1)),
        'HorizontalPodAutoscaler.autoscaling "api" is invalid: spec.maxReplicas: Invalid value: 1: must be greater '
        "than or equal to `minReplicas`",
    ),
    "ingress-path-type": (
        _mutated("Ingress", "api", lambda d: d["spec"]["rules"][0]["http"]["paths"][0].pop("pathType")),
        'Ingress.networking.k8s.io "api" is invalid: spec.rules[0].http.paths[0].pathType: Required value: '
        "pathType must be specified",
    ),
    "service-port": (
        _mutated("Service", "api", lambda d: d["spec"]["ports"][0].update(port=70000)),
        'Service "api" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ),
    "pvc-retention": (
        _mutated(
            "StatefulSet", "db", lambda d: d["spec"]["persistentVolumeClaimRetentionPolicy"].update(whenDeleted="Keep")
        ),
        'StatefulSet.apps "db" is invalid: spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported '
        'value: "Keep": supported values: "Retain", "Delete"',
    ),
}


@pytest.mark.parametrize(("obj", "message"), INVALID.values(), ids=INVALID.keys())
def test_each_invalid_object_is_refused_with_the_servers_words(env, obj, message):
    with pytest.raises(rc.errors.InvalidError) as caught:
        env.cluster.apply({**obj, "metadata": {**obj["metadata"], "namespace": env.namespace}}, dry_run=True)
    assert str(caught.value) == message
    assert caught.value.field == message.split(" is invalid: ", 1)[1].split(":", 1)[0].lstrip("[")


def quota_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"quotas.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Quota", "plural": "quotas"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-validations": [
                                        {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                                        {"rule": "self.max <= 100"},
                                    ],
                                    "properties": {
                                        "min": {"type": "integer"},
                                        "max": {"type": "integer"},
                                        "mode": {
                                            "type": "string",
                                            "x-kubernetes-validations": [
                                                {"rule": "self == oldSelf", "message": "mode is immutable"}
                                            ],
                                        },
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def test_a_crd_with_validation_rules_refuses_what_breaks_them(env):
    group = f"{env.namespace}.example.com"
    crd = quota_crd(group)
    env.cluster.apply(crd)
    env.cleanups.append(lambda: env.cluster.delete(rc.ResourceKey.from_manifest(crd)))

    def quota(**spec: Any) -> dict[str, Any]:
        meta = {"name": "q", "namespace": env.namespace}
        return {"apiVersion": f"{group}/v1", "kind": "Quota", "metadata": meta, "spec": spec}

    env.cluster.apply(quota(min=1, max=5, mode="fast"))
    refused = {
        "min must not exceed max": quota(min=6, max=5, mode="fast"),
        "failed rule: self.max <= 100": quota(min=1, max=500, mode="fast"),
    }
    for message, obj in refused.items():
        with pytest.raises(rc.errors.InvalidError) as caught:
            env.cluster.apply(obj)
        assert str(caught.value) == f'Quota.{group} "q" is invalid: spec: Invalid value: {message}'
        assert caught.value.field == "spec"
    with pytest.raises(rc.errors.InvalidError) as both:
        env.cluster.apply(quota(min=600, max=500, mode="fast"))
    assert str(both.value) == (
        f'Quota.{group} "q" is invalid: [spec: Invalid value: min must not exceed max, '
        "spec: Invalid value: failed rule: self.max <= 100]"
    )
    with pytest.raises(rc.errors.InvalidError) as transition:
        env.cluster.apply(quota(min=1, max=5, mode="slow"))
    assert str(transition.value) == f'Quota.{group} "q" is invalid: spec.mode: Invalid value: "slow": mode is immutable'
    assert env.cluster.get(env.key(group, "Quota", "q"))["spec"] == {"min": 1, "max": 5, "mode": "fast"}


def _refused(cluster: rc.protocols.Cluster, obj: dict[str, Any]) -> bool:
    try:
        cluster.apply(obj, dry_run=True)
    except rc.errors.InvalidError:
        return True
    return False


def test_a_validating_admission_policy_denies_what_it_forbids(env):
    name = f"max-replicas-{env.namespace}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": env.namespace}},
            },
            "validations": [{"expression": "object.spec.replicas <= 5", "message": "at most 5 replicas"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    for obj in (policy, binding):
        env.cluster.apply(obj)
        env.cleanups.append(lambda obj=obj: env.cluster.delete(rc.ResourceKey.from_manifest(obj)))
    deployment = copy.deepcopy(_corpus()[("Deployment", "api")])
    deployment["metadata"]["namespace"] = env.namespace
    deployment["spec"]["replicas"] = 9
    message = (
        f"deployments.apps \"api\" is forbidden: ValidatingAdmissionPolicy '{name}' with binding '{name}' "
        "denied request: at most 5 replicas"
    )
    deadline = time.monotonic() + 20  # a real server picks a new policy up within a second or two
    while not _refused(env.cluster, deployment):
        assert time.monotonic() < deadline, "the policy was never enforced"
        time.sleep(0.2)
    with pytest.raises(rc.errors.InvalidError) as caught:
        env.cluster.apply(deployment, dry_run=True)
    assert str(caught.value) == message
    deployment["spec"]["replicas"] = 3
    assert env.cluster.apply(deployment, dry_run=True)["spec"]["replicas"] == 3


def synced_chart(env: Any, helm_binary: str, chart: Path, release: str, **parameters: str) -> rc.Reconciler:
    """A Helm chart reconciled into the env's namespace, checked synced; the app, for more passes."""
    app = rc.Reconciler(
        name=f"{release}-{env.namespace}",
        source=rc.DirectorySource(chart),
        renderer=rc.HelmRenderer(
            helm=helm_binary, release_name=release, namespace=env.namespace, parameters=parameters
        ),
        cluster=env.cluster,
        namespace=env.namespace,
        policy=rc.SyncPolicy(automated=True),
    )
    first = app.reconcile()
    assert first.error is None, first
    assert first.sync_status is rc.SyncStatus.SYNCED
    return app


@pytest.mark.integration
def test_the_chart_helm_create_writes_reconciles_with_autoscaling(env, helm_binary, tmp_path):
    # `helm create` writes an autoscaling/v2 HorizontalPodAutoscaler; it must sync as it is, with no workaround.
    subprocess.run([helm_binary, "create", "web"], cwd=tmp_path, check=True, capture_output=True)
    parameters = {"autoscaling.enabled": "true", "serviceAccount.create": "true"}
    app = synced_chart(env, helm_binary, tmp_path / "web", "web", **parameters)
    hpa = env.cluster.get(env.key("autoscaling", "HorizontalPodAutoscaler", "web"))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert app.reconcile().sync is None
    assert not app.diff().modified


TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial.md"
_FILE_BLOCK = re.compile(r'^```yaml title="(?P<path>platform/helm/grade-api/[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


@pytest.mark.integration
def test_the_tutorials_chart_with_its_autoscaler_reconciles(env, helm_binary, tmp_path):
    # The grade-api chart the tutorial writes, with autoscaling on: an autoscaling/v2 HorizontalPodAutoscaler.
    for match in _FILE_BLOCK.finditer(TUTORIAL.read_text()):
        path = tmp_path / match["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match["body"])
    chart = tmp_path / "platform" / "helm" / "grade-api"
    app = synced_chart(env, helm_binary, chart, "grade-api", **{"autoscaling.enabled": "true"})
    hpa = env.cluster.get(env.key("autoscaling", "HorizontalPodAutoscaler", "grade-api"))
    assert (hpa["apiVersion"], hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == ("autoscaling/v2", 2, 6)
    assert app.reconcile().sync is None
