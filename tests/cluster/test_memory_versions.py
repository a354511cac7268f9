"""MemoryCluster of a chosen Kubernetes release: what it serves, and how it checks objects against the schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import reconcile as rc
from reconcile.apiserver import newest_version, supported_versions
from reconcile.errors import ConfigurationError, InvalidError, UnknownKindError
from reconcile.model import GroupKind, ResourceKey

HPA = GroupKind("autoscaling", "HorizontalPodAutoscaler")


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
            },
            **spec,
        },
    }


def test_the_supported_range_is_at_least_1_25_to_1_37() -> None:
    versions = [str(v) for v in supported_versions()]
    assert versions[0] == "1.25"
    assert {"1.25", "1.30", "1.36", "1.37"} <= set(versions)
    assert rc.MemoryCluster().version == str(newest_version()) == versions[-1]


@pytest.mark.parametrize("version", ["1.20", "1.24", "2.0", "1.99"])
def test_a_version_outside_the_range_is_a_configuration_error_naming_the_range(version: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rc.MemoryCluster(version=version)
    assert f"Kubernetes {version} is not supported" in str(caught.value)
    assert "1.25 to" in str(caught.value)


def test_a_malformed_version_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="is not a Kubernetes version"):
        rc.MemoryCluster(version="latest")


@pytest.mark.parametrize("spelling", ["1.36", "v1.36.3", "1.36.0-rc.1"])
def test_versions_are_named_as_people_write_them(spelling: str) -> None:
    cluster = rc.MemoryCluster(version=spelling)
    assert cluster.version == "1.36"
    assert cluster.capabilities().kube_version == "v1.36.0"


def test_the_apis_served_follow_the_release() -> None:
    old, new = rc.MemoryCluster(version="1.25"), rc.MemoryCluster(version="1.36")
    old_apis, new_apis = set(old.capabilities().api_versions), set(new.capabilities().api_versions)
    # Removed in 1.26: autoscaling/v2beta2. GA since 1.21-1.23 and served by both: these.
    assert "autoscaling/v2beta2/HorizontalPodAutoscaler" in old_apis
    assert "autoscaling/v2beta2/HorizontalPodAutoscaler" not in new_apis
    for api in ("autoscaling/v2/HorizontalPodAutoscaler", "policy/v1/PodDisruptionBudget", "batch/v1/CronJob"):
        assert api in old_apis
        assert api in new_apis
    assert "discovery.k8s.io/v1/EndpointSlice" in new_apis
    # ValidatingAdmissionPolicy went GA in 1.30; before that its beta was off by default.
    assert "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" in new_apis
    assert not any("ValidatingAdmissionPolicy" in api for api in old_apis)
    # Alpha and post-1.24 beta versions are never served by default.
    assert not any("alpha" in api for api in new_apis)
    assert "policy/v1beta1/PodDisruptionBudget" not in new_apis


def test_a_kind_in_a_removed_version_is_refused_as_the_server_does() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    hpa = {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3},
    }
    with pytest.raises(UnknownKindError, match=r'no matches for kind "HorizontalPodAutoscaler" in version'):
        cluster.apply(hpa)
    assert rc.MemoryCluster(version="1.25").apply(hpa)["apiVersion"] == "autoscaling/v2beta2"


def test_helm_creates_autoscaling_v2_hpa_applies() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 100,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}],
            "behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
        },
    }
    stored = cluster.apply(hpa)
    assert stored["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


def test_an_undeclared_field_in_an_apply_is_refused_naming_its_path() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    bad = deployment(bogus=1)
    with pytest.raises(InvalidError) as caught:
        cluster.apply(bad)
    assert str(caught.value) == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.bogus: field not declared in schema"
    )
    assert caught.value.field == ".spec.bogus"
    assert caught.value.status == 422
    assert cluster.get(ResourceKey("apps", "Deployment", "default", "web")) is None


def test_keyed_list_items_are_named_by_their_keys_with_defaulted_keys_filled() -> None:
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(InvalidError) as caught:
        rc.MemoryCluster(version="1.36").apply(bad)
    assert caught.value.field == (
        '.spec.template.spec.containers[name="web"].ports[containerPort="http",protocol="TCP"].containerPort'
    )
    assert str(caught.value).endswith("expected numeric (int or float), got string")


def test_a_value_of_the_wrong_type_is_refused_by_apply_and_create() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}
    cluster = rc.MemoryCluster(version="1.36")
    with pytest.raises(InvalidError) as applied:
        cluster.apply(config_map)
    assert str(applied.value) == (
        "failed to create typed patch object (default/c; /v1, Kind=ConfigMap): "
        ".data.a: expected string, got &value.valueUnstructured{Value:1}"
    )
    with pytest.raises(InvalidError) as created:
        cluster.create(config_map)
    assert 'ConfigMap in version "v1" cannot be handled as a ConfigMap' in str(created.value)
    assert created.value.field == "data.a"


def test_create_drops_undeclared_fields_as_the_servers_default_validation_does() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    sloppy = deployment(bogus=1)
    sloppy["spec"]["template"]["spec"]["containers"][0]["foo"] = "x"
    stored = cluster.create(sloppy)
    assert "bogus" not in stored["spec"]
    assert "foo" not in stored["spec"]["template"]["spec"]["containers"][0]
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_int_or_string_and_quantities_accept_both_spellings() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    ok = deployment(strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})
    ok["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 1, "memory": "1Gi"}}
    assert cluster.apply(ok)["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 1


CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Rollout", "plural": "rollouts"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


def rollout(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Rollout", "metadata": {"name": "r"}, "spec": spec}


def test_a_custom_resource_with_a_status_subresource_has_no_status_until_one_is_written() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    cluster.apply(copy.deepcopy(CRD))
    stored = cluster.apply(rollout(replicas=2))
    assert "status" not in stored
    written = cluster.set_status(ResourceKey("example.com", "Rollout", "default", "r"), {"phase": "Healthy"})
    assert written["status"] == {"phase": "Healthy"}


def test_a_custom_resource_is_checked_against_its_crd_schema() -> None:
    cluster = rc.MemoryCluster(version="1.36")
    cluster.apply(copy.deepcopy(CRD))
    with pytest.raises(InvalidError, match=r"\.spec\.bogus: field not declared in schema"):
        cluster.apply(rollout(bogus=True))
    with pytest.raises(InvalidError, match=r"\.spec\.replicas: expected numeric"):
        cluster.apply(rollout(replicas="two"))
    kept = cluster.apply(rollout(port="http", extra={"anything": {"goes": [1]}}))
    assert kept["spec"] == {"port": "http", "extra": {"anything": {"goes": [1]}}}
    # A create drops what the schema does not declare (structural pruning).
    pruned = cluster.create({**rollout(replicas=1, bogus=True), "metadata": {"name": "other"}})
    assert pruned["spec"] == {"replicas": 1}


def test_builtin_kinds_still_get_their_status() -> None:
    stored = rc.MemoryCluster(version="1.36").apply(deployment())
    assert stored["status"] == {}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    containers = [{"name": "c", "image": "busybox:1.36"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": containers, **spec}}


def test_a_new_namespace_gets_its_default_service_account_and_ca():
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert cluster.get(ResourceKey("", "ServiceAccount", "team", "default")) is not None
    assert "ca.crt" in cluster.get(ResourceKey("", "ConfigMap", "team", "kube-root-ca.crt"))["data"]


def test_pods_get_their_service_account_token_mounted():
    cluster = rc.MemoryCluster()
    stored = cluster.create(pod(initContainers=[{"name": "init", "image": "busybox:1.36"}]))
    (volume,) = stored["spec"]["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    for container in stored["spec"]["containers"] + stored["spec"]["initContainers"]:
        assert container["volumeMounts"] == [
            {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
        ]
    assert stored["spec"]["serviceAccountName"] == "default"
    # Turned off by the Pod, or by its account: no token.
    assert "volumes" not in cluster.create(pod("off", automountServiceAccountToken=False))["spec"]
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "quiet"},
            "automountServiceAccountToken": False,
        }
    )
    assert "volumes" not in cluster.create(pod("quiet", serviceAccountName="quiet"))["spec"]


def test_a_pod_of_a_missing_service_account_is_forbidden():
    cluster = rc.MemoryCluster()
    with pytest.raises(rc.ClusterError) as caught:
        cluster.create(pod(serviceAccountName="ghost"))
    assert str(caught.value) == (
        'pods "p" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found'
    )
    assert (caught.value.status, caught.value.reason) == (403, "Forbidden")


def test_a_claim_in_use_waits_for_its_pod_before_it_goes():
    cluster = rc.MemoryCluster()
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert cluster.create(claim)["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    cluster.create(pod(volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    key = ResourceKey("", "PersistentVolumeClaim", "default", "data")
    cluster.delete(key)
    assert cluster.get(key)["metadata"]["deletionTimestamp"]
    cluster.delete(ResourceKey("", "Pod", "default", "p"))
    assert cluster.get(key) is None


def test_custom_resources_get_their_schema_defaults():
    crd = copy.deepcopy(CRD)
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["replicas"]["default"] = 1
    spec_schema["properties"]["strategy"] = {
        "type": "object",
        "default": {},
        "properties": {"kind": {"type": "string", "default": "Canary"}},
    }
    cluster = rc.MemoryCluster()
    cluster.apply(crd)
    assert cluster.apply(rollout(port=80))["spec"] == {"port": 80, "replicas": 1, "strategy": {"kind": "Canary"}}
