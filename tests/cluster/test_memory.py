from __future__ import annotations

import base64
import copy
import datetime
import threading
from typing import Any

import pytest

from reconcile import health
from reconcile.apiserver import WatchEvent, fields
from reconcile.cluster._memory import MemoryCluster
from reconcile.errors import (
    ClusterError,
    ConfigurationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    UnknownKindError,
)
from reconcile.model import GroupKind, HealthStatus, ResourceKey
from reconcile.protocols import Cluster

DEPLOYMENT = GroupKind("apps", "Deployment")
WEB = ResourceKey("apps", "Deployment", "default", "web")
SERVICE_KEY = ResourceKey("", "Service", "default", "web")
WIDGET = GroupKind("example.com", "Widget")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def tick(self, seconds: int = 60) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cluster(clock: Clock) -> MemoryCluster:
    return MemoryCluster(clock=clock)


def deployment(replicas: int | None = 2, image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}]}]
                },
            },
        },
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    obj["spec"].update(extra)
    return obj


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}], **spec},
    }


def config_map(name: str = "settings", namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields") or []}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
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
                                    "items": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["id"],
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {"id": {"type": "string"}, "v": {"type": "integer"}},
                                        },
                                    },
                                    "size": {"type": "integer"},
                                },
                            },
                            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                        },
                    }
                },
            },
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            },
        ],
    },
}


def widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


# --- basics ---


def test_satisfies_the_cluster_protocol(cluster: MemoryCluster) -> None:
    assert isinstance(cluster, Cluster)


def test_starts_with_the_system_namespaces(cluster: MemoryCluster) -> None:
    namespaces = cluster.list(GroupKind("", "Namespace"))
    assert [ns["metadata"]["name"] for ns in namespaces] == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]
    for namespace in namespaces:
        assert namespace["status"] == {"phase": "Active"}
        assert namespace["spec"] == {"finalizers": ["kubernetes"]}
        assert "namespace" not in namespace["metadata"]


def test_is_namespaced(cluster: MemoryCluster) -> None:
    assert cluster.is_namespaced(DEPLOYMENT) is True
    assert cluster.is_namespaced(GroupKind("rbac.authorization.k8s.io", "ClusterRole")) is False
    assert cluster.is_namespaced(WIDGET) is None


def test_get_and_list_return_copies(cluster: MemoryCluster) -> None:
    cluster.apply(config_map(a="1"))
    key = ResourceKey("", "ConfigMap", "default", "settings")
    got = cluster.get(key)
    assert got is not None
    got["data"]["a"] = "changed"
    cluster.list(GroupKind("", "ConfigMap"))[0]["data"]["a"] = "changed"
    assert cluster.get(key)["data"] == {"a": "1"}  # type: ignore[index]
    assert cluster.get(key.with_namespace("other")) is None


def test_list_every_kind_and_by_namespace(cluster: MemoryCluster) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    cluster.apply(config_map("a", "apps"))
    cluster.apply(config_map("b"))
    everything = [ResourceKey.from_manifest(obj) for obj in cluster.list()]
    assert ResourceKey("", "ConfigMap", "apps", "a") in everything
    assert ResourceKey("", "Namespace", "", "kube-system") in everything
    assert everything == sorted(everything)
    # A new namespace holds, as on a real cluster, what its controllers put there (its CA and default account).
    in_apps = cluster.list(GroupKind("", "ConfigMap"), namespace="apps")
    assert [obj["metadata"]["name"] for obj in in_apps] == ["a", "kube-root-ca.crt"]
    assert {(o["kind"], o["metadata"]["name"]) for o in cluster.list(namespace="apps")} == {
        ("ConfigMap", "a"),
        ("ConfigMap", "kube-root-ca.crt"),
        ("ServiceAccount", "default"),
    }


def test_unknown_kind_and_version(cluster: MemoryCluster) -> None:
    with pytest.raises(UnknownKindError, match=r'no matches for kind "Widget" in version "example\.com/v1"') as caught:
        cluster.apply(widget())
    assert caught.value.status == 404
    with pytest.raises(UnknownKindError, match='no matches for kind "Deployment" in version "apps/v1beta1"'):
        cluster.apply({**deployment(), "apiVersion": "apps/v1beta1"})
    with pytest.raises(UnknownKindError):
        cluster.get(ResourceKey("example.com", "Widget", "default", "w"))
    with pytest.raises(UnknownKindError):
        cluster.list(WIDGET)


def test_missing_namespace(cluster: MemoryCluster) -> None:
    with pytest.raises(NotFoundError, match='namespaces "nowhere" not found'):
        cluster.apply(config_map(namespace="nowhere"))
    with pytest.raises(NotFoundError, match='namespaces "nowhere" not found'):
        cluster.create(config_map(namespace="nowhere"))


def test_namespace_defaults_and_is_dropped_on_cluster_scoped_kinds(cluster: MemoryCluster) -> None:
    stored = cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert stored["metadata"]["namespace"] == "default"
    role = cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:reader", "namespace": "default"},
            "rules": [],
        }
    )
    assert "namespace" not in role["metadata"]
    assert cluster.get(ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:reader")) is not None
    assert cluster.get(ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "default", "system:reader")) is not None


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (config_map("Bad_Name"), "a lowercase RFC 1123 subdomain must consist of"),
        (
            {**service(), "metadata": {"name": "1web", "namespace": "default"}},
            "a DNS-1035 label must consist of",
        ),
        (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}},
            "a lowercase RFC 1123 label",
        ),
        (
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "a/b"}},
            "may not contain '/'",
        ),
    ],
)
def test_invalid_names(cluster: MemoryCluster, obj: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidError, match=r"is invalid: metadata\.name: Invalid value") as caught:
        cluster.apply(obj)
    assert fragment in caught.value.message
    assert caught.value.field == "metadata.name"
    assert caught.value.status == 422


def test_missing_name(cluster: MemoryCluster) -> None:
    with pytest.raises(InvalidError, match="name or generateName is required"):
        cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})


# --- server-side apply ---


def test_apply_creates_with_metadata_defaults_and_managed_fields(cluster: MemoryCluster) -> None:
    stored = cluster.apply(deployment())
    metadata = stored["metadata"]
    assert metadata["generation"] == 1
    assert metadata["creationTimestamp"] == "2024-05-01T12:00:00Z"
    assert len(metadata["uid"]) == 36
    assert int(metadata["resourceVersion"]) > 0
    assert metadata["managedFields"] == [
        {
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": fields.field_set(deployment(), DEPLOYMENT),
            "manager": "reconcile",
            "operation": "Apply",
            "time": "2024-05-01T12:00:00Z",
        }
    ]
    spec = stored["spec"]
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (2, 10, 600)
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    # Servers before 1.34 printed `creationTimestamp: null` in templates; 1.34 and later do not.
    assert "creationTimestamp" not in spec["template"]["metadata"]
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["terminationGracePeriodSeconds"], pod["dnsPolicy"]) == (
        "Always",
        30,
        "ClusterFirst",
    )
    assert (pod["securityContext"], pod["schedulerName"]) == ({}, "default-scheduler")
    assert containers(stored)[0] == {
        "name": "web",
        "image": "nginx:1.25",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
    }
    assert stored["status"] == {}
    assert cluster.get(WEB) == stored


def test_apply_update_bumps_resource_version_and_generation(cluster: MemoryCluster, clock: Clock) -> None:
    first = cluster.apply(deployment())
    clock.tick()
    second = cluster.apply(deployment(replicas=3))
    assert second["spec"]["replicas"] == 3
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["generation"] == 2
    assert second["metadata"]["managedFields"][0]["time"] == "2024-05-01T12:01:00Z"
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]


def test_noop_apply_changes_nothing(cluster: MemoryCluster, clock: Clock) -> None:
    first = cluster.apply(deployment())
    clock.tick()
    with cluster.watch() as stream:
        again = cluster.apply(deployment())
        assert stream.get(timeout=0.05) is None
    assert again == first
    assert cluster.get(WEB) == first


def test_metadata_only_change_keeps_generation(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    changed = deployment()
    changed["metadata"]["annotations"] = {"note": "x"}
    stored = cluster.apply(changed)
    assert stored["metadata"]["generation"] == 1
    assert stored["metadata"]["annotations"] == {"note": "x"}


def test_apply_removes_a_field_it_no_longer_applies(cluster: MemoryCluster) -> None:
    with_label = deployment()
    with_label["metadata"]["labels"]["tier"] = "front"
    with_label["spec"]["paused"] = True
    cluster.apply(with_label)
    stored = cluster.apply(deployment())
    assert stored["metadata"]["labels"] == {"app": "web"}
    assert "paused" not in stored["spec"]
    # A field removed from the config that has a default comes back with the default.
    stored = cluster.apply(deployment(replicas=None))
    assert stored["spec"]["replicas"] == 1


def test_apply_keeps_fields_of_other_managers(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())

    def add_label(obj: dict[str, Any]) -> None:
        obj["metadata"]["labels"]["team"] = "blue"

    cluster.edit(WEB, add_label)
    stored = cluster.apply(deployment(image="nginx:1.26"))
    assert stored["metadata"]["labels"] == {"app": "web", "team": "blue"}
    assert entries(stored)[("kubectl-edit", "Update")]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_conflict_and_force(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    cluster.patch(WEB, {"spec": {"replicas": 5}}, field_manager="kubectl-patch")
    with pytest.raises(ConflictError) as caught:
        cluster.apply(deployment(replicas=3))
    error = caught.value
    assert error.fields == (".spec.replicas",)
    assert error.message == 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas'
    assert (error.status, error.reason, error.retryable) == (409, "Conflict", False)
    assert cluster.get(WEB)["spec"]["replicas"] == 5  # type: ignore[index]
    # Applying the value it has is no conflict: the field is shared.
    shared = cluster.apply(deployment(replicas=5))
    assert fields.owned_fields(shared, "reconcile")["f:spec"]["f:replicas"] == {}
    assert fields.owned_fields(shared, "kubectl-patch", "Update") == {"f:spec": {"f:replicas": {}}}
    # Forcing takes the field over.
    forced = cluster.apply(deployment(replicas=3), force=True)
    assert forced["spec"]["replicas"] == 3
    assert ("kubectl-patch", "Update") not in entries(forced)


def test_conflict_message_lists_several_fields_and_managers(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    cluster.patch(WEB, {"spec": {"replicas": 5, "paused": True}}, field_manager="alpha")
    relabel = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "other"}},
    }
    cluster.apply(relabel, field_manager="beta", force=True)
    with pytest.raises(ConflictError) as caught:
        cluster.apply(deployment(replicas=3, paused=False))
    assert caught.value.fields == (".metadata.labels.app", ".spec.paused", ".spec.replicas")
    assert caught.value.message.splitlines() == [
        'Apply failed with 3 conflicts: conflicts with "alpha" using apps/v1:',
        "- .spec.paused",
        "- .spec.replicas",
        'conflicts with "beta":',
        "- .metadata.labels.app",
    ]


def test_two_appliers_share_equal_values(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    stored = cluster.apply(deployment(), field_manager="other")
    assert fields.owned_fields(stored, "other") == fields.owned_fields(stored, "reconcile")
    # When one stops applying a shared field, the other keeps it alive.
    stored = cluster.apply(deployment(replicas=None), field_manager="other")
    assert stored["spec"]["replicas"] == 2


def test_keyed_list_merge_across_managers(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "ports": [{"containerPort": 9090, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "x"}],
                        },
                        {"name": "proxy", "image": "envoy:1"},
                    ]
                }
            }
        },
    }
    stored = cluster.apply(sidecar, field_manager="mesh")
    assert [c["name"] for c in containers(stored)] == ["web", "proxy"]
    web = containers(stored)[0]
    assert web["image"] == "nginx:1.25"
    assert web["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 9090, "protocol": "TCP"},
    ]
    assert web["env"] == [{"name": "MODE", "value": "x"}]
    assert containers(stored)[1]["imagePullPolicy"] == "IfNotPresent"
    # Ports that differ only in protocol are different items.
    udp = deployment()
    containers(udp)[0]["ports"].append({"containerPort": 80, "protocol": "UDP"})
    stored = cluster.apply(udp)
    assert containers(stored)[0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 9090, "protocol": "TCP"},
        {"containerPort": 80, "protocol": "UDP"},
    ]
    # The first manager dropping its items leaves the mesh's in place.
    stored = cluster.apply(deployment())
    assert [p["containerPort"] for p in containers(stored)[0]["ports"]] == [80, 9090]
    assert [c["name"] for c in containers(stored)] == ["web", "proxy"]


def test_apply_defaults_list_keys_and_rejects_duplicate_items(cluster: MemoryCluster) -> None:
    # A key field with a default (a port's protocol) is defaulted before the items are merged, as servers do
    # since 1.21; two items with the same keys are refused with the server's words.
    bad = service()
    bad["spec"]["ports"] = [{"port": 80}]
    assert cluster.apply(bad)["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    bad["spec"]["ports"] = [{"port": 80}, {"port": 80, "protocol": "TCP"}]
    with pytest.raises(InvalidError) as caught:
        cluster.apply(bad)
    assert str(caught.value) == (
        "failed to create typed patch object (default/web; /v1, Kind=Service): "
        '.spec.ports: duplicate entries for key [port=80,protocol="TCP"]'
    )
    assert caught.value.field == ".spec.ports"
    bad_deployment = deployment()
    containers(bad_deployment)[0]["ports"] = [{"containerPort": 80}]
    assert containers(cluster.apply(bad_deployment))[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_apply_rejects_managed_fields_in_the_config(cluster: MemoryCluster) -> None:
    obj = config_map()
    obj["metadata"]["managedFields"] = []
    with pytest.raises(InvalidError, match="managedFields must be nil"):
        cluster.apply(obj)


def test_apply_ignores_status_of_kinds_with_a_status_subresource(cluster: MemoryCluster) -> None:
    stored = cluster.apply({**deployment(), "status": {"replicas": 7}})
    assert stored["status"] == {}
    assert "f:status" not in fields.owned_fields(stored, "reconcile")


def test_apply_with_stale_resource_version(cluster: MemoryCluster) -> None:
    cluster.apply(deployment())
    stale = deployment(replicas=4)
    stale["metadata"]["resourceVersion"] = "1"
    with pytest.raises(ConflictError, match="the object has been modified"):
        cluster.apply(stale)


# --- Update operations ---


def test_create_takes_ownership_of_defaults(cluster: MemoryCluster) -> None:
    stored = cluster.create(deployment(), field_manager="installer")
    owned = fields.owned_fields(stored, "installer", "Update")
    assert owned["f:spec"]["f:revisionHistoryLimit"] == {}
    assert owned["f:spec"]["f:strategy"]["f:rollingUpdate"] == {
        ".": {},
        "f:maxSurge": {},
        "f:maxUnavailable": {},
    }
    assert "f:uid" not in owned.get("f:metadata", {})


def test_create_existing_and_generate_name(cluster: MemoryCluster) -> None:
    cluster.create(config_map())
    with pytest.raises(ConflictError, match='configmaps "settings" already exists') as caught:
        cluster.create(config_map())
    assert caught.value.reason == "AlreadyExists"
    cluster.create(deployment())
    with pytest.raises(ConflictError, match=r'deployments\.apps "web" already exists'):
        cluster.create(deployment())
    generated = cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-"}})
    name = generated["metadata"]["name"]
    assert name.startswith("job-")
    assert len(name) == 9
    assert cluster.get(ResourceKey("", "ConfigMap", "default", name)) is not None


def test_patch_is_a_json_merge_patch(cluster: MemoryCluster) -> None:
    cluster.apply(deployment(paused=True))
    patched = cluster.patch(WEB, {"metadata": {"labels": {"extra": "1"}}, "spec": {"paused": None, "replicas": 4}})
    assert patched["metadata"]["labels"] == {"app": "web", "extra": "1"}
    assert "paused" not in patched["spec"]
    assert patched["spec"]["replicas"] == 4
    owned = fields.owned_fields(patched, "reconcile", "Update")
    assert owned == {"f:metadata": {"f:labels": {"f:extra": {}}}, "f:spec": {"f:replicas": {}}}
    # The applier lost the removed field and the patched one.
    assert "f:paused" not in fields.owned_fields(patched, "reconcile")["f:spec"]
    with pytest.raises(NotFoundError, match=r'deployments\.apps "nope" not found'):
        cluster.patch(WEB.__class__("apps", "Deployment", "default", "nope"), {"spec": {}})


def test_replace_keeps_allocated_values_and_checks_resource_version(cluster: MemoryCluster) -> None:
    created = cluster.apply(service())
    body = service(sessionAffinity="ClientIP")
    stored = cluster.replace(body, field_manager="ops")
    assert stored["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert stored["spec"]["sessionAffinity"] == "ClientIP"
    stale = service()
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    with pytest.raises(ConflictError, match="the object has been modified"):
        cluster.replace(stale)
    with pytest.raises(NotFoundError):
        cluster.replace(config_map("missing"))
    moved = service(clusterIP="10.96.9.9")
    with pytest.raises(InvalidError, match="field is immutable"):
        cluster.replace(moved)


def test_edit_and_set_status(cluster: MemoryCluster, clock: Clock) -> None:
    cluster.apply(deployment())
    edited = cluster.edit(WEB, lambda obj: {**obj, "spec": {**obj["spec"], "replicas": 9}})
    assert edited["spec"]["replicas"] == 9
    assert entries(edited)[("kubectl-edit", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    generation = edited["metadata"]["generation"]
    clock.tick()
    status = {"replicas": 9, "readyReplicas": 9, "observedGeneration": generation}
    stored = cluster.set_status(WEB, status)
    assert stored["status"] == status
    assert stored["metadata"]["generation"] == generation
    assert int(stored["metadata"]["resourceVersion"]) > int(edited["metadata"]["resourceVersion"])
    controller = entries(stored)[("kube-controller-manager", "Update")]
    assert controller["fieldsV1"] == {"f:status": {"f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}}}
    assert controller["time"] == "2024-05-01T12:01:00Z"
    # An apply leaves status alone.
    assert cluster.apply(deployment(replicas=9), force=True)["status"] == status


# --- defaults ---


def test_service_defaults_and_cluster_ip(cluster: MemoryCluster) -> None:
    stored = cluster.apply(service())
    spec = stored["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["clusterIP"] == "10.96.0.2"
    assert spec["clusterIPs"] == ["10.96.0.2"]
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert stored["status"] == {"loadBalancer": {}}
    # Kept across applies, unowned by the applier.
    again = cluster.apply(service(sessionAffinity="ClientIP"))
    assert again["spec"]["clusterIP"] == "10.96.0.2"
    assert "f:clusterIP" not in fields.owned_fields(again, "reconcile")["f:spec"]
    other = {**service(), "metadata": {"name": "other", "namespace": "default"}}
    assert cluster.apply(other)["spec"]["clusterIP"] == "10.96.0.3"
    taken = {**service(clusterIP="10.96.0.3"), "metadata": {"name": "third", "namespace": "default"}}
    with pytest.raises(InvalidError, match="provided IP is already allocated"):
        cluster.apply(taken)
    node_port = cluster.apply({**service(type="NodePort"), "metadata": {"name": "np", "namespace": "default"}})
    assert node_port["spec"]["ports"][0]["nodePort"] == 30000
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    headless = cluster.apply({**service(clusterIP="None"), "metadata": {"name": "hl", "namespace": "default"}})
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_secret_defaults_fold_string_data(cluster: MemoryCluster) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"user": base64.b64encode(b"old").decode()},
        "stringData": {"user": "admin", "password": "hunter2"},
    }
    stored = cluster.apply(secret)
    assert stored["type"] == "Opaque"
    assert "stringData" not in stored
    assert stored["data"] == {
        "user": base64.b64encode(b"admin").decode(),
        "password": base64.b64encode(b"hunter2").decode(),
    }
    assert cluster.apply(secret) == stored
    assert fields.predict_apply(stored, secret) == stored


def test_configmap_has_no_defaults(cluster: MemoryCluster) -> None:
    stored = cluster.apply(config_map(a="1"))
    assert set(stored) == {"apiVersion", "kind", "metadata", "data"}


def test_empty_metadata_maps_are_not_stored(cluster: MemoryCluster) -> None:
    obj = config_map(a="1")
    obj["metadata"].update({"labels": {}, "annotations": {}})
    stored = cluster.apply(obj)
    assert "labels" not in stored["metadata"]
    assert "annotations" not in stored["metadata"]
    assert fields.predict_apply(stored, obj) == stored
    assert cluster.apply(obj) == stored


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry:5000/team/app", "Always"),
        ("registry:5000/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(cluster: MemoryCluster, image: str, policy: str) -> None:
    assert containers(cluster.apply(deployment(image=image)))[0]["imagePullPolicy"] == policy


def test_workload_defaults(cluster: MemoryCluster) -> None:
    template = deployment()["spec"]["template"]
    statefulset = cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": template},
        }
    )["spec"]
    assert (
        statefulset["replicas"],
        statefulset["podManagementPolicy"],
        statefulset["revisionHistoryLimit"],
    ) == (
        1,
        "OrderedReady",
        10,
    )
    assert statefulset["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    daemonset = cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
        }
    )["spec"]
    assert daemonset["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    job = cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {"template": template},
        }
    )
    uid = job["metadata"]["uid"]
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (1, 1, 6)
    # Since 1.27 the generated selector uses the prefixed label; the template carries both spellings.
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app": "web",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    }
    cronjob = cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    )["spec"]
    assert (cronjob["concurrencyPolicy"], cronjob["suspend"], cronjob["successfulJobsHistoryLimit"]) == (
        "Allow",
        False,
        3,
    )
    assert cronjob["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    pod = cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
    )
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["spec"]["enableServiceLinks"] is True


def test_service_account_token_secrets(cluster: MemoryCluster) -> None:
    # Since 1.24 no token Secret is made for a new account (as on a real server of any supported release).
    account = cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})
    assert "secrets" not in account
    assert [s for s in cluster.list(GroupKind("", "Secret")) if s["metadata"]["namespace"] == "default"] == []
    # A token Secret made by hand for the account goes when the account goes (the tokens controller).
    token = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "bot-token",
            "annotations": {
                "kubernetes.io/service-account.name": "bot",
                "kubernetes.io/service-account.uid": account["metadata"]["uid"],
            },
        },
        "type": "kubernetes.io/service-account-token",
    }
    cluster.create(token)
    assert cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}) == account
    cluster.delete(ResourceKey("", "ServiceAccount", "default", "bot"))
    assert cluster.get(ResourceKey("", "Secret", "default", "bot-token")) is None


# --- dry run ---


def test_dry_run_stores_nothing(cluster: MemoryCluster) -> None:
    before = cluster.list()
    with cluster.watch() as stream:
        created = cluster.apply(deployment(), dry_run=True)
        assert created["spec"]["revisionHistoryLimit"] == 10
        assert "resourceVersion" not in created["metadata"]
        assert cluster.create(config_map(), dry_run=True)["metadata"]["name"] == "settings"
        assert cluster.apply(service(), dry_run=True)["spec"]["clusterIP"] == "10.96.0.2"
        assert stream.get(timeout=0.05) is None
    assert cluster.list() == before
    assert cluster.apply(service())["spec"]["clusterIP"] == "10.96.0.2"
    live = cluster.apply(deployment())
    would = cluster.apply(deployment(replicas=5), dry_run=True)
    assert would["spec"]["replicas"] == 5
    assert would["metadata"]["generation"] == 2
    assert would["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert cluster.patch(WEB, {"spec": {"replicas": 6}}, dry_run=True)["spec"]["replicas"] == 6
    assert cluster.replace(deployment(replicas=7), dry_run=True)["spec"]["replicas"] == 7
    cluster.delete(WEB, dry_run=True)
    assert cluster.get(WEB) == live


# --- deletion ---


def test_delete_and_not_found(cluster: MemoryCluster) -> None:
    cluster.apply(config_map())
    key = ResourceKey("", "ConfigMap", "default", "settings")
    cluster.delete(key)
    assert cluster.get(key) is None
    with pytest.raises(NotFoundError, match='configmaps "settings" not found'):
        cluster.delete(key)


def test_finalizers_hold_deletion_until_removed(cluster: MemoryCluster, clock: Clock) -> None:
    obj = config_map()
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.apply(obj)
    key = ResourceKey("", "ConfigMap", "default", "settings")
    clock.tick()
    cluster.delete(key)
    held = cluster.get(key)
    assert held is not None
    assert held["metadata"]["deletionTimestamp"] == "2024-05-01T12:01:00Z"
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    with cluster.watch(GroupKind("", "ConfigMap")) as stream:
        cluster.patch(key, {"metadata": {"finalizers": None}})
        events = [(e.type, e.object["metadata"]["name"]) for e in stream]
    assert events == [("MODIFIED", "settings"), ("DELETED", "settings")]
    assert cluster.get(key) is None


def owned_by(owner: dict[str, Any], name: str, finalizers: list[str] | None = None) -> dict[str, Any]:
    obj = config_map(name)
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }
    ]
    if finalizers:
        obj["metadata"]["finalizers"] = finalizers
    return obj


def test_background_propagation_deletes_dependents(cluster: MemoryCluster) -> None:
    owner = cluster.apply(deployment())
    cluster.apply(owned_by(owner, "child"))
    grandchild_owner = cluster.get(ResourceKey("", "ConfigMap", "default", "child"))
    assert grandchild_owner is not None
    cluster.apply(owned_by(grandchild_owner, "grandchild"))
    cluster.delete(WEB)
    assert cluster.get(WEB) is None
    assert [o["metadata"]["name"] for o in cluster.list(GroupKind("", "ConfigMap"))] == ["kube-root-ca.crt"] * 4


def test_foreground_propagation_waits_for_dependents(cluster: MemoryCluster) -> None:
    owner = cluster.apply(deployment())
    cluster.apply(owned_by(owner, "child", finalizers=["example.com/hold"]))
    cluster.delete(WEB, propagation="Foreground")
    waiting = cluster.get(WEB)
    assert waiting is not None
    assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    child_key = ResourceKey("", "ConfigMap", "default", "child")
    assert cluster.get(child_key)["metadata"]["deletionTimestamp"]  # type: ignore[index]
    cluster.patch(child_key, {"metadata": {"finalizers": []}})
    assert cluster.get(child_key) is None
    assert cluster.get(WEB) is None


def test_orphan_propagation_keeps_dependents(cluster: MemoryCluster) -> None:
    owner = cluster.apply(deployment())
    cluster.apply(owned_by(owner, "child"))
    cluster.delete(WEB, propagation="Orphan")
    assert cluster.get(WEB) is None
    child = cluster.get(ResourceKey("", "ConfigMap", "default", "child"))
    assert child is not None
    assert "ownerReferences" not in child["metadata"]


def test_system_namespaces_are_protected(cluster: MemoryCluster) -> None:
    with pytest.raises(ClusterError, match="this namespace may not be deleted") as caught:
        cluster.delete(ResourceKey("", "Namespace", "", "kube-system"))
    assert caught.value.status == 403
    assert cluster.get(ResourceKey("", "Namespace", "", "kube-system")) is not None


def test_deleting_a_namespace_deletes_its_content(cluster: MemoryCluster) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    cluster.apply(config_map("a", "apps"))
    held = config_map("held", "apps")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.apply(held)
    namespace_key = ResourceKey("", "Namespace", "", "apps")
    cluster.delete(namespace_key)
    namespace = cluster.get(namespace_key)
    assert namespace is not None
    assert namespace["status"]["phase"] == "Terminating"
    assert cluster.get(ResourceKey("", "ConfigMap", "apps", "a")) is None
    with pytest.raises(ClusterError, match="because it is being terminated") as caught:
        cluster.apply(config_map("new", "apps"))
    assert caught.value.status == 403
    cluster.patch(ResourceKey("", "ConfigMap", "apps", "held"), {"metadata": {"finalizers": None}})
    assert cluster.list(namespace="apps") == []
    assert cluster.get(namespace_key) is None


# --- CustomResourceDefinitions ---


def test_crd_lifecycle(cluster: MemoryCluster) -> None:
    stored = cluster.apply(CRD)
    assert cluster.is_namespaced(WIDGET) is True
    crd = cluster.get(ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"))
    assert crd is not None
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert "f:status" not in fields.owned_fields(stored, "reconcile")
    assert cluster.apply(CRD) == crd
    # Custom resources: generation, status subresource and list types from the schema.
    first = cluster.apply(widget(items=[{"id": "a", "v": 1}], size=1))
    assert first["metadata"]["generation"] == 1
    cluster.apply(widget(items=[{"id": "b", "v": 2}]), field_manager="other")
    merged = cluster.get(ResourceKey("example.com", "Widget", "default", "w"))
    assert merged is not None
    assert merged["spec"]["items"] == [{"id": "a", "v": 1}, {"id": "b", "v": 2}]
    assert merged["metadata"]["generation"] == 2
    status = cluster.set_status(ResourceKey("example.com", "Widget", "default", "w"), {"ready": True})
    assert status["metadata"]["generation"] == 2
    assert cluster.apply({**widget(items=[{"id": "a", "v": 1}], size=1), "apiVersion": "example.com/v1beta1"})
    with pytest.raises(UnknownKindError):
        cluster.apply({**widget(), "apiVersion": "example.com/v2"})
    # Deleting the CRD deletes its objects and stops serving the kind.
    cluster.delete(ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"))
    assert cluster.is_namespaced(WIDGET) is None
    assert (
        cluster.get(ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com")) is None
    )
    with pytest.raises(UnknownKindError):
        cluster.list(WIDGET)
    # Recreated, it starts empty.
    cluster.apply(CRD)
    assert cluster.list(WIDGET) == []


def test_crd_validation(cluster: MemoryCluster) -> None:
    wrong = copy.deepcopy(CRD)
    wrong["metadata"]["name"] = "gadgets.example.com"
    with pytest.raises(InvalidError, match=r'must be spec.names.plural\+"."\+spec.group'):
        cluster.apply(wrong)
    two_storage = copy.deepcopy(CRD)
    two_storage["spec"]["versions"][1]["storage"] = True
    with pytest.raises(InvalidError, match="exactly one version marked as storage"):
        cluster.apply(two_storage)
    assert cluster.is_namespaced(WIDGET) is None


def test_crd_objects_block_their_crd_deletion(cluster: MemoryCluster) -> None:
    cluster.apply(CRD)
    held = widget()
    held["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.apply(held)
    crd_key = ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com")
    cluster.delete(crd_key)
    assert cluster.get(crd_key) is not None
    with pytest.raises(ClusterError, match="is terminating") as caught:
        cluster.apply(widget("new"))
    assert caught.value.status == 405
    cluster.patch(ResourceKey("example.com", "Widget", "default", "w"), {"metadata": {"finalizers": None}})
    assert cluster.get(crd_key) is None
    assert cluster.is_namespaced(WIDGET) is None


# --- failure injection ---


def test_fail_defaults_to_an_internal_error(cluster: MemoryCluster) -> None:
    cluster.fail("apply")
    with pytest.raises(ClusterError) as caught:
        cluster.apply(config_map())
    assert (caught.value.status, caught.value.reason, caught.value.retryable) == (500, "InternalError", True)
    assert cluster.get(ResourceKey("", "ConfigMap", "default", "settings")) is None
    assert cluster.apply(config_map())["metadata"]["name"] == "settings"


def test_fail_matches_keys_kinds_and_counts(cluster: MemoryCluster) -> None:
    settings = ResourceKey("", "ConfigMap", "default", "settings")
    cluster.fail("get", key=settings, times=2)
    cluster.fail("delete", key=DEPLOYMENT, error=ConflictError("busy", reason="Conflict"))
    cluster.fail("*", key=GroupKind("", "Secret"), error=NotFoundError("gone"))
    cluster.apply(config_map())
    assert cluster.get(settings.with_namespace("kube-system")) is None
    for _ in range(2):
        with pytest.raises(ClusterError):
            cluster.get(settings)
    assert cluster.get(settings) is not None
    cluster.apply(deployment())
    cluster.delete(settings)
    with pytest.raises(ConflictError, match="busy"):
        cluster.delete(WEB)
    cluster.delete(WEB)
    with pytest.raises(NotFoundError, match="gone"):
        cluster.list(GroupKind("", "Secret"))
    with pytest.raises(ConfigurationError, match="cannot inject failures into 'explode'"):
        cluster.fail("explode")


# --- watch ---


def test_watch_events(cluster: MemoryCluster) -> None:
    with cluster.watch(GroupKind("", "ConfigMap"), namespace="default", timeout=0.05) as stream:
        cluster.apply(config_map(a="1"))
        cluster.apply(config_map(a="2"))
        cluster.apply(config_map(a="2"))
        cluster.apply(deployment())
        cluster.delete(ResourceKey("", "ConfigMap", "default", "settings"))
        events = list(stream)
    assert [(e.type, e.object.get("data")) for e in events] == [
        ("ADDED", {"a": "1"}),
        ("MODIFIED", {"a": "2"}),
        ("DELETED", {"a": "2"}),
    ]
    assert isinstance(events[0], WatchEvent)
    assert events[0].key == ResourceKey("", "ConfigMap", "default", "settings")
    versions = [int(e.object["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert stream.closed
    cluster.apply(config_map("later"))
    assert stream.get(timeout=0.01) is None


def test_watch_from_another_thread(cluster: MemoryCluster) -> None:
    stream = cluster.watch(timeout=2.0)
    seen: list[str] = []

    def consume() -> None:
        seen.extend(event.type for event in stream)

    reader = threading.Thread(target=consume)
    reader.start()
    cluster.apply(config_map())
    stream.close()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert seen == ["ADDED"]


def test_concurrent_writes(cluster: MemoryCluster) -> None:
    def writer(index: int) -> None:
        for round_ in range(10):
            cluster.apply(config_map(f"cm-{index}", value=str(round_)))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [o for o in cluster.list(GroupKind("", "ConfigMap")) if o["metadata"]["name"] != "kube-root-ca.crt"]
    assert [obj["data"] for obj in stored] == [{"value": "9"}] * 4
    versions = [int(obj["metadata"]["resourceVersion"]) for obj in cluster.list()]
    assert len(versions) == len(set(versions))


# --- predict_apply against the model ---


def test_predict_apply_matches_the_cluster(cluster: MemoryCluster) -> None:
    live = cluster.apply(deployment())
    assert fields.predict_apply(live, deployment()) == live
    # Drift by someone else: the prediction reverts it where the applier owns the field.
    drifted = cluster.edit(WEB, lambda obj: {**obj, "spec": {**obj["spec"], "replicas": 7}})
    predicted = fields.predict_apply(drifted, deployment())
    assert predicted["spec"]["replicas"] == 2
    # Removing fields: the prediction agrees with a dry run, managedFields aside.
    cluster.apply(deployment(replicas=2), force=True)
    labelled = deployment()
    labelled["metadata"]["labels"]["tier"] = "front"
    live = cluster.apply(labelled)
    predicted = fields.predict_apply(live, deployment())
    would = cluster.apply(deployment(), dry_run=True)
    assert "tier" not in predicted["metadata"]["labels"]
    for obj in (predicted, would):
        obj["metadata"].pop("managedFields")
    assert predicted == would


# --- parity with structured-merge-diff's own multiple-appliers cases ---


def lists_crd() -> dict[str, Any]:
    crd = copy.deepcopy(CRD)
    crd["spec"]["versions"] = [crd["spec"]["versions"][0]]
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"] = {
        "listOfLists": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                },
            },
        }
    }
    return crd


def lists(*items: dict[str, Any]) -> dict[str, Any]:
    return widget(listOfLists=list(items))


def update_as_controller(cluster: MemoryCluster, *items: dict[str, Any]) -> None:
    live = cluster.get(ResourceKey("example.com", "Widget", "default", "w"))
    assert live is not None
    live["spec"]["listOfLists"] = list(items)
    cluster.replace(live, field_manager="controller")


def test_smd_remove_one_keep_one_with_dangling_subitem(cluster: MemoryCluster) -> None:
    cluster.apply(lists_crd())
    cluster.apply(lists({"name": "a"}, {"name": "b", "value": ["c"]}), field_manager="apply-one")
    cluster.apply(lists({"name": "b", "value": ["d"]}), field_manager="apply-two")
    update_as_controller(cluster, {"name": "a"}, {"name": "b", "value": ["c", "d", "e"]})
    stored = cluster.apply(lists({"name": "a"}), field_manager="apply-one")
    assert stored["spec"]["listOfLists"] == [{"name": "a"}, {"name": "b", "value": ["d", "e"]}]
    assert fields.paths(fields.owned_fields(stored, "apply-one")) == [
        '.spec.listOfLists[name="a"]',
        '.spec.listOfLists[name="a"].name',
    ]
    assert fields.paths(fields.owned_fields(stored, "apply-two")) == [
        '.spec.listOfLists[name="b"]',
        '.spec.listOfLists[name="b"].name',
        '.spec.listOfLists[name="b"].value[="d"]',
    ]
    assert fields.paths(fields.owned_fields(stored, "controller", "Update")) == [
        '.spec.listOfLists[name="b"].value[="e"]'
    ]


def test_smd_remove_one_with_dangling_subitem_keep_one(cluster: MemoryCluster) -> None:
    cluster.apply(lists_crd())
    cluster.apply(lists({"name": "a"}, {"name": "b", "value": ["c"]}), field_manager="apply-one")
    cluster.apply(lists({"name": "a", "value": ["b"]}), field_manager="apply-two")
    update_as_controller(cluster, {"name": "a", "value": ["b"]}, {"name": "b", "value": ["c", "d"]})
    stored = cluster.apply(lists({"name": "a"}), field_manager="apply-one")
    # The controller owns a value inside item b, not the item: b goes with the applier that owned it.
    assert stored["spec"]["listOfLists"] == [{"name": "a", "value": ["b"]}]


def test_simulated_workloads_settle_at_once_and_explicit_statuses_stay():
    cluster = MemoryCluster(simulate_workloads=True)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}},
    }
    cluster.apply(deployment)
    cluster.apply(job)
    key = ResourceKey("apps", "Deployment", "default", "web")

    assert health.assess(cluster.get(key)).status is HealthStatus.HEALTHY
    assert cluster.get(key)["status"]["readyReplicas"] == 3
    assert health.assess(cluster.get(ResourceKey("batch", "Job", "default", "migrate"))).status is HealthStatus.HEALTHY
    cluster.set_status(key, {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1})
    assert health.assess(cluster.get(key)).status is HealthStatus.PROGRESSING  # a status written by hand stays
    # Off by default: nothing plays the controllers.
    plain = MemoryCluster()
    plain.apply(deployment)
    assert health.assess(plain.get(key)).status is HealthStatus.PROGRESSING
