"""The in-memory API server's defaults, object by object against a real 1.36 API server.

Each manifest of ``defaults_corpus/`` (one file per kind, written as people write them) is created with a dry run
on the real control plane and on ``MemoryCluster(version="1.36")``. The two answers must be equal once what a
server makes up for itself is set aside: the uid (and the labels and selector a Job makes from it),
creationTimestamp, resourceVersion, managedFields (they record the request, not the defaults), and the values, but
not the presence, of allocated cluster IPs and node ports, of timestamps in a status and of the random suffix of
the ServiceAccount token volume. ``generation`` is compared: some kinds have none.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import reconcile as rc
from reconcile.apiserver import APISchema
from reconcile.manifests import load_manifests
from reconcile.model import GroupKind, Manifest, ResourceKey, split_api_version

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

if TYPE_CHECKING:
    from reconcile.cluster._kubernetes import KubernetesCluster

CORPUS = Path(__file__).parent / "defaults_corpus"
VERSION = "1.36"
SCHEMA = APISchema.for_version(VERSION)
CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")
SERVICE = GroupKind("", "Service")
POD = GroupKind("", "Pod")
PERSISTENT_VOLUME = GroupKind("", "PersistentVolume")
# What each server makes up for itself: set aside.
SERVER_METADATA = ("uid", "creationTimestamp", "resourceVersion", "managedFields")
# What each server makes up, but must make up in both answers: compared as present or absent.
UID, ALLOCATED, TIME = "<uid>", "<allocated>", "<time>"
TOKEN_VOLUME_PREFIX = "kube-api-access-"


def _corpus() -> list[tuple[str, Manifest]]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for obj, _line in load_manifests(path.read_text(encoding="utf-8"), file=path.name):
            cases.append((f"{path.stem}/{obj['metadata']['name']}", obj))
    return cases


CASES = _corpus()
CASE_IDS = [case_id for case_id, _ in CASES]
MANIFESTS = [obj for _, obj in CASES]
CRDS = {
    GroupKind(obj["spec"]["group"], obj["spec"]["names"]["kind"]): obj
    for obj in MANIFESTS
    if GroupKind(split_api_version(obj["apiVersion"])[0], obj["kind"]) == CRD
}


def _group_kind(obj: Manifest) -> GroupKind:
    return GroupKind(split_api_version(obj["apiVersion"])[0], obj["kind"])


def _namespaced(group_kind: GroupKind) -> bool:
    if group_kind in CRDS:
        return bool(CRDS[group_kind]["spec"]["scope"] == "Namespaced")
    return SCHEMA.kinds[group_kind].namespaced


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _dry_run(cluster: rc.protocols.Cluster, request: Manifest, *, apply: bool) -> Manifest:
    if apply:
        return cluster.apply(copy.deepcopy(request), dry_run=True)
    return cluster.create(copy.deepcopy(request), dry_run=True)


def _real_answer(cluster: KubernetesCluster, request: Manifest, *, apply: bool = False) -> Manifest:
    """The real server's dry-run create (or apply); a custom resource's CRD exists (for real) only meanwhile."""
    group_kind = _group_kind(request)
    if group_kind == POD:  # Pods need the default ServiceAccount, which the controller manager makes soon after
        account = ResourceKey("", "ServiceAccount", request["metadata"]["namespace"], "default")
        _wait_for(lambda: cluster.get(account) is not None, f"{account}")
    if group_kind not in CRDS:
        return _dry_run(cluster, request, apply=apply)
    crd = ResourceKey.from_manifest(CRDS[group_kind])
    cluster.create(copy.deepcopy(CRDS[group_kind]))
    try:
        return _dry_run(cluster, request, apply=apply)
    finally:
        cluster.delete(crd)
        _wait_for(lambda: cluster.get(crd) is None, f"{crd} to go")  # the CRD's own case creates it again


def _memory_answer(namespace: str, request: Manifest, *, apply: bool = False) -> Manifest:
    memory = rc.MemoryCluster(version=VERSION)
    memory.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    group_kind = _group_kind(request)
    if group_kind in CRDS:
        memory.create(copy.deepcopy(CRDS[group_kind]))
    return _dry_run(memory, request, apply=apply)


def _answers(cluster: KubernetesCluster, namespace: str, manifest: Manifest) -> tuple[Manifest, Manifest, Manifest]:
    """The request, the real server's answer and the in-memory cluster's."""
    request = copy.deepcopy(manifest)
    if _namespaced(_group_kind(request)):
        request["metadata"]["namespace"] = namespace
    return request, _real_answer(cluster, request), _memory_answer(namespace, request)


def _replace(value: Any, old: str, new: str) -> Any:
    """``value`` with every string equal to ``old`` (as a value, not a key) replaced by ``new``."""
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, old, new) for item in value]
    return new if value == old else value


def _mark_allocated(spec: dict[str, Any], asked: dict[str, Any]) -> None:
    """A Service's allocated addresses and ports, as present or absent (those the request named are kept)."""
    for name in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
        if name in spec and name not in asked:
            spec[name] = ALLOCATED
    asked_ports = asked.get("ports") or []
    for index, port in enumerate(spec.get("ports") or []):
        if "nodePort" in port and "nodePort" not in (asked_ports[index] if index < len(asked_ports) else {}):
            port["nodePort"] = ALLOCATED


def _mark_token_volume(spec: dict[str, Any]) -> None:
    """The ServiceAccount admission plugin names the token volume with a random suffix."""
    mounts = [
        m
        for field in ("containers", "initContainers")
        for c in spec.get(field) or []
        for m in c.get("volumeMounts") or []
    ]
    for named in [*(spec.get("volumes") or []), *mounts]:
        if str(named.get("name", "")).startswith(TOKEN_VOLUME_PREFIX):
            named["name"] = TOKEN_VOLUME_PREFIX


def _comparable(answer: Manifest, request: Manifest) -> Manifest:
    """``answer`` with what a server makes up for itself set aside or reduced to its presence."""
    out: Manifest = _replace(answer, answer["metadata"]["uid"], UID)  # a Job's selector and labels carry it
    for name in SERVER_METADATA:
        out["metadata"].pop(name, None)
    group_kind = _group_kind(out)
    if group_kind == SERVICE:
        _mark_allocated(out.get("spec") or {}, request.get("spec") or {})
    if group_kind == POD:
        _mark_token_volume(out.get("spec") or {})
    if group_kind == PERSISTENT_VOLUME and "lastPhaseTransitionTime" in (out.get("status") or {}):
        out["status"]["lastPhaseTransitionTime"] = TIME
    return out


def _differences(real: Any, memory: Any, path: str = "") -> list[str]:
    """Each place where the two answers differ, as ``path: real ..., memory ...``."""
    if isinstance(real, dict) and isinstance(memory, dict):
        found: list[str] = []
        for name in sorted(set(real) | set(memory), key=str):
            where = f"{path}.{name}"
            if name not in memory:
                found.append(f"{where}: real {real[name]!r}, memory has nothing")
            elif name not in real:
                found.append(f"{where}: memory {memory[name]!r}, real has nothing")
            else:
                found.extend(_differences(real[name], memory[name], where))
        return found
    if isinstance(real, list) and isinstance(memory, list) and len(real) == len(memory):
        return [
            d for i, (r, m) in enumerate(zip(real, memory, strict=True)) for d in _differences(r, m, f"{path}[{i}]")
        ]
    return [] if real == memory else [f"{path}: real {real!r}, memory {memory!r}"]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=CASE_IDS)
def test_dry_run_create_fills_the_real_servers_defaults(
    kube_cluster: KubernetesCluster, kube_namespace: str, manifest: Manifest
) -> None:
    request, real, memory = _answers(kube_cluster, kube_namespace, manifest)

    differences = _differences(_comparable(real, request), _comparable(memory, request))

    assert not differences, "\n".join(differences)


def _owned(answer: Manifest) -> list[tuple[str, str, Any]]:
    return [(e["manager"], e["operation"], e["fieldsV1"]) for e in answer["metadata"].get("managedFields") or []]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=CASE_IDS)
def test_dry_run_apply_records_the_real_servers_managed_fields(
    kube_cluster: KubernetesCluster, kube_namespace: str, manifest: Manifest
) -> None:
    # What a server-side apply owns, field by field: the fields the applier sent, never a key the server defaulted.
    request = copy.deepcopy(manifest)
    if _namespaced(_group_kind(request)):
        request["metadata"]["namespace"] = kube_namespace
    real = _real_answer(kube_cluster, request, apply=True)
    memory = _memory_answer(kube_namespace, request, apply=True)
    assert _owned(memory) == _owned(real)
