from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.apiserver import ATOMIC, SET, ListType, fields
from reconcile.manifests import load_manifests
from reconcile.model import GroupKind

DEPLOYMENT = GroupKind("apps", "Deployment")
SERVICE = GroupKind("", "Service")
CONFIGMAP = GroupKind("", "ConfigMap")
WIDGET = GroupKind("example.com", "Widget")


def deployment(**spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "web", "image": "nginx:1.25"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
            **spec,
        },
    }


def entry(manager: str, operation: str, fields_v1: dict[str, Any], api_version: str = "apps/v1") -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": "2024-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1,
    }


# --- field sets ---


def test_field_set_matches_what_a_real_server_records() -> None:
    # The applied configuration behind a real managedFields entry (from an Argo CD test fixture).
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx-deployment",
            "namespace": "default",
            "labels": {
                "app": "missing",
                "applications.argoproj.io/app-name": "nginx",
                "something-else": "bla",
            },
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx", "applications.argoproj.io/app-name": "nginx"}},
                "spec": {
                    "containers": [
                        {
                            "image": "nginx:1.23.1",
                            "imagePullPolicy": "Never",
                            "livenessProbe": {
                                "exec": {"command": ["cat", "non-existent-file"]},
                                "initialDelaySeconds": 5,
                                "periodSeconds": 180,
                            },
                            "name": "nginx",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
                        }
                    ]
                },
            },
        },
    }
    expected = {
        "f:metadata": {"f:labels": {"f:app": {}, "f:applications.argoproj.io/app-name": {}, "f:something-else": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}, "f:applications.argoproj.io/app-name": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"nginx"}': {
                            ".": {},
                            "f:image": {},
                            "f:imagePullPolicy": {},
                            "f:livenessProbe": {
                                "f:exec": {"f:command": {}},
                                "f:initialDelaySeconds": {},
                                "f:periodSeconds": {},
                            },
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                    "f:protocol": {},
                                }
                            },
                            "f:resources": {"f:requests": {"f:cpu": {}, "f:memory": {}}},
                        }
                    }
                },
            },
        },
    }
    assert fields.field_set(config, DEPLOYMENT) == expected


def test_field_set_leaves_sets_and_server_owned_metadata() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "x",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "3",
            "creationTimestamp": None,
            "finalizers": ["example.com/a", "kubernetes"],
            "annotations": {},
        },
        "data": {"a": "1", "b": None},
    }
    assert fields.field_set(obj, CONFIGMAP) == {
        "f:data": {"f:a": {}, "f:b": {}},
        "f:metadata": {"f:annotations": {}, "f:finalizers": {'v:"example.com/a"': {}, 'v:"kubernetes"': {}}},
    }
    # Nothing but identity: an empty set.
    assert fields.field_set({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, CONFIGMAP) == {}


def test_field_set_keys_are_compact_sorted_go_json() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"protocol": "UDP", "port": 53, "name": "dns<&>"}]},
    }
    assert fields.field_set(service, SERVICE) == {
        "f:spec": {
            "f:ports": {
                'k:{"port":53,"protocol":"UDP"}': {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}},
            }
        }
    }
    widget = {"spec": {"items": [{"id": "a<b", "n": 1.0}]}}
    overrides = {("spec", "items"): ListType.keyed("n", "id")}
    assert fields.field_set(widget, WIDGET, overrides=overrides) == {
        "f:spec": {"f:items": {'k:{"id":"a\\u003cb","n":1}': {".": {}, "f:id": {}, "f:n": {}}}}
    }


def test_field_set_custom_resource_lists_are_atomic_unless_overridden() -> None:
    widget = {"spec": {"tags": ["a", "b"], "selector": {"x": "1"}}}
    assert fields.field_set(widget, WIDGET) == {"f:spec": {"f:selector": {"f:x": {}}, "f:tags": {}}}
    overrides = {("spec", "tags"): SET, ("spec", "selector"): ATOMIC}
    assert fields.field_set(widget, WIDGET, overrides=overrides) == {
        "f:spec": {"f:selector": {}, "f:tags": {'v:"a"': {}, 'v:"b"': {}}}
    }


# --- set algebra ---

A = {"f:spec": {"f:replicas": {}, "f:ports": {'k:{"port":80}': {".": {}, "f:port": {}, "f:name": {}}}}}
B = {"f:spec": {"f:ports": {'k:{"port":80}': {"f:name": {}, "f:targetPort": {}}}}, "f:data": {}}


def test_union() -> None:
    assert fields.union(A, B) == {
        "f:data": {},
        "f:spec": {
            "f:ports": {'k:{"port":80}': {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
            "f:replicas": {},
        },
    }


def test_difference() -> None:
    assert fields.difference(A, B) == {
        "f:spec": {"f:ports": {'k:{"port":80}': {".": {}, "f:port": {}}}, "f:replicas": {}}
    }
    # Removing the item itself keeps its fields (sets are sets of paths).
    assert fields.difference(A, {"f:spec": {"f:ports": {'k:{"port":80}': {}}}}) == {
        "f:spec": {"f:ports": {'k:{"port":80}': {"f:name": {}, "f:port": {}}}, "f:replicas": {}}
    }


def test_intersection_and_is_empty() -> None:
    assert fields.intersection(A, B) == {"f:spec": {"f:ports": {'k:{"port":80}': {"f:name": {}}}}}
    assert fields.is_empty({})
    assert fields.is_empty(fields.intersection(A, {"f:other": {}}))
    assert not fields.is_empty(A)
    # A node with children only is not itself a member.
    assert fields.intersection(A, {"f:spec": {}}) == {}


def test_paths_are_readable_and_sorted() -> None:
    fs = fields.union(A, {"f:metadata": {"f:finalizers": {'v:"kubernetes"': {}}}})
    assert fields.paths(fs) == [
        '.metadata.finalizers[="kubernetes"]',
        ".spec.ports[port=80]",
        ".spec.ports[port=80].name",
        ".spec.ports[port=80].port",
        ".spec.replicas",
    ]
    ports = {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {"f:targetPort": {}}}}}
    assert fields.paths(ports) == ['.spec.ports[port=80,protocol="TCP"].targetPort']


def test_set_functions_do_not_mutate() -> None:
    a, b = copy.deepcopy(A), copy.deepcopy(B)
    fields.union(a, b)
    fields.difference(a, b)
    fields.intersection(a, b)
    assert (a, b) == (A, B)


path_elements = st.sampled_from(["f:a", "f:b", 'k:{"name":"x"}', 'v:"y"'])
field_sets = st.sets(st.lists(path_elements, min_size=1, max_size=3).map(tuple), max_size=6).map(fields._from_paths)


@given(field_sets, field_sets)
def test_set_algebra_laws(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert fields.union(a, b) == fields.union(b, a)
    assert fields.intersection(a, b) == fields.intersection(b, a)
    assert fields.union(fields.difference(a, b), fields.intersection(a, b)) == fields.union(a, {})
    assert fields.is_empty(fields.intersection(fields.difference(a, b), b))
    assert fields._to_paths(fields.union(a, {})) == fields._to_paths(a)


# --- changes ---


def test_changed_fields_on_create_and_update() -> None:
    new = {"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v"}}
    assert fields.changed_fields(None, new, CONFIGMAP) == {
        "f:data": {".": {}, "f:k": {}},
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
    }
    newer = {"metadata": {"name": "x", "labels": {"a": "2", "b": "1"}}, "data": {"k": "v"}}
    assert fields.changed_fields(new, newer, CONFIGMAP) == {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}}
    assert fields.changed_fields(newer, newer, CONFIGMAP) == {}


def test_changed_and_removed_fields_in_keyed_lists() -> None:
    old = deployment(containers=[{"name": "web", "image": "a", "env": [{"name": "X", "value": "1"}]}])
    new = deployment(
        containers=[
            {"name": "web", "image": "b", "env": [{"name": "Y", "value": "2"}]},
            {"name": "side", "image": "c"},
        ]
    )
    containers = ("f:spec", "f:template", "f:spec", "f:containers")
    changed = fields.changed_fields(old, new, DEPLOYMENT)
    node = changed
    for element in containers:
        node = node[element]
    assert node == {
        'k:{"name":"side"}': {".": {}, "f:image": {}, "f:name": {}},
        'k:{"name":"web"}': {
            "f:env": {'k:{"name":"Y"}': {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {},
        },
    }
    removed = fields.removed_fields(old, new, DEPLOYMENT)
    assert fields.paths(removed) == [
        '.spec.template.spec.containers[name="web"].env[name="X"]',
        '.spec.template.spec.containers[name="web"].env[name="X"].name',
        '.spec.template.spec.containers[name="web"].env[name="X"].value',
    ]


def test_compare_atomic_values_and_type_changes() -> None:
    old = {"spec": {"args": ["a"], "selector": {"matchLabels": {"a": "1"}}, "x": {"y": 1}, "n": 1}}
    new = {"spec": {"args": ["a", "b"], "selector": {"matchLabels": {"a": "2"}}, "x": "flat", "n": 1.0}}
    result = fields.compare(old, new, DEPLOYMENT)
    assert fields.paths(result.modified) == [".spec.args", ".spec.selector", ".spec.x"]
    assert fields.paths(result.removed) == [".spec.x.y"]
    assert result.added == {}
    # Booleans are not numbers.
    assert fields.paths(fields.changed_fields({"a": 1}, {"a": True}, CONFIGMAP)) == [".a"]


# --- managedFields ---


def test_owned_fields_and_owners_merge_entries() -> None:
    live = {
        "metadata": {
            "managedFields": [
                entry("reconcile", "Apply", {"f:spec": {"f:replicas": {}}}),
                entry("reconcile", "Update", {"f:spec": {"f:paused": {}}}),
                entry("kubectl-edit", "Update", {"f:metadata": {"f:labels": {"f:a": {}}}}, "apps/v1"),
                entry("kubectl-edit", "Update", {"f:metadata": {"f:labels": {"f:b": {}}}}, "apps/v1beta1"),
            ]
        }
    }
    assert fields.owned_fields(live, "reconcile") == {"f:spec": {"f:replicas": {}}}
    assert fields.owned_fields(live, "reconcile", "Update") == {"f:spec": {"f:paused": {}}}
    assert fields.owned_fields(live, "reconcile", None) == {"f:spec": {"f:paused": {}, "f:replicas": {}}}
    assert fields.owned_fields(live, "nobody") == {}
    assert fields.owners(live) == {
        "reconcile": {"f:spec": {"f:paused": {}, "f:replicas": {}}},
        "kubectl-edit": {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}},
    }
    assert fields.owners({"metadata": {}}) == {}
    assert fields.owned_fields(None, "reconcile") == {}


# --- merge_apply ---


def test_merge_apply_merges_maps_and_keyed_lists() -> None:
    live = deployment(
        replicas=3,
        containers=[
            {
                "name": "web",
                "image": "nginx:1",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "args": ["--x"],
            },
            {"name": "side", "image": "busybox"},
        ],
    )
    config = deployment(
        containers=[
            {"name": "extra", "image": "extra:1"},
            {
                "name": "web",
                "image": "nginx:2",
                "ports": [
                    {"containerPort": 443, "protocol": "TCP"},
                    {"containerPort": 80, "protocol": "TCP"},
                ],
                "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                "args": ["--y"],
            },
        ]
    )
    merged = fields.merge_apply(live, config, previously_owned={}, owned_by_others={}, group_kind=DEPLOYMENT)
    assert merged["spec"]["replicas"] == 3
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {
            "name": "web",
            "image": "nginx:2",
            "imagePullPolicy": "IfNotPresent",
            "ports": [
                {"containerPort": 80, "protocol": "TCP", "name": "http"},
                {"containerPort": 443, "protocol": "TCP"},
            ],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "args": ["--y"],
        },
        {"name": "side", "image": "busybox"},
        {"name": "extra", "image": "extra:1"},
    ]
    # Neither input was touched, nor shares anything with the result.
    merged["metadata"]["labels"]["x"] = "y"
    merged["spec"]["selector"]["matchLabels"]["x"] = "y"
    assert live["metadata"]["labels"] == {"app": "web"}
    assert live["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert config["spec"]["template"]["spec"]["containers"][1]["args"] == ["--y"]


def test_merge_apply_ports_differing_in_protocol_are_different_items() -> None:
    live = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 53, "protocol": "UDP"}]}}
    config = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 53, "protocol": "TCP"}]}}
    merged = fields.merge_apply(live, config, previously_owned={}, owned_by_others={}, group_kind=SERVICE)
    assert merged["spec"]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


def test_merge_apply_sets_atomic_maps_and_nulls() -> None:
    live = deployment(paused=True)
    live["metadata"]["finalizers"] = ["a", "b"]
    live["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    config = deployment(paused=None, absent=None)
    config["metadata"]["finalizers"] = ["c", "a"]
    merged = fields.merge_apply(live, config, previously_owned={}, owned_by_others={}, group_kind=DEPLOYMENT)
    assert merged["metadata"]["finalizers"] == ["a", "b", "c"]
    assert merged["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    # A null empties a live field and adds nothing where there was none.
    assert merged["spec"]["paused"] is None
    assert "absent" not in merged["spec"]


def test_merge_apply_on_create_drops_nulls() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "x", "labels": None}, "data": {"a": "1", "b": None}}
    assert fields.merge_apply(None, config, previously_owned={}, owned_by_others={}, group_kind=CONFIGMAP) == {
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {"a": "1"},
    }


def test_merge_apply_removes_fields_no_longer_applied() -> None:
    before = deployment(replicas=3, paused=False)
    before["metadata"]["labels"]["tier"] = "front"
    live = copy.deepcopy(before)
    live["spec"]["revisionHistoryLimit"] = 10  # a default nobody owns
    previously = fields.field_set(before, DEPLOYMENT)
    config = deployment()
    merged = fields.merge_apply(live, config, previously_owned=previously, owned_by_others={}, group_kind=DEPLOYMENT)
    assert "replicas" not in merged["spec"]
    assert "paused" not in merged["spec"]
    assert merged["metadata"]["labels"] == {"app": "web"}
    assert merged["spec"]["revisionHistoryLimit"] == 10


def test_merge_apply_keeps_fields_others_own() -> None:
    before = deployment(replicas=3)
    previously = fields.field_set(before, DEPLOYMENT)
    others = {"f:spec": {"f:replicas": {}}}
    merged = fields.merge_apply(
        before, deployment(), previously_owned=previously, owned_by_others=others, group_kind=DEPLOYMENT
    )
    assert merged["spec"]["replicas"] == 3


def test_merge_apply_drops_maps_emptied_by_removal() -> None:
    before = {"kind": "ConfigMap", "metadata": {"name": "x", "annotations": {"a": "1"}}, "data": {"k": "v"}}
    config = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    merged = fields.merge_apply(
        before,
        config,
        previously_owned=fields.field_set(before, CONFIGMAP),
        owned_by_others={},
        group_kind=CONFIGMAP,
    )
    assert merged == {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}


def test_merge_apply_removes_whole_map_when_nothing_under_it_is_owned() -> None:
    before = deployment(
        containers=[{"name": "web", "image": "a", "resources": {"requests": {"cpu": "1"}}}],
    )
    live = copy.deepcopy(before)
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "2"}  # unowned
    merged = fields.merge_apply(
        live,
        deployment(containers=[{"name": "web", "image": "a"}]),
        previously_owned=fields.field_set(before, DEPLOYMENT),
        owned_by_others={},
        group_kind=DEPLOYMENT,
    )
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "a"}]


def test_merge_apply_removes_keyed_items_no_longer_applied() -> None:
    before = deployment(containers=[{"name": "web", "image": "a"}, {"name": "side", "image": "b"}])
    previously = fields.field_set(before, DEPLOYMENT)
    config = deployment(containers=[{"name": "web", "image": "a"}])

    def containers(others: dict[str, Any]) -> list[Any]:
        merged = fields.merge_apply(
            before, config, previously_owned=previously, owned_by_others=others, group_kind=DEPLOYMENT
        )
        return [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]

    side = 'k:{"name":"side"}'
    at = ("f:spec", "f:template", "f:spec", "f:containers")

    def owning(node: dict[str, Any]) -> dict[str, Any]:
        for element in reversed(at):
            node = {element: node}
        return node

    assert containers({}) == ["web"]
    # Another manager owning the item keeps it.
    assert containers(owning({side: {".": {}, "f:image": {}}})) == ["web", "side"]
    # Owning a field inside the item only does not (the API server's rule).
    assert containers(owning({side: {"f:image": {}}})) == ["web"]


def test_merge_apply_custom_resource_with_override() -> None:
    overrides = {("spec", "items"): ListType.keyed("id")}
    before = {"spec": {"items": [{"id": "a", "v": 1}, {"id": "b", "v": 2}]}}
    live = {"spec": {"items": [{"id": "a", "v": 1, "extra": True}, {"id": "b", "v": 2}]}}
    merged = fields.merge_apply(
        live,
        {"spec": {"items": [{"id": "a", "v": 5}]}},
        previously_owned=fields.field_set(before, WIDGET, overrides=overrides),
        owned_by_others={},
        group_kind=WIDGET,
        overrides=overrides,
    )
    assert merged == {"spec": {"items": [{"id": "a", "v": 5, "extra": True}]}}
    # Without the override the list is atomic and replaced whole.
    atomic = fields.merge_apply(
        live,
        {"spec": {"items": [{"id": "a", "v": 5}]}},
        previously_owned={},
        owned_by_others={},
        group_kind=WIDGET,
    )
    assert atomic == {"spec": {"items": [{"id": "a", "v": 5}]}}


# --- conflicts ---


def test_find_conflicts() -> None:
    live = deployment(replicas=3)
    others = {
        "kubectl-edit": {"f:spec": {"f:replicas": {}}},
        "hpa": {"f:metadata": {"f:labels": {"f:app": {}}}},
        "ops": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}},
    }
    config = deployment(replicas=5, containers=[{"name": "web", "image": "nginx:2"}])
    assert fields.find_conflicts(live, config, others, DEPLOYMENT) == [
        (".spec.replicas", "kubectl-edit"),
        ('.spec.template.spec.containers[name="web"].image', "ops"),
    ]
    # Equal values are shared, not conflicts.
    assert fields.find_conflicts(live, deployment(replicas=3), others, DEPLOYMENT) == []
    # Against no live object everything is added.
    assert fields.find_conflicts(None, config, others, DEPLOYMENT) == [
        (".metadata.labels.app", "hpa"),
        (".spec.replicas", "kubectl-edit"),
        ('.spec.template.spec.containers[name="web"].image', "ops"),
    ]


# --- predict_apply ---


def live_deployment() -> dict[str, Any]:
    """A Deployment as a server returns it after `reconcile` applied `deployment(replicas=2)`."""
    config = deployment(
        replicas=2, containers=[{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]
    )
    live = fields.predict_apply(None, config)
    live["metadata"].update(
        {
            "uid": "1234",
            "resourceVersion": "42",
            "generation": 1,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "managedFields": [
                entry("reconcile", "Apply", fields.field_set(fields.apply_configuration(config), DEPLOYMENT)),
                entry(
                    "kube-controller-manager",
                    "Update",
                    {
                        "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                        "f:status": {"f:replicas": {}},
                    },
                ),
            ],
        }
    )
    spec = live["spec"]
    spec.update({"progressDeadlineSeconds": 600, "revisionHistoryLimit": 10})
    spec["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    spec["template"]["metadata"]["creationTimestamp"] = None
    spec["template"]["spec"].update({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "securityContext": {}})
    spec["template"]["spec"]["containers"][0].update(
        {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "resources": {}}
    )
    live["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    return live


def test_predict_apply_is_identity_when_nothing_would_change() -> None:
    live = live_deployment()
    config = deployment(
        replicas=2, containers=[{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]
    )
    assert fields.predict_apply(live, config) == live
    # Server-owned metadata and status in the config change nothing either.
    noisy = copy.deepcopy(config)
    noisy["metadata"].update({"resourceVersion": "1", "uid": "other", "creationTimestamp": None})
    noisy["spec"]["template"]["metadata"]["creationTimestamp"] = None
    noisy["status"] = {"replicas": 0}
    assert fields.predict_apply(live, noisy) == live
    # Empty metadata maps are never stored, so they change nothing.
    empty = copy.deepcopy(config)
    empty["metadata"]["annotations"] = {}
    assert fields.predict_apply(live, empty) == live
    assert live == live_deployment()


def test_predict_apply_predicts_changes() -> None:
    live = live_deployment()
    config = deployment(
        replicas=4, containers=[{"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 80}]}]
    )
    predicted = fields.predict_apply(live, config)
    assert predicted["spec"]["replicas"] == 4
    assert predicted["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    # Everything else stays as it is live.
    predicted["spec"]["replicas"] = 2
    predicted["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    assert predicted == live


def test_predict_apply_removes_a_field_applied_before() -> None:
    live = live_deployment()
    config = deployment(containers=[{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
    predicted = fields.predict_apply(live, config)
    assert "replicas" not in predicted["spec"]
    # Another manager's field stays, and so do defaults nobody owns.
    assert predicted["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert predicted["spec"]["revisionHistoryLimit"] == 10
    # A removed container port goes, the container stays.
    config = deployment(replicas=2, containers=[{"name": "web", "image": "nginx:1.25"}])
    container = fields.predict_apply(live, config)["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_predict_apply_as_another_manager_removes_nothing() -> None:
    live = live_deployment()
    config = deployment(containers=[{"name": "web", "image": "nginx:1.25"}])
    predicted = fields.predict_apply(live, config, manager="someone-else")
    assert predicted == live


def test_predict_apply_without_managed_fields_removes_nothing() -> None:
    live = live_deployment()
    del live["metadata"]["managedFields"]
    predicted = fields.predict_apply(live, deployment(containers=[{"name": "web", "image": "nginx:1.25"}]))
    assert predicted == live


def test_predict_apply_new_object_and_secret() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "stringData": {"password": "hunter2"},
    }
    predicted = fields.predict_apply(None, secret)
    assert predicted == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    live = copy.deepcopy(predicted)
    live["type"] = "Opaque"
    live["metadata"]["managedFields"] = [entry("reconcile", "Apply", {"f:stringData": {"f:password": {}}}, "v1")]
    assert fields.predict_apply(live, secret) == live


def test_predict_apply_drops_namespace_of_cluster_scoped_kinds() -> None:
    config = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [],
    }
    live = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
        "rules": [],
    }
    assert fields.predict_apply(live, config) == live


def test_list_key_errors() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443}, {"port": 80, "protocol": "TCP"}]},
    }
    assert fields.list_key_errors(service, SERVICE) == [
        (
            ".spec.ports",
            'element 1: associative list with keys has an element that omits key field "protocol"',
        ),
        (".spec.ports", 'duplicate entries for key [port=80,protocol="TCP"]'),
    ]
    nested = deployment(containers=[{"name": "web", "env": [{"value": "x"}]}])
    assert fields.list_key_errors(nested, DEPLOYMENT) == [
        (
            '.spec.template.spec.containers[name="web"].env',
            'element 0: associative list with keys has an element that omits key field "name"',
        )
    ]
    assert fields.list_key_errors(deployment(), DEPLOYMENT) == []


def test_changed_fields_on_create_do_not_own_spec_itself() -> None:
    created = fields.changed_fields(None, deployment(replicas=1), DEPLOYMENT)
    assert "." not in created["f:spec"]
    assert "." not in created["f:metadata"]
    assert created["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert created["f:spec"]["f:selector"] == {}
    # A custom resource starts from an empty object: its spec is added with everything in it.
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}
    assert fields.changed_fields(None, widget, WIDGET) == {"f:spec": {".": {}, "f:size": {}}}


def test_merge_apply_never_strips_the_key_of_a_kept_item() -> None:
    before = deployment(containers=[{"name": "web", "image": "a"}, {"name": "side", "image": "b"}])
    others = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"side"}': {".": {}}}}}}}
    merged = fields.merge_apply(
        before,
        deployment(containers=[{"name": "web", "image": "a"}]),
        previously_owned=fields.field_set(before, DEPLOYMENT),
        owned_by_others=others,
        group_kind=DEPLOYMENT,
    )
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "a"},
        {"name": "side"},
    ]


@pytest.mark.parametrize(
    ("config", "live", "predicted"),
    [
        ("ssd-svc-no-label-config.yaml", "ssd-svc-label-live.yaml", "ssd-svc-no-label-predicted-live.json"),
        ("ssd-configmap-config.yaml", "ssd-configmap-live.yaml", "ssd-configmap-predicted-live.json"),
    ],
)
def test_predict_apply_agrees_with_a_real_server(
    config: str, live: str, predicted: str, conformance_diff: Path
) -> None:
    """A real API server's dry-run apply of ``config`` over ``live`` (from the Argo CD conformance corpus)."""

    def load(name: str) -> dict[str, Any]:
        ((obj, _),) = load_manifests((conformance_diff / "fixtures" / name).read_text(), file=name)
        return obj

    expected = load(predicted)
    mine = fields.predict_apply(load(live), load(config), manager="argocd-controller")
    for obj in (expected, mine):
        obj["metadata"].pop("managedFields")
    assert mine == expected


# The project's own objects (tests/diff/fixtures): a live object, a config, and the answer a server gives to the
# dry-run apply of that config as argocd-controller.
OWN_FIXTURES = Path(__file__).resolve().parents[1] / "diff" / "fixtures"


@pytest.mark.parametrize("name", ["service-label", "configmap"])
def test_predict_apply_agrees_with_a_servers_answer(name: str) -> None:
    def load(suffix: str) -> dict[str, Any]:
        path = OWN_FIXTURES / f"{name}-{suffix}.yaml"
        ((obj, _),) = load_manifests(path.read_text(), file=path.name)
        return obj

    live, expected = load("live"), load("predicted-live")
    mine = fields.predict_apply(live, load("config"), manager="argocd-controller")
    assert mine != live  # the apply removes something the manager applied before
    for obj in (expected, mine):
        obj["metadata"].pop("managedFields")
    assert mine == expected


def test_as_stored_moves_a_secrets_string_data_ownership_to_data():
    secret = GroupKind("", "Secret")
    owned = {"f:stringData": {".": {}, "f:user": {}}, "f:data": {"f:token": {}}, "f:type": {}}
    assert fields.as_stored(owned, secret) == {"f:data": {".": {}, "f:user": {}, "f:token": {}}, "f:type": {}}
    # Other kinds, and Secrets without stringData, come back as they were.
    assert fields.as_stored(owned, GroupKind("example.com", "Secret")) == owned
    assert fields.as_stored({"f:data": {"f:a": {}}}, secret) == {"f:data": {"f:a": {}}}
