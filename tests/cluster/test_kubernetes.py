"""KubernetesCluster against a real API server (etcd + kube-apiserver 1.36 + kube-controller-manager).

The control plane and the cluster are the session's, from the ``reconcile`` pytest plugin (which marks those tests
``integration``). The pure helpers behind the cluster have a few fast unit tests at the end.

Retries and failures the real server will not produce on demand are played by a small fake API server on
127.0.0.1 that answers canned responses.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

import reconcile as rc
from reconcile.apiserver import LAST_APPLIED
from reconcile.cluster._kube_errors import error_from_response, retry_after
from reconcile.cluster._kube_merge import last_applied_text, three_way_patch
from reconcile.cluster._kubernetes import KubernetesCluster
from reconcile.deadline import bounded
from reconcile.errors import ClusterError, ConflictError, InvalidError, NotFoundError, UnknownKindError
from reconcile.model import GroupKind, ResourceKey
from reconcile.testing._controlplane import ControlPlane
from support import eventually

CONFIGMAP = GroupKind("", "ConfigMap")
SERVICE = GroupKind("", "Service")
SECRET = GroupKind("", "Secret")
EVENT = GroupKind("", "Event")


# ----------------------------------------------------------------------------------------------------
# Fixtures.


# control_plane, kube_cluster and kube_namespace come from the reconcile pytest plugin.


@pytest.fixture
def kube(kube_cluster: KubernetesCluster) -> KubernetesCluster:
    """The session's cluster, its request counter reset so that a test sees only its own requests."""
    kube_cluster.stats.reset()
    return kube_cluster


@pytest.fixture
def ns(kube_namespace: str) -> str:
    return kube_namespace


@pytest.fixture
def kubectl(control_plane: ControlPlane, kubectl_binary: str) -> Callable[..., str]:
    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [kubectl_binary, f"--kubeconfig={control_plane.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    return run


def configmap(ns: str, name: str, data: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **metadata},
        "data": data if data is not None else {"a": "1"},
    }


def cm_key(ns: str, name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", ns, name)


def rv(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


def managers(obj: dict[str, Any]) -> dict[str, str]:
    return {entry["manager"]: entry["operation"] for entry in obj["metadata"].get("managedFields") or []}


def crd(group: str, kind: str, *, scope: str = "Namespaced") -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                        }
                    },
                }
            ],
        },
    }


# ----------------------------------------------------------------------------------------------------
# Discovery.


@pytest.mark.integration
def test_discovery_knows_scopes_versions_and_verbs(kube):
    assert kube.is_namespaced(GroupKind("apps", "Deployment")) is True
    assert kube.is_namespaced(CONFIGMAP) is True
    assert kube.is_namespaced(GroupKind("", "Namespace")) is False
    assert kube.is_namespaced(GroupKind("rbac.authorization.k8s.io", "ClusterRole")) is False
    assert kube.is_namespaced(GroupKind("nothing.example.com", "Nothing")) is None

    cronjob = kube.served_kind(GroupKind("batch", "CronJob"))
    assert cronjob is not None
    assert (cronjob.versions, cronjob.plural, cronjob.api_version) == (("v1",), "cronjobs", "batch/v1")
    deployment = kube.served_kind(GroupKind("apps", "Deployment"))
    assert deployment is not None
    assert {"status", "scale"} <= deployment.subresources
    assert {"get", "list", "patch", "delete"} <= deployment.verbs
    # A kind served in two versions: the group's preferred version first.
    hpa = kube.served_kind(GroupKind("autoscaling", "HorizontalPodAutoscaler"))
    assert hpa is not None
    assert hpa.versions == ("v2", "v1")
    # Subresources are never kinds of their own.
    assert all("/" not in k.plural for k in kube.served_kinds())


@pytest.mark.integration
def test_unknown_kinds_refresh_discovery_at_most_once_per_interval(control_plane):
    with KubernetesCluster.from_kubeconfig(control_plane.kubeconfig, discovery_interval=60.0) as cluster:
        cluster.refresh_discovery()
        per_refresh = cluster.stats["discovery"]
        assert per_refresh > 10  # /api, /apis, then one document per group version
        cluster.stats.reset()
        for _ in range(5):
            assert cluster.is_namespaced(GroupKind("nothing.example.com", "Nothing")) is None
        assert cluster.stats["discovery"] == 0  # refreshed less than discovery_interval ago
    with KubernetesCluster.from_kubeconfig(control_plane.kubeconfig, discovery_interval=0.0) as cluster:
        cluster.refresh_discovery()
        per_refresh = cluster.stats["discovery"]
        cluster.stats.reset()
        assert cluster.is_namespaced(GroupKind("nothing.example.com", "Nothing")) is None
        assert cluster.stats["discovery"] == per_refresh  # one refresh for one miss, not one per retry


@pytest.mark.integration
def test_a_crd_applied_is_usable_at_once_without_a_restart(kube, ns):
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    widget = GroupKind(group, "Widget")
    assert kube.is_namespaced(widget) is None

    stored = kube.apply(crd(group, "Widget"))

    conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert kube.is_namespaced(widget) is True
    created = kube.apply(
        {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": ns}, "spec": {"n": 1}}
    )
    assert created["spec"] == {"n": 1}
    listed = kube.list(widget, namespace=ns)
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in listed] == [(f"{group}/v1", "Widget", "w1")]

    kube.delete(ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", f"widgets.{group}"))
    assert eventually(lambda: kube.is_namespaced(widget) is None)


@pytest.mark.integration
def test_wait_established_by_kind_or_name(kube):
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    name = f"gadgets.{group}"
    kube.create(crd(group, "Gadget", scope="Cluster"))  # create waits too; wait again explicitly

    by_kind = kube.wait_established(GroupKind(group, "Gadget"), timeout=10)
    by_name = kube.wait_established(name, timeout=10)

    assert by_kind["metadata"]["name"] == by_name["metadata"]["name"] == name
    assert kube.is_namespaced(GroupKind(group, "Gadget")) is False
    with pytest.raises(NotFoundError):
        kube.wait_established(f"nothings.{group}", timeout=1)
    kube.delete(ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", name))


@pytest.mark.integration
def test_unknown_kinds_and_versions_raise_unknown_kind_error(kube, ns):
    nothing = ResourceKey("nothing.example.com", "Nothing", ns, "x")
    with pytest.raises(UnknownKindError) as raised:
        kube.get(nothing)
    assert raised.value.key == nothing
    assert raised.value.retryable is False
    with pytest.raises(UnknownKindError):
        kube.list(GroupKind("nothing.example.com", "Nothing"))
    with pytest.raises(UnknownKindError) as raised:
        kube.apply({"apiVersion": "nothing.example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}})
    # The server's words, and what to do: a missing CRD is installed first; a removed version is replaced.
    assert raised.value.message == (
        'no matches for kind "Nothing" in version "nothing.example.com/v1": install the CustomResourceDefinition '
        "for nothing.example.com/Nothing on the cluster first (or sync it in an earlier wave of the same application)"
    )
    with pytest.raises(UnknownKindError) as raised:
        kube.apply({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "x", "namespace": ns}})
    assert (
        raised.value.message == 'no matches for kind "Deployment" in version "apps/v1beta1": the server serves apps/v1'
    )


# ----------------------------------------------------------------------------------------------------
# Reads.


@pytest.mark.integration
def test_list_pages_through_more_than_500_objects(kube, ns):
    objs = [configmap(ns, f"cm-{i:04d}", {"i": str(i)}) for i in range(620)]

    results = kube.apply_many(objs)

    assert [r["metadata"]["name"] for r in results if isinstance(r, dict)] == [f"cm-{i:04d}" for i in range(620)]
    kube.stats.reset()
    listed = [o for o in kube.list(CONFIGMAP, namespace=ns) if o["metadata"]["name"].startswith("cm-")]
    assert len(listed) == 620
    assert kube.stats["list"] == 2  # 500 a page
    assert {(o["apiVersion"], o["kind"]) for o in listed} == {("v1", "ConfigMap")}
    assert [o["metadata"]["name"] for o in listed] == [f"cm-{i:04d}" for i in range(620)]
    assert listed[7]["data"] == {"i": "7"}


@pytest.mark.integration
def test_versions_read_metadata_only_and_match_the_objects(kube, ns, monkeypatch):
    objs = [configmap(ns, f"cm-{i:04d}", {"i": "x" * 200}) for i in range(520)]
    kube.apply_many(objs)
    answers: list[dict[str, Any]] = []
    send = kube._send

    def watched(*args: Any, **kwargs: Any) -> Any:
        sent = send(*args, **kwargs)
        answers.append(json.loads(sent[1]))
        return sent

    monkeypatch.setattr(kube, "_send", watched)
    kube.stats.reset()
    versions = kube.versions(CONFIGMAP, namespace=ns)
    monkeypatch.undo()
    assert {answer["kind"] for answer in answers} == {"PartialObjectMetadataList"}
    assert all("data" not in item for answer in answers for item in answer["items"])
    assert kube.stats["list"] == 2  # 500 a page, as a LIST
    listed = {ResourceKey.from_manifest(o): rv(o) for o in kube.list(CONFIGMAP, namespace=ns)}
    assert versions == listed
    assert cm_key(ns, "cm-0007") in versions
    assert kube.versions(GroupKind("", "Namespace"), namespace=ns) == {}  # no cluster-scoped object in a namespace
    namespaces = kube.versions(GroupKind("", "Namespace"))
    assert ResourceKey("", "Namespace", "", ns) in namespaces
    with pytest.raises(rc.errors.UnknownKindError):
        kube.versions(GroupKind("nothing.example.com", "Nothing"))


@pytest.mark.integration
def test_list_everything_fills_kinds_and_skips_events(kube, ns):
    kube.apply(configmap(ns, "one"))
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "two", "namespace": ns}})
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "ev", "namespace": ns},
            "involvedObject": {"kind": "ConfigMap", "name": "one", "namespace": ns},
            "reason": "Test",
            "message": "hello",
        }
    )

    everything = kube.list(namespace=ns)
    keys = {ResourceKey.from_manifest(o) for o in everything}

    assert cm_key(ns, "one") in keys
    assert ResourceKey("", "Secret", ns, "two") in keys
    assert not any(k.kind == "Event" for k in keys)
    assert all(o.get("apiVersion") and o.get("kind") for o in everything)
    assert everything == sorted(everything, key=ResourceKey.from_manifest)
    assert [o["metadata"]["name"] for o in kube.list(EVENT, namespace=ns)] == ["ev"]
    cluster_wide = kube.list()
    assert ResourceKey("", "Namespace", "", ns) in {ResourceKey.from_manifest(o) for o in cluster_wide}
    # Servers before 1.22 serve Ingress twice (extensions and networking.k8s.io); only one copy would be listed.
    assert not any(o["apiVersion"].startswith("extensions/") for o in cluster_wide)


@pytest.mark.integration
def test_list_many_scopes_to_namespaces(kube, ns):
    kube.apply(configmap(ns, "mine"))
    kube.apply(configmap("default", f"elsewhere-{ns}"))

    found = kube.list_many([CONFIGMAP, SECRET, GroupKind("nothing.example.com", "Nothing")], namespaces=[ns])

    assert {o["metadata"]["namespace"] for o in found} == {ns}
    assert "mine" in {o["metadata"]["name"] for o in found}
    kube.delete(cm_key("default", f"elsewhere-{ns}"))


@pytest.mark.integration
def test_get_returns_the_object_or_none(kube, ns):
    kube.apply(configmap(ns, "here", {"k": "v"}))

    found = kube.get(cm_key(ns, "here"))

    assert found is not None
    assert (found["apiVersion"], found["kind"], found["data"]) == ("v1", "ConfigMap", {"k": "v"})
    assert kube.get(cm_key(ns, "absent")) is None
    assert kube.get(cm_key("no-such-namespace", "absent")) is None
    role = kube.get(ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:basic-user"))
    assert role is not None
    assert role["metadata"]["name"] == "system:basic-user"


# ----------------------------------------------------------------------------------------------------
# Server-side apply.


@pytest.mark.integration
def test_apply_creates_updates_and_leaves_an_unchanged_object_alone(kube, ns):
    created = kube.apply(configmap(ns, "ssa", {"a": "1"}))
    again = kube.apply(configmap(ns, "ssa", {"a": "1"}))
    changed = kube.apply(configmap(ns, "ssa", {"a": "2"}))

    assert rv(again) == rv(created)
    assert rv(changed) != rv(created)
    assert changed["data"] == {"a": "2"}
    assert managers(changed) == {"reconcile": "Apply"}
    assert kube.stats["apply"] == 3


@pytest.mark.integration
def test_apply_removes_fields_it_applied_before_and_keeps_others(kube, ns):
    kube.apply(configmap(ns, "fields", {"a": "1", "b": "2"}))
    kube.patch(cm_key(ns, "fields"), {"metadata": {"labels": {"team": "x"}}}, field_manager="kubectl-edit")

    after = kube.apply(configmap(ns, "fields", {"a": "1"}))

    assert after["data"] == {"a": "1"}
    assert after["metadata"]["labels"] == {"team": "x"}
    assert managers(after) == {"reconcile": "Apply", "kubectl-edit": "Update"}


@pytest.mark.integration
def test_apply_conflict_lists_fields_and_force_takes_over(kube, ns):
    kube.apply(configmap(ns, "contested", {"a": "1"}), field_manager="other")

    with pytest.raises(ConflictError) as raised:
        kube.apply(configmap(ns, "contested", {"a": "2"}))
    error = raised.value
    assert (error.status, error.reason, error.fields, error.retryable) == (409, "Conflict", (".data.a",), False)
    assert error.key == cm_key(ns, "contested")
    assert 'conflict with "other"' in error.message
    assert kube.stats["apply"] == 2  # a field manager conflict is never retried

    forced = kube.apply(configmap(ns, "contested", {"a": "2"}), force=True)

    assert forced["data"] == {"a": "2"}
    assert "reconcile" in managers(forced)


@pytest.mark.integration
def test_service_port_without_protocol_is_filled_before_apply(kube, ns):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }

    stored = kube.apply(service)

    assert stored["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert service["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]  # the caller's dict is untouched


@pytest.mark.integration
def test_dry_runs_store_nothing(kube, ns):
    would = kube.apply(configmap(ns, "dry", {"a": "1"}), dry_run=True)
    assert would["data"] == {"a": "1"}
    assert kube.get(cm_key(ns, "dry")) is None
    assert kube.stats["dry-run apply"] == 1

    kube.create(configmap(ns, "dry"), dry_run=True)
    assert kube.get(cm_key(ns, "dry")) is None

    real = kube.apply(configmap(ns, "dry", {"a": "1"}))
    kube.patch(cm_key(ns, "dry"), {"data": {"a": "2"}}, dry_run=True)
    kube.apply(configmap(ns, "dry", {"a": "3"}), dry_run=True)
    kube.delete(cm_key(ns, "dry"), dry_run=True)
    live = kube.get(cm_key(ns, "dry"))
    assert live is not None
    assert (live["data"], rv(live)) == ({"a": "1"}, rv(real))


# ----------------------------------------------------------------------------------------------------
# Other writes.


@pytest.mark.integration
def test_create_replace_patch_and_delete(kube, ns):
    created = kube.create(configmap(ns, "plain", {"a": "1", "b": "2"}))
    assert created["data"] == {"a": "1", "b": "2"}

    with pytest.raises(ConflictError) as raised:
        kube.create(configmap(ns, "plain"))
    assert (raised.value.reason, raised.value.retryable) == ("AlreadyExists", False)
    assert kube.stats["create"] == 2  # a create is never repeated

    generated = kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
    assert generated["metadata"]["name"].startswith("gen-")
    assert generated["metadata"]["namespace"] == "default"  # the kubeconfig context's namespace
    kube.delete(ResourceKey.from_manifest(generated))

    replaced = kube.replace(configmap(ns, "plain", {"only": "this"}))
    assert replaced["data"] == {"only": "this"}
    stale = configmap(ns, "plain", {"x": "y"}, resourceVersion=rv(created))
    kube.stats.reset()
    with pytest.raises(ConflictError) as raised:
        kube.replace(stale)
    assert raised.value.reason == "Conflict"
    assert kube.stats["update"] == 1  # a stale precondition stays stale: not retried

    patched = kube.patch(cm_key(ns, "plain"), {"data": {"only": None, "new": "v"}})
    assert patched["data"] == {"new": "v"}
    with pytest.raises(NotFoundError):
        kube.patch(cm_key(ns, "nothing-here"), {"data": {"a": "b"}})

    kube.delete(cm_key(ns, "plain"))
    assert kube.get(cm_key(ns, "plain")) is None
    with pytest.raises(NotFoundError) as raised:
        kube.delete(cm_key(ns, "plain"))
    assert (raised.value.status, raised.value.key) == (404, cm_key(ns, "plain"))
    assert raised.value.message == 'configmaps "plain" not found'
    with pytest.raises(NotFoundError) as raised:
        kube.replace(configmap(ns, "never-was"))


def owned_pair(kube: KubernetesCluster, ns: str, owner_name: str) -> tuple[ResourceKey, ResourceKey]:
    owner = kube.apply(configmap(ns, owner_name))
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner_name,
        "uid": owner["metadata"]["uid"],
    }
    kube.apply(configmap(ns, f"{owner_name}-child", ownerReferences=[reference]))
    return cm_key(ns, owner_name), cm_key(ns, f"{owner_name}-child")


@pytest.mark.integration
def test_delete_propagation_orphan_keeps_dependents_background_removes_them(kube, ns):
    owner, child = owned_pair(kube, ns, "orphaning")
    kube.delete(owner, propagation="Orphan")

    def orphaned() -> bool:
        obj = kube.get(child)
        return kube.get(owner) is None and obj is not None and not obj["metadata"].get("ownerReferences")

    assert eventually(orphaned)

    owner, child = owned_pair(kube, ns, "collecting")
    kube.delete(owner, propagation="Background")
    assert kube.get(owner) is None
    assert eventually(lambda: kube.get(child) is None)


@pytest.mark.integration
def test_invalid_objects_name_the_field(kube, ns):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bad", "namespace": ns},
        "spec": {"ports": [{"port": 70000, "protocol": "TCP"}]},
    }

    with pytest.raises(InvalidError) as raised:
        kube.apply(service)

    error = raised.value
    assert (error.status, error.reason, error.field, error.retryable) == (422, "Invalid", "spec.ports[0].port", False)
    assert error.key == ResourceKey("", "Service", ns, "bad")
    assert "must be between 1 and 65535" in error.message
    with pytest.raises(InvalidError) as raised:
        kube.apply({"kind": "ConfigMap", "metadata": {"name": "x"}})
    assert raised.value.field == "apiVersion"


@pytest.mark.integration
def test_errors_never_echo_secret_values(kube, ns):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "leaky", "namespace": ns},
        "data": {"token": 98765432},  # not a string: the server quotes the value back
    }

    with pytest.raises(InvalidError) as raised:
        kube.apply(secret)

    assert raised.value.field == ".data.token"
    assert "98765432" not in str(raised.value)
    assert "<redacted>" in str(raised.value)
    kube.stats.reset()
    with pytest.raises(InvalidError):  # not base64: the server's 500 is the request's fault, not retried
        kube.apply({**secret, "data": {"token": "bm90IGJhc2U2NCBzdXBlcnNlY3JldA"}})
    assert kube.stats["apply"] == 1


@pytest.mark.integration
def test_a_missing_namespace_is_not_found(kube):
    with pytest.raises(NotFoundError) as raised:
        kube.apply(configmap("no-such-namespace", "x"))
    assert raised.value.message == 'namespaces "no-such-namespace" not found'


# ----------------------------------------------------------------------------------------------------
# Client-side apply, as kubectl does it.


@pytest.mark.integration
def test_client_side_apply_three_way_and_kubectl_reads_the_annotation(kube, ns, kubectl):
    manifest = configmap(ns, "csa", {"a": "1", "b": "2"}, labels={"app": "csa"})

    created = kube.apply_client_side(manifest)

    applied = json.loads(created["metadata"]["annotations"][LAST_APPLIED])
    assert applied == {**manifest, "metadata": {**manifest["metadata"], "annotations": {}}}
    shown = json.loads(kubectl("apply", "view-last-applied", "configmap/csa", "-n", ns, "-o", "json"))
    assert shown == applied

    kubectl("patch", "configmap", "csa", "-n", ns, "--type=merge", "-p", '{"data":{"c":"by-kubectl"}}')
    updated = kube.apply_client_side(configmap(ns, "csa", {"a": "10"}, labels={"app": "csa"}))

    assert updated["data"] == {"a": "10", "c": "by-kubectl"}  # b left the manifest; c is somebody else's
    assert updated["metadata"]["labels"] == {"app": "csa"}
    assert json.loads(updated["metadata"]["annotations"][LAST_APPLIED])["data"] == {"a": "10"}
    unchanged = kube.apply_client_side(configmap(ns, "csa", {"a": "10"}, labels={"app": "csa"}))
    assert rv(unchanged) == rv(updated)

    # kubectl takes over from our annotation: dropping the label deletes it, c stays.
    yaml_manifest = json.dumps(configmap(ns, "csa", {"a": "10"}))
    kubectl("apply", "-f", "-", stdin=yaml_manifest)
    after_kubectl = kube.get(cm_key(ns, "csa"))
    assert after_kubectl is not None
    assert "labels" not in after_kubectl["metadata"]
    assert after_kubectl["data"] == {"a": "10", "c": "by-kubectl"}


# ----------------------------------------------------------------------------------------------------
# Concurrency.


@pytest.mark.integration
def test_apply_many_keeps_input_order_and_returns_errors_in_place(kube, ns):
    objs = [configmap(ns, f"many-{i}") for i in range(20)]
    objs[5] = configmap("no-such-namespace", "lost")
    objs[9] = {"apiVersion": "nothing.example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}}

    results = kube.apply_many(objs)

    assert isinstance(results[5], NotFoundError)
    assert isinstance(results[9], UnknownKindError)
    names = [r["metadata"]["name"] if isinstance(r, dict) else None for r in results]
    assert names == [f"many-{i}" if i not in (5, 9) else None for i in range(20)]
    assert kube.stats["apply"] == 19


# ----------------------------------------------------------------------------------------------------
# Watches, and the informer on top of them.


@pytest.mark.integration
def test_watch_streams_changes_after_the_listed_version(kube, ns):
    kube.apply(configmap(ns, "before"))
    items, version = kube.list_with_version(CONFIGMAP, namespace=ns)
    assert "before" in {o["metadata"]["name"] for o in items}
    assert int(version) > 0

    kube.apply(configmap(ns, "watched", {"a": "1"}))
    kube.apply(configmap(ns, "watched", {"a": "2"}))
    kube.delete(cm_key(ns, "watched"))
    seen: list[tuple[str, str, dict[str, str]]] = []
    events = kube.watch(CONFIGMAP, version, timeout=10, namespace=ns)
    for event_type, obj in events:
        if event_type != "BOOKMARK":
            seen.append((event_type, obj["metadata"]["name"], obj.get("data", {})))
        if event_type == "DELETED":
            break
    events.close()  # type: ignore[attr-defined]

    assert seen == [
        ("ADDED", "watched", {"a": "1"}),
        ("MODIFIED", "watched", {"a": "2"}),
        ("DELETED", "watched", {"a": "2"}),
    ]
    assert kube.stats["watch"] == 1
    assert kube.get(cm_key(ns, "before")) is not None  # the connection pool still works after an early close


@pytest.mark.integration
def test_an_informer_follows_a_real_cluster(kube, ns):
    from reconcile.cluster._informer import Informer

    with Informer(kube.list_with_version, kube.watch, [CONFIGMAP], watch_timeout=5) as informer:
        kube.apply(configmap(ns, "informed", {"v": "1"}))
        assert eventually(lambda: (informer.get(cm_key(ns, "informed")) or {}).get("data") == {"v": "1"})
        kube.delete(cm_key(ns, "informed"))
        assert eventually(lambda: informer.get(cm_key(ns, "informed")) is None)


# ----------------------------------------------------------------------------------------------------
# Retries, against a fake API server.


class FakeApi:
    """An API server on 127.0.0.1 serving ConfigMaps' discovery and scripted answers for everything else."""

    DISCOVERY: ClassVar[dict[str, Any]] = {
        "/api": {"kind": "APIVersions", "versions": ["v1"]},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
        "/api/v1": {
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [
                {
                    "name": "configmaps",
                    "namespaced": True,
                    "kind": "ConfigMap",
                    "verbs": ["create", "delete", "get", "list", "patch", "update"],
                },
                {"name": "services", "namespaced": True, "kind": "Service", "verbs": ["get", "patch"]},
            ],
        },
    }

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[Any] = []
        self.script: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.fallback: tuple[int, dict[str, str], dict[str, Any]] = (200, {}, {})
        self.delay = 0.0  # seconds each scripted answer waits: a server whose storage is frozen
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length)
                if path in fake.DISCOVERY:
                    status, headers, body = 200, {}, fake.DISCOVERY[path]
                else:
                    fake.requests.append((self.command, path))
                    fake.bodies.append(json.loads(sent) if sent else None)
                    status, headers, body = fake.script.pop(0) if fake.script else fake.fallback
                    time.sleep(fake.delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            # http.server dispatches on these names.
            do_GET = _answer  # noqa: N815
            do_POST = _answer  # noqa: N815
            do_PATCH = _answer  # noqa: N815
            do_PUT = _answer  # noqa: N815
            do_DELETE = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def kubeconfig_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
                "current-context": "fake",
            }
        )
    )
    return path


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": details,
    }


OK_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}


def test_429_waits_as_retry_after_says_then_succeeds(tmp_path):
    with FakeApi() as fake:
        fake.script = [(429, {"Retry-After": "1"}, status(429, "TooManyRequests", "slow down")), (200, {}, OK_CM)]
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), backoff=0, max_backoff=0) as c:
            started = time.monotonic()
            found = c.get(cm_key("default", "x"))
            elapsed = time.monotonic() - started

    assert found == OK_CM
    assert elapsed >= 1.0  # backoff is zero: only Retry-After made it wait
    assert fake.requests == [("GET", "/api/v1/namespaces/default/configmaps/x")] * 2
    assert (c.stats["get"], c.stats.retries) == (2, 1)


def test_an_old_server_missing_a_defaulted_list_key_gets_the_apply_again_with_it_filled(tmp_path):
    refusal = status(
        500,
        "",
        "failed to create typed patch object (default/web; /v1, Kind=Service): .spec.ports: element 0: "
        'associative list with keys has an element that omits key field "protocol"',
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    with FakeApi() as fake:
        fake.script = [(500, {}, refusal), (200, {}, service)]
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), backoff=0) as c:
            assert c.apply(service)["metadata"]["name"] == "web"
    assert [method for method, _ in fake.requests] == ["PATCH", "PATCH"]
    assert fake.bodies[0]["spec"]["ports"] == [{"port": 80}]  # a current server defaults the key itself
    assert fake.bodies[1]["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert service["spec"]["ports"] == [{"port": 80}]  # the caller's object is untouched


def test_5xx_is_retried_then_raised_after_max_retries(tmp_path):
    with FakeApi() as fake:
        fake.fallback = (503, {}, status(503, "ServiceUnavailable", "etcd is sad"))
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), max_retries=3, backoff=0.001) as c:
            with pytest.raises(ClusterError) as raised:
                c.apply(OK_CM)
            applies = len(fake.requests)
            fake.requests.clear()
            with pytest.raises(ClusterError):
                c.create(OK_CM)
            creates = len(fake.requests)

    error = raised.value
    assert (error.status, error.reason, error.retryable) == (503, "ServiceUnavailable", True)
    assert error.message == "etcd is sad"
    assert error.key == cm_key("default", "x")
    assert applies == 4  # one try and three retries
    assert creates == 1  # a create that reached the server is never repeated


def test_optimistic_conflicts_are_retried_but_field_manager_conflicts_are_not(tmp_path):
    manager_conflict = status(
        409,
        "Conflict",
        'Apply failed with 1 conflict: conflict with "other": .data.a',
        causes=[{"reason": "FieldManagerConflict", "message": 'conflict with "other"', "field": ".data.a"}],
    )
    stale = status(409, "Conflict", "the object has been modified; please apply your changes to the latest version")
    with FakeApi() as fake:
        fake.script = [(409, {}, stale), (200, {}, OK_CM)]
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), backoff=0.001) as c:
            assert c.patch(cm_key("default", "x"), {"data": {"a": "1"}}) == OK_CM
            patches = len(fake.requests)
            fake.requests.clear()
            fake.script = [(409, {}, manager_conflict), (200, {}, OK_CM)]
            with pytest.raises(ConflictError) as raised:
                c.apply(OK_CM)
            applies = len(fake.requests)

    assert patches == 2
    assert applies == 1
    assert raised.value.fields == (".data.a",)


def test_a_delete_retried_after_it_succeeded_counts_as_done(tmp_path):
    with FakeApi() as fake:
        fake.script = [
            (504, {}, status(504, "Timeout", "the server timed out")),
            (404, {}, status(404, "NotFound", 'configmaps "x" not found', name="x", kind="configmaps")),
        ]
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), backoff=0.001) as c:
            c.delete(cm_key("default", "x"))

    assert fake.requests == [("DELETE", "/api/v1/namespaces/default/configmaps/x")] * 2


def test_a_create_refused_before_sending_is_retried(tmp_path):
    with FakeApi() as fake:
        c = KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), max_retries=2, backoff=0.001)
        c.refresh_discovery()
    # The fake server is gone: every connection is refused, so nothing was sent and a create may be repeated.
    with c, pytest.raises(ClusterError) as raised:
        c.create(OK_CM)
    assert (raised.value.status, raised.value.retryable) == (0, True)
    assert (c.stats["create"], c.stats.retries) == (3, 2)


def test_the_deadline_of_the_context_bounds_requests_and_their_retries(tmp_path):
    # An API server whose etcd is frozen: each request hangs half a second, then fails with a retryable 500.
    with FakeApi() as fake:
        fake.fallback = (500, {}, status(500, "InternalError", "etcdserver: request timed out"))
        fake.delay = 0.5
        with KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url), backoff=0.05) as c:
            c.is_namespaced(GroupKind("", "ConfigMap"))  # discovery first, outside the deadline
            started = time.monotonic()
            with bounded(1.2), pytest.raises(ClusterError) as raised:
                c.get(cm_key("default", "x"))
            took = time.monotonic() - started
            tries = len(fake.requests)
            with bounded(0.0), pytest.raises(ClusterError) as refused:
                c.get(cm_key("default", "x"))

    assert 2 <= tries <= 3, tries  # unbounded: six tries (max_retries=5)
    assert took < 2.5, took
    assert raised.value.retryable
    assert raised.value.message == "etcdserver: request timed out (not retried: the pass's deadline is reached)"
    assert refused.value.message == "get ConfigMap/default/x: not sent, the pass's deadline is reached"
    assert len(fake.requests) == tries, "nothing is sent past the deadline"


def test_connection_refused_is_a_retryable_status_0_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        config = kubeconfig_for(tmp_path, f"http://127.0.0.1:{port}")
        with (
            KubernetesCluster.from_kubeconfig(config, max_retries=2, backoff=0.001) as c,
            pytest.raises(ClusterError) as raised,
        ):
            c.get(cm_key("default", "x"))

    error = raised.value
    assert (error.status, error.retryable) == (0, True)
    assert f"127.0.0.1:{port}" in error.message
    assert "refused" in error.message.lower()
    assert c.stats["discovery"] == 3  # /api, tried three times


def test_a_watch_from_an_expired_version_says_so(tmp_path):
    from reconcile.errors import WatchExpiredError

    expired = status(410, "Expired", "too old resource version: 5 (100)")
    with FakeApi() as fake, KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, fake.url)) as c:
        fake.script = [(410, {}, expired)]
        with pytest.raises(WatchExpiredError, match="too old resource version"):
            list(c.watch(CONFIGMAP, "5", timeout=1))
        fake.script = [(200, {}, {"type": "ERROR", "object": expired})]
        with pytest.raises(WatchExpiredError, match="too old resource version"):
            list(c.watch(CONFIGMAP, "5", timeout=1))
    assert fake.requests == [("GET", "/api/v1/configmaps")] * 2


def test_bad_kubeconfig_is_a_configuration_error(tmp_path):
    with pytest.raises(rc.ConfigurationError):
        KubernetesCluster.from_kubeconfig(tmp_path / "missing")
    with pytest.raises(rc.ConfigurationError):
        KubernetesCluster.from_kubeconfig(kubeconfig_for(tmp_path, "http://127.0.0.1:1"), context="nope")
    with pytest.raises(rc.ConfigurationError, match="inside the cluster"):
        KubernetesCluster.in_cluster()  # not in a pod: no service account, no KUBERNETES_SERVICE_HOST


# ----------------------------------------------------------------------------------------------------
# The reconciler, unchanged, on a real cluster.


@pytest.mark.integration
def test_reconciler_syncs_heals_and_prunes_on_a_real_cluster(kube, ns, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n"
    )
    (app / "service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        "spec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
    reconciler = rc.Reconciler(
        name=f"app-{ns}",
        source=rc.DirectorySource(app),
        renderer=rc.DirectoryRenderer(),
        cluster=kube,
        namespace=ns,
        policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
    )
    settings, web = cm_key(ns, "settings"), ResourceKey("", "Service", ns, "web")

    first = reconciler.reconcile()
    assert first.error is None
    assert first.sync_status is rc.SyncStatus.SYNCED
    assert first.sync is not None
    assert first.sync.phase is rc.OperationPhase.SUCCEEDED
    live_web = kube.get(web)
    assert live_web is not None
    assert live_web["spec"]["ports"][0]["protocol"] == "TCP"

    kube.stats.reset()
    quiet = reconciler.reconcile()
    assert quiet.sync_status is rc.SyncStatus.SYNCED
    assert quiet.sync is None
    assert kube.stats["apply"] == 0

    kube.patch(settings, {"data": {"color": "red"}}, field_manager="kubectl-edit")
    healed = reconciler.reconcile()
    assert healed.error is None
    assert healed.sync is not None
    assert {r.key: r.action for r in healed.resources}[settings] is rc.SyncAction.UPDATE
    live_settings = kube.get(settings)
    assert live_settings is not None
    assert live_settings["data"] == {"color": "blue"}

    (app / "service.yaml").unlink()
    pruned = reconciler.reconcile()
    assert pruned.error is None
    assert {r.key: r.action for r in pruned.resources}[web] is rc.SyncAction.PRUNE
    assert eventually(lambda: kube.get(web) is None)
    assert kube.get(settings) is not None


# ----------------------------------------------------------------------------------------------------
# The pure helpers, without a server.


def test_three_way_patch_deletes_what_left_the_manifest_and_keeps_what_others_set():
    original = {"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}}
    modified = {"data": {"a": "10"}, "metadata": {"labels": {"x": "1"}}}
    current = {"data": {"a": "1", "b": "2", "c": "theirs"}, "metadata": {"labels": {"x": "1", "y": "theirs"}}}

    assert three_way_patch(original, modified, current) == {"data": {"a": "10", "b": None}}
    assert three_way_patch(None, modified, current) == {"data": {"a": "10"}}
    assert three_way_patch(modified, modified, {**current, "data": {"a": "10"}}) == {}
    # A field already gone from the live object needs no deletion; an empty map the manifest sets is kept.
    assert three_way_patch(original, {"data": {}}, {"data": {"a": "1"}}) == {"data": {"a": None}}
    assert three_way_patch({}, {"spec": {}}, {}) == {"spec": {}}


def test_last_applied_text_is_what_kubectl_writes():
    text = last_applied_text(
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x", "annotations": {LAST_APPLIED: "old"}}}
    )
    assert text == '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"annotations":{},"name":"x"}}\n'


def test_status_bodies_become_typed_errors():
    key = cm_key("ns", "x")

    def error(code: int, body: dict[str, Any] | bytes) -> ClusterError:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return error_from_response(code, data, key=key)[0]

    missing_type = error(404, b"404 page not found\n")
    assert (type(missing_type), missing_type.message) == (NotFoundError, "404 page not found")
    exists = error(409, status(409, "AlreadyExists", 'configmaps "x" already exists'))
    assert (type(exists), exists.reason, exists.retryable) == (ConflictError, "AlreadyExists", False)
    stale = error(409, status(409, "Conflict", "the object has been modified"))
    assert (stale.reason, stale.retryable) == ("Conflict", True)
    invalid = error(422, status(422, "Invalid", "bad", causes=[{"field": "spec.x"}, {"field": "spec.y"}]))
    assert (type(invalid), invalid.field) == (InvalidError, "spec.x")
    throttled = error(429, status(429, "TooManyRequests", "slow down"))
    assert (type(throttled), throttled.status, throttled.retryable) == (ClusterError, 429, True)
    forbidden = error(403, {"kind": "Status", "message": "no"})
    assert (forbidden.reason, forbidden.retryable) == ("Forbidden", False)
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
