"""Defaults by release: each is filled only where the release's schema has the field, and the release the default.

What a 1.36 server fills in is checked against a real one in test_defaults_conformance.py; these tests pin what
changes from release to release.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

import reconcile as rc
from reconcile.apiserver import APISchema, KubeVersion, apply_defaults, newest_version
from reconcile.apiserver import _openapi as openapi
from reconcile.model import GroupKind, Manifest

JOB = GroupKind("batch", "Job")
STATEFULSET = GroupKind("apps", "StatefulSet")
DEPLOYMENT = GroupKind("apps", "Deployment")
DAEMONSET = GroupKind("apps", "DaemonSet")
HPA = GroupKind("autoscaling", "HorizontalPodAutoscaler")
UID = "2b7b0c1e-6a5e-4f0e-9d6c-3c1f3a1b2c3d"
CONTAINERS = [{"name": "web", "image": "nginx:1.27"}]
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": CONTAINERS}}


def declares(version: str, api_version: str, kind: str, *path: str) -> bool:
    """Whether the release's schema of ``kind`` has the field at ``path`` (list items contribute no name)."""
    schema = APISchema.for_version(version)
    node: Mapping[str, Any] | None = schema.definition(api_version, kind)
    for name in path:
        if node is None:
            return False
        node = schema.resolve(node)
        while "items" in node:
            node = schema.resolve(node["items"])
        node = (node.get("properties") or {}).get(name)
    return node is not None


def defaulted(obj: Manifest, group_kind: GroupKind, version: str | None, live: Manifest | None = None) -> Manifest:
    out = copy.deepcopy(obj)
    apply_defaults(out, group_kind, live, schema=APISchema.for_version(version) if version else None)
    return out


def job() -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default", "uid": UID},
        "spec": {
            "template": {
                **copy.deepcopy(TEMPLATE),
                "spec": {"restartPolicy": "Never", "containers": copy.deepcopy(CONTAINERS)},
            }
        },
    }


def statefulset() -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(TEMPLATE)},
    }


def daemonset(image: str = "nginx:1.27") -> Manifest:
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["containers"][0]["image"] = image
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def test_a_default_whose_field_came_after_1_25_is_filled_for_1_36_only() -> None:
    # Job.spec.podReplacementPolicy arrived in 1.28: the 1.25 schema has no such field.
    assert declares("1.36", "batch/v1", "Job", "spec", "podReplacementPolicy")
    assert not declares("1.25", "batch/v1", "Job", "spec", "podReplacementPolicy")

    assert defaulted(job(), JOB, "1.36")["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "podReplacementPolicy" not in defaulted(job(), JOB, "1.25")["spec"]


def test_a_default_waits_for_the_release_that_turned_its_feature_on() -> None:
    # 1.28 has the field, but its feature gate was off by default until 1.29.
    assert declares("1.28", "batch/v1", "Job", "spec", "podReplacementPolicy")
    assert "podReplacementPolicy" not in defaulted(job(), JOB, "1.28")["spec"]
    assert defaulted(job(), JOB, "1.29")["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    # StatefulSet.spec.persistentVolumeClaimRetentionPolicy is in the 1.25 schema; it is defaulted from 1.27.
    assert declares("1.25", "apps/v1", "StatefulSet", "spec", "persistentVolumeClaimRetentionPolicy")
    assert "persistentVolumeClaimRetentionPolicy" not in defaulted(statefulset(), STATEFULSET, "1.26")["spec"]
    assert defaulted(statefulset(), STATEFULSET, "1.36")["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_a_field_the_releases_schema_does_not_declare_is_never_filled() -> None:
    definitions = dict(openapi.definitions((1, 36)))
    spec = copy.deepcopy(definitions["io.k8s.api.apps.v1.DeploymentSpec"])
    del spec["properties"]["progressDeadlineSeconds"]
    definitions["io.k8s.api.apps.v1.DeploymentSpec"] = spec
    without = APISchema(KubeVersion(1, 36), definitions)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(TEMPLATE)},
    }

    apply_defaults(deployment, DEPLOYMENT, None, schema=without)

    assert "progressDeadlineSeconds" not in deployment["spec"]
    assert (deployment["spec"]["replicas"], deployment["spec"]["revisionHistoryLimit"]) == (1, 10)


def test_the_memory_cluster_fills_the_defaults_of_its_release() -> None:
    manifest = job()
    del manifest["metadata"]["uid"]
    old = rc.MemoryCluster(version="1.25").create(manifest)
    new = rc.MemoryCluster(version="1.36").create(manifest)

    assert "podReplacementPolicy" not in old["spec"]
    assert new["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    # The selector the Job registry generates: by the legacy label before 1.27.
    assert old["spec"]["selector"] == {"matchLabels": {"controller-uid": old["metadata"]["uid"]}}
    assert new["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": new["metadata"]["uid"]}}
    assert new["metadata"]["labels"] == new["spec"]["template"]["metadata"]["labels"]
    assert set(new["metadata"]["labels"]) == {
        "app",
        "batch.kubernetes.io/controller-uid",
        "batch.kubernetes.io/job-name",
        "controller-uid",
        "job-name",
    }


def test_templates_carry_a_null_creation_timestamp_until_1_34() -> None:
    assert defaulted(statefulset(), STATEFULSET, "1.33")["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "creationTimestamp": None,
    }
    assert defaulted(statefulset(), STATEFULSET, "1.34")["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}


def test_without_a_schema_the_newest_release_decides() -> None:
    assert defaulted(job(), JOB, None) == defaulted(job(), JOB, str(newest_version()))


def test_an_object_in_a_version_the_release_does_not_serve_gets_the_preferred_versions_fields() -> None:
    hpa = {
        "apiVersion": "autoscaling/v2beta2",  # served until 1.25
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3},
    }

    spec = defaulted(hpa, HPA, "1.36")["spec"]

    assert spec["minReplicas"] == 1
    assert "targetCPUUtilizationPercentage" not in spec  # autoscaling/v1's field, not v2's
    assert spec["metrics"][0]["resource"]["name"] == "cpu"


@pytest.mark.parametrize("version", ["1.25", "1.36"])
def test_a_daemonset_counts_its_template_generations(version: str) -> None:
    cluster = rc.MemoryCluster(version=version)
    key = rc.ResourceKey("apps", "DaemonSet", "default", "agent")
    generation = "deprecated.daemonset.template.generation"

    created = cluster.apply(daemonset())
    same = cluster.apply(daemonset())
    changed = cluster.apply(daemonset(image="nginx:1.28"))

    assert created["metadata"]["annotations"][generation] == "1"
    assert same["metadata"]["annotations"][generation] == "1"
    assert changed["metadata"]["annotations"][generation] == "2"
    assert cluster.get(key) == changed
