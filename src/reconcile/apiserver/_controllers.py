"""The controllers a cluster runs beside its API server, played synchronously inside the write that gives them work.

A real cluster's controllers act later, on their own: the garbage collector deletes objects whose owners are gone
and carries out foreground and orphan deletion, the namespace controller empties a terminating namespace, the
apiextensions controllers serve a new CustomResourceDefinition and empty one being deleted, the tokens controller
deletes token Secrets whose ServiceAccount is gone. Here :class:`Controllers` does each at once, so a test sees the
state a real cluster settles in. With ``simulate_workloads`` the workload controllers and kubelets are played too:
each workload's status is written at once in the shape a settled rollout leaves (:data:`SETTLED_STATUS`: every
replica updated, ready and available, a Job complete, a Pod running and ready), so demos and notebooks show the
health a real cluster would reach.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from reconcile.apiserver._admission import crd_info
from reconcile.apiserver._builtin import CRD, NAMESPACE, SECRET, crd_kind
from reconcile.apiserver._defaults import metadata_of
from reconcile.apiserver._kinds import Kind
from reconcile.apiserver._lists import FieldPath, ListType
from reconcile.apiserver._podadmission import PROTECTION_FINALIZERS, in_use, namespace_defaults
from reconcile.apiserver._watch import EventType
from reconcile.jsonvalues import deep_copy
from reconcile.model import GroupKind, Manifest, PropagationPolicy, ResourceKey

API_SERVER = "kube-apiserver"
"""The field manager of the API server's own writes (its namespaces, a CRD's conditions)."""
CONTROLLER_MANAGER = "kube-controller-manager"
"""The field manager of the controllers' writes (statuses)."""
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"
_TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type, not a password


def _replicas(obj: Manifest) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and value >= 0 else 1


def _generation(obj: Manifest) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 1)


def _deployment(obj: Manifest, now: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastUpdateTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": now},
        ],
    }


def _stateful_set(obj: Manifest, _: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    revision = f"{(obj.get('metadata') or {}).get('name', '')}-{_generation(obj)}"
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "readyReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
    }


def _daemon_set(obj: Manifest, _: str) -> dict[str, Any]:
    # One node: one pod, scheduled, updated, ready and available.
    return {
        "observedGeneration": _generation(obj),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "updatedNumberScheduled": 1,
        "numberReady": 1,
        "numberAvailable": 1,
        "numberMisscheduled": 0,
    }


def _replica_set(obj: Manifest, _: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "fullyLabeledReplicas": replicas,
    }


def _job(obj: Manifest, now: str) -> dict[str, Any]:
    completions = (obj.get("spec") or {}).get("completions")
    return {
        "startTime": now,
        "completionTime": now,
        "succeeded": completions if isinstance(completions, int) and completions > 0 else 1,
        "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}],
    }


def _pod(obj: Manifest, now: str) -> dict[str, Any]:
    containers = (obj.get("spec") or {}).get("containers") or []
    return {
        "phase": "Running",
        "startTime": now,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        "containerStatuses": [
            {
                "name": container.get("name", ""),
                "image": container.get("image", ""),
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": now}},
            }
            for container in containers
            if isinstance(container, dict)
        ],
    }


SETTLED_STATUS: dict[GroupKind, Callable[[Manifest, str], dict[str, Any]]] = {
    GroupKind("apps", "Deployment"): _deployment,
    GroupKind("apps", "StatefulSet"): _stateful_set,
    GroupKind("apps", "DaemonSet"): _daemon_set,
    GroupKind("apps", "ReplicaSet"): _replica_set,
    GroupKind("batch", "Job"): _job,
    GroupKind("", "Pod"): _pod,
}
"""The settled status of each workload kind, from the object and the time (RFC 3339)."""


@attrs.define(kw_only=True, eq=False)
class Controllers:
    """The built-in controllers, acting on the store of the API server that runs them.

    The server hands them what they need: its objects (read only: every change goes through the server) and its
    ways to write. Raw writes (``store``, ``remove``) are what a controller's own bookkeeping does (finalizers,
    owner references); ``write`` is an Update through the server's write path, recorded in ``managedFields``.

    Attributes:
        objects: The server's objects by key, live (the server's own dict).
        store: Store a changed object as is, with a new resourceVersion and a watch event of the given type.
        remove: Remove an object for good (its finalizers are done).
        delete: Start deleting an object with a propagation policy, as a DELETE does.
        write: Update an object through the write path: ``write(key, change, manager)``.
        serve: Serve a kind a CustomResourceDefinition defines, with its list types and schemas per version.
        now: The server's clock, as an RFC 3339 timestamp.
        create: Create an object through the write path as ``create(obj, manager)`` (a controller's own objects).
    """

    objects: Mapping[ResourceKey, Manifest]
    store: Callable[[ResourceKey, Manifest, EventType], None]
    remove: Callable[[ResourceKey], None]
    delete: Callable[[ResourceKey, PropagationPolicy], None]
    write: Callable[[ResourceKey, Callable[[Manifest], None], str], None]
    serve: Callable[[Kind, dict[FieldPath, ListType], dict[str, Mapping[str, Any]]], None]
    now: Callable[[], str]
    create: Callable[[Manifest, str], None]

    # --- the garbage collector, the namespace controller, the tokens controller ---

    def dependents(self, uid: str) -> list[ResourceKey]:
        """The objects whose ``ownerReferences`` name ``uid``."""
        return [
            key
            for key, obj in self.objects.items()
            if any(ref.get("uid") == uid for ref in metadata_of(obj).get("ownerReferences") or [])
        ]

    def orphan(self, key: ResourceKey, owner_uid: str) -> None:
        """Drop the reference to ``owner_uid`` from ``key``'s owners, as orphan propagation does."""
        obj = deep_copy(self.objects[key])
        metadata = metadata_of(obj)
        references = [ref for ref in metadata.get("ownerReferences") or [] if ref.get("uid") != owner_uid]
        if references:
            metadata["ownerReferences"] = references
        else:
            metadata.pop("ownerReferences", None)
        self.store(key, obj, "MODIFIED")

    def collect(self) -> None:
        """Run the controllers that act on deletions until nothing more happens.

        Objects being deleted are finished (:meth:`_finish_deletion`); objects none of whose owners exist, and token
        Secrets whose ServiceAccount is gone, are deleted in the background.
        """
        progressed = True
        while progressed:
            progressed = False
            uids = {metadata_of(obj).get("uid") for obj in self.objects.values()}
            for key in sorted(self.objects):
                obj = self.objects.get(key)
                if obj is None:
                    continue
                metadata = metadata_of(obj)
                if metadata.get("deletionTimestamp"):
                    progressed = self._finish_deletion(key) or progressed
                    continue
                references = metadata.get("ownerReferences") or []
                orphaned_token = (
                    key.group_kind == SECRET
                    and obj.get("type") == _TOKEN_TYPE
                    and (metadata.get("annotations") or {}).get("kubernetes.io/service-account.uid") not in uids
                )
                if (references and not any(ref.get("uid") in uids for ref in references)) or orphaned_token:
                    self.delete(key, "Background")
                    progressed = True

    def _delete_each(self, keys: list[ResourceKey], propagation: PropagationPolicy) -> bool:
        """Delete those of ``keys`` not already being deleted; whether any was."""
        started = False
        for key in keys:
            if not metadata_of(self.objects[key]).get("deletionTimestamp"):
                self.delete(key, propagation)
                started = True
        return started

    def _drop_finalizer(self, key: ResourceKey, finalizer: str) -> None:
        obj = deep_copy(self.objects[key])
        metadata = metadata_of(obj)
        remaining = [f for f in metadata.get("finalizers") or [] if f != finalizer]
        if remaining:
            metadata["finalizers"] = remaining
        else:
            metadata.pop("finalizers", None)
        self.store(key, obj, "MODIFIED")

    def _finish_deletion(self, key: ResourceKey) -> bool:
        """Act on an object being deleted like its controllers would; whether anything happened."""
        obj = self.objects[key]
        uid = str(metadata_of(obj).get("uid"))
        progressed = False
        if key.group_kind == NAMESPACE:
            progressed = self._delete_each([k for k in self.objects if k.namespace == key.name], "Background")
            empty = not any(k.namespace == key.name for k in self.objects)
            if empty and (obj.get("spec") or {}).get("finalizers"):
                finalized = deep_copy(obj)
                finalized["spec"]["finalizers"] = []
                self.store(key, finalized, "MODIFIED")
                progressed = True
        if key.group_kind == CRD and CRD_FINALIZER in (metadata_of(obj).get("finalizers") or []):
            kind = crd_kind(obj)
            progressed = self._delete_each([k for k in self.objects if k.group_kind == kind], "Background")
            if not any(k.group_kind == kind for k in self.objects):
                self._drop_finalizer(key, CRD_FINALIZER)
                progressed = True
        protection = PROTECTION_FINALIZERS.get(key.group_kind)
        waiting_for = metadata_of(obj).get("finalizers") or []
        if protection is not None and protection in waiting_for and not in_use(key, obj, self.objects):
            self._drop_finalizer(key, protection)  # the pvc-protection and pv-protection controllers
            progressed = True
        if FOREGROUND in (metadata_of(self.objects[key]).get("finalizers") or []):
            progressed = self._delete_each(self.dependents(uid), "Foreground") or progressed
            if not self.dependents(uid):
                self._drop_finalizer(key, FOREGROUND)
                progressed = True
        current = self.objects[key]
        waiting = metadata_of(current).get("finalizers") or (
            key.group_kind == NAMESPACE and (current.get("spec") or {}).get("finalizers")
        )
        if not waiting:
            self.remove(key)
            progressed = True
        return progressed

    # --- namespaces, CRD establishment, workloads ---

    def populate(self, namespace: str) -> None:
        """What the service account and root CA controllers create in a new namespace."""
        for obj in namespace_defaults(namespace):
            if ResourceKey.from_manifest(obj) not in self.objects:
                self.create(obj, CONTROLLER_MANAGER)

    def establish(self, key: ResourceKey) -> None:
        """What the apiextensions controllers do once a CRD is written: serve it, accept its names."""
        crd = self.objects[key]
        info, overrides, schemas = crd_info(crd, key)
        if not metadata_of(crd).get("deletionTimestamp"):
            self.serve(info, overrides, schemas)
        names = dict((crd.get("spec") or {}).get("names") or {})
        names.setdefault("singular", info.kind.lower())
        names.setdefault("listKind", f"{info.kind}List")
        versions = (crd.get("spec") or {}).get("versions") or [{"name": info.version}]
        storage = next(str(v["name"]) for v in versions if v.get("storage", True))
        now = self.now()

        def accept(obj: Manifest) -> None:
            metadata = metadata_of(obj)
            if not metadata.get("deletionTimestamp") and CRD_FINALIZER not in (metadata.get("finalizers") or []):
                metadata["finalizers"] = [*(metadata.get("finalizers") or []), CRD_FINALIZER]

        def establish(obj: Manifest) -> None:
            status = obj.setdefault("status", {})
            conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
            for kind, reason, message in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ):
                if (conditions.get(kind) or {}).get("status") != "True":
                    conditions[kind] = {
                        "lastTransitionTime": now,
                        "message": message,
                        "reason": reason,
                        "status": "True",
                        "type": kind,
                    }
            status["conditions"] = list(conditions.values())
            status["acceptedNames"] = names
            stored = list(status.get("storedVersions") or [])
            status["storedVersions"] = stored if storage in stored else [*stored, storage]

        self.write(key, accept, API_SERVER)
        self.write(key, establish, API_SERVER)

    def settle(self, key: ResourceKey) -> None:
        """Write the status a settled rollout leaves on a workload (:data:`SETTLED_STATUS`); others are left alone."""
        settled = SETTLED_STATUS.get(key.group_kind)
        if settled is None:
            return
        now = self.now()
        self.write(key, lambda obj: obj.__setitem__("status", settled(obj, now)), CONTROLLER_MANAGER)
