from __future__ import annotations

import base64

import pytest

from reconcile import apiserver as schema
from reconcile.apiserver import ATOMIC, SET, APISchema, ListType
from reconcile.model import GroupKind

DEPLOYMENT = GroupKind("apps", "Deployment")
POD = GroupKind("", "Pod")
SERVICE = GroupKind("", "Service")
CRONJOB = GroupKind("batch", "CronJob")
WIDGET = GroupKind("example.com", "Widget")


BUILTIN_KINDS = APISchema.for_version("1.36").kinds


def test_builtin_kinds_table() -> None:
    deployment = BUILTIN_KINDS[DEPLOYMENT]
    assert (deployment.version, deployment.plural, deployment.namespaced, deployment.status_subresource) == (
        "v1",
        "deployments",
        True,
        True,
    )
    assert deployment.api_version == "apps/v1"
    namespace = BUILTIN_KINDS[GroupKind("", "Namespace")]
    assert namespace.api_version == "v1"
    assert not namespace.namespaced
    assert not BUILTIN_KINDS[GroupKind("", "ConfigMap")].status_subresource
    assert BUILTIN_KINDS[CRONJOB].versions == ("v1",)
    assert BUILTIN_KINDS[GroupKind("autoscaling", "HorizontalPodAutoscaler")].versions == ("v2", "v1")
    crd = BUILTIN_KINDS[GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")]
    assert (crd.namespaced, crd.plural) == (False, "customresourcedefinitions")


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("", "Namespace"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("", "Pod"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "ReplicationController"),
        ("", "Node"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("policy", "PodDisruptionBudget"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("storage.k8s.io", "StorageClass"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiregistration.k8s.io", "APIService"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("coordination.k8s.io", "Lease"),
    ],
)
def test_every_required_kind_is_known(group: str, kind: str) -> None:
    info = BUILTIN_KINDS[GroupKind(group, kind)]
    assert info.plural == info.plural.lower()
    assert info.plural.endswith("s")
    assert info.versions


@pytest.mark.parametrize(
    ("group_kind", "path", "expected"),
    [
        (DEPLOYMENT, ("spec", "template", "spec", "containers"), ListType.keyed("name")),
        (DEPLOYMENT, ("spec", "template", "spec", "initContainers"), ListType.keyed("name")),
        (POD, ("spec", "ephemeralContainers"), ListType.keyed("name")),
        (
            DEPLOYMENT,
            ("spec", "template", "spec", "containers", "ports"),
            ListType.keyed("containerPort", "protocol"),
        ),
        (POD, ("spec", "initContainers", "ports"), ListType.keyed("containerPort", "protocol")),
        (SERVICE, ("spec", "ports"), ListType.keyed("port", "protocol")),
        (POD, ("spec", "containers", "env"), ListType.keyed("name")),
        (POD, ("spec", "containers", "envFrom"), ATOMIC),
        (POD, ("spec", "containers", "volumeMounts"), ListType.keyed("mountPath")),
        (POD, ("spec", "containers", "volumeDevices"), ListType.keyed("devicePath")),
        (POD, ("spec", "containers", "args"), ATOMIC),
        (POD, ("spec", "containers", "command"), ATOMIC),
        (POD, ("spec", "volumes"), ListType.keyed("name")),
        (POD, ("spec", "imagePullSecrets"), ListType.keyed("name")),
        (GroupKind("", "ServiceAccount"), ("imagePullSecrets",), ATOMIC),
        (POD, ("spec", "hostAliases"), ListType.keyed("ip")),
        (POD, ("spec", "topologySpreadConstraints"), ListType.keyed("topologyKey", "whenUnsatisfiable")),
        (POD, ("spec", "tolerations"), ATOMIC),
        (
            CRONJOB,
            ("spec", "jobTemplate", "spec", "template", "spec", "containers"),
            ListType.keyed("name"),
        ),
        (DEPLOYMENT, ("metadata", "ownerReferences"), ListType.keyed("uid")),
        (DEPLOYMENT, ("metadata", "finalizers"), SET),
        (DEPLOYMENT, ("spec", "template", "metadata", "finalizers"), SET),
        (DEPLOYMENT, ("status", "conditions"), ListType.keyed("type")),
        (GroupKind("", "Endpoints"), ("subsets",), ATOMIC),
        (GroupKind("rbac.authorization.k8s.io", "ClusterRole"), ("rules",), ATOMIC),
        (GroupKind("rbac.authorization.k8s.io", "Role"), ("rules",), ATOMIC),
        (GroupKind("", "ServiceAccount"), ("secrets",), ListType.keyed("name")),
        (
            GroupKind("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
            ("webhooks",),
            ListType.keyed("name"),
        ),
        # Containers live only where the kind keeps its pod spec.
        (DEPLOYMENT, ("spec", "containers"), ATOMIC),
        (SERVICE, ("spec", "template", "spec", "containers"), ATOMIC),
    ],
)
def test_list_type_of_builtin_kinds(group_kind: GroupKind, path: tuple[str, ...], expected: ListType) -> None:
    assert schema.list_type(group_kind, path) == expected


def test_custom_resources_lists_are_atomic_except_root_metadata() -> None:
    assert schema.list_type(WIDGET, ("spec", "containers")) == ATOMIC
    assert schema.list_type(WIDGET, ("status", "conditions")) == ATOMIC
    assert schema.list_type(WIDGET, ("metadata", "finalizers")) == SET
    assert schema.list_type(WIDGET, ("metadata", "ownerReferences")) == ListType.keyed("uid")
    assert schema.list_type(WIDGET, ("spec", "template", "metadata", "finalizers")) == ATOMIC


def test_overrides_win() -> None:
    overrides = {("spec", "items"): ListType.keyed("id"), ("spec", "tags"): SET}
    assert schema.list_type(WIDGET, ("spec", "items"), overrides) == ListType.keyed("id")
    assert schema.list_type(WIDGET, ("spec", "tags"), overrides) == SET
    assert schema.list_type(WIDGET, ("spec", "other"), overrides) == ATOMIC
    assert schema.list_type(SERVICE, ("spec", "ports"), {("spec", "ports"): ATOMIC}) == ATOMIC


def test_label_selectors_are_atomic_maps() -> None:
    assert schema.is_atomic_map(DEPLOYMENT, ("spec", "selector"))
    assert schema.is_atomic_map(CRONJOB, ("spec", "jobTemplate", "spec", "selector"))
    assert schema.is_atomic_map(GroupKind("networking.k8s.io", "NetworkPolicy"), ("spec", "podSelector"))
    assert schema.is_atomic_map(POD, ("spec", "topologySpreadConstraints", "labelSelector"))
    # A Service selector is atomic too (since 1.21's schema).
    assert schema.is_atomic_map(SERVICE, ("spec", "selector"))
    assert not schema.is_atomic_map(SERVICE, ("metadata", "labels"))
    assert not schema.is_atomic_map(DEPLOYMENT, ("spec", "template"))
    assert not schema.is_atomic_map(WIDGET, ("spec", "selector"))
    assert schema.is_atomic_map(WIDGET, ("spec", "selector"), {("spec", "selector"): ATOMIC})


def test_list_types_of_a_crd_schema() -> None:
    openapi = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id", "zone"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "tags": {"type": "array", "x-kubernetes-list-type": "set"},
                            },
                        },
                    },
                    "args": {"type": "array", "x-kubernetes-list-type": "atomic"},
                    "plain": {"type": "array", "items": {"type": "string"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                },
            }
        },
    }
    assert schema.list_types(openapi) == {
        ("spec", "items"): ListType.keyed("id", "zone"),
        ("spec", "items", "tags"): SET,
        ("spec", "args"): ATOMIC,
        ("spec", "selector"): ATOMIC,
    }


def test_fill_list_keys_sets_tcp_everywhere_a_pod_template_lives() -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "a", "ports": [{"containerPort": 80}]}],
                            "initContainers": [{"name": "b", "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
                        }
                    }
                }
            }
        },
    }
    filled = schema.fill_list_keys(cronjob)
    pod_spec = filled["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert pod_spec["initContainers"][0]["ports"] == [{"containerPort": 53, "protocol": "UDP"}]
    # The caller's dict is untouched.
    assert "protocol" not in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        ("v1", "Pod", ("spec",)),
        ("v1", "ReplicationController", ("spec", "template", "spec")),
        ("apps/v1", "Deployment", ("spec", "template", "spec")),
        ("apps/v1", "StatefulSet", ("spec", "template", "spec")),
        ("apps/v1", "DaemonSet", ("spec", "template", "spec")),
        ("apps/v1", "ReplicaSet", ("spec", "template", "spec")),
        ("batch/v1", "Job", ("spec", "template", "spec")),
    ],
)
def test_fill_list_keys_pod_templates(api_version: str, kind: str, path: tuple[str, ...]) -> None:
    obj: dict[str, object] = {"apiVersion": api_version, "kind": kind}
    node: dict[str, object] = obj
    for name in path:
        child: dict[str, object] = {}
        node[name] = child
        node = child
    node["containers"] = [{"name": "a", "ports": [{"containerPort": 8080, "name": "http"}]}]
    filled = schema.fill_list_keys(obj)
    for name in path:
        filled = filled[name]
    assert filled["containers"][0]["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]


def test_fill_list_keys_service_ports() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
    }
    assert schema.fill_list_keys(service)["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP"},
        {"port": 53, "protocol": "UDP"},
    ]
    # Kinds without keyed ports come back as they were.
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"ports": "80"}}
    assert schema.fill_list_keys(config_map) == config_map


def test_fold_string_data() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": base64.b64encode(b"old").decode(), "b": base64.b64encode(b"keep").decode()},
        "stringData": {"a": "new", "c": "ünï"},
    }
    folded = schema.fold_string_data(secret)
    assert "stringData" not in folded
    assert folded["data"] == {
        "a": base64.b64encode(b"new").decode(),
        "b": base64.b64encode(b"keep").decode(),
        "c": base64.b64encode("ünï".encode()).decode(),
    }
    assert secret["stringData"] == {"a": "new", "c": "ünï"}
    assert schema.fold_string_data({"apiVersion": "v1", "kind": "Secret", "stringData": {}}) == {
        "apiVersion": "v1",
        "kind": "Secret",
    }
    other = {"apiVersion": "example.com/v1", "kind": "Secret", "stringData": {"a": "b"}}
    assert schema.fold_string_data(other) == other


def test_pod_spec_path() -> None:
    assert schema.pod_spec_path(CRONJOB) == ("spec", "jobTemplate", "spec", "template", "spec")
    assert schema.pod_spec_path(SERVICE) is None


def test_omit_empty_metadata() -> None:
    obj = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "x",
            "labels": {},
            "annotations": {"a": "1"},
            "finalizers": [],
            "ownerReferences": [],
        },
        "data": {},
    }
    assert schema.omit_empty_metadata(obj) == {
        "kind": "ConfigMap",
        "metadata": {"name": "x", "annotations": {"a": "1"}},
        "data": {},
    }
    assert obj["metadata"]["labels"] == {}
