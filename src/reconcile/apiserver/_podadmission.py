"""Admission plugins that change what is stored: service account tokens in Pods, storage protection finalizers.

- ServiceAccount: a Pod runs as ``spec.serviceAccountName`` (``default``), which must exist; unless the Pod or
  its account turns ``automountServiceAccountToken`` off, the Pod gets a projected ``kube-api-access-<suffix>``
  volume (a bound token, the cluster's CA from ``kube-root-ca.crt``, the namespace) mounted read-only in every
  container at :data:`TOKEN_MOUNT`.
- StorageObjectInUseProtection: a new PersistentVolumeClaim or PersistentVolume gets a finalizer that its
  protection controller removes once nothing uses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from reconcile.apiserver._defaults import metadata_of, spec_of
from reconcile.errors import ClusterError
from reconcile.model import GroupKind, Manifest, ResourceKey

TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"  # noqa: S105 - a path, not a password
"""Where a Pod's containers find the service account token."""

ROOT_CA = "kube-root-ca.crt"
"""The ConfigMap in every namespace that holds the cluster's CA."""

PROTECTION_FINALIZERS: Mapping[GroupKind, str] = {
    GroupKind("", "PersistentVolumeClaim"): "kubernetes.io/pvc-protection",
    GroupKind("", "PersistentVolume"): "kubernetes.io/pv-protection",
}
"""The finalizer storage protection adds to each kind on create."""

_NAMESPACE_FIELD = {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
_TOKEN_SECONDS = 3607  # the server's bound-token lifetime for the projected volume
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def protect(obj: Manifest, group_kind: GroupKind) -> None:
    """Add storage protection's finalizer to a new claim or volume."""
    finalizer = PROTECTION_FINALIZERS.get(group_kind)
    if finalizer is None:
        return
    metadata = metadata_of(obj)
    present = list(metadata.get("finalizers") or [])
    if finalizer not in present:
        metadata["finalizers"] = [*present, finalizer]


def _token_volume(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": _TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


def mount_service_account(pod: Manifest, key: ResourceKey, account: Manifest | None) -> None:
    """Admit a new Pod as the ServiceAccount plugin does: refuse a missing account, mount the token volume.

    Raises:
        ClusterError: 403 Forbidden, the Pod's service account does not exist.
    """
    spec = spec_of(pod)
    name = str(spec.get("serviceAccountName") or "default")
    if account is None:
        raise ClusterError(
            f'pods "{key.name}" is forbidden: error looking up service account {key.namespace}/{name}: '
            f'serviceaccount "{name}" not found',
            key=key,
            status=403,
            reason="Forbidden",
            retryable=True,  # the account may be created next (the namespace's default one is, by a controller)
        )
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = account.get("automountServiceAccountToken")
    volumes = spec.get("volumes") or []
    containers = [c for field in ("initContainers", "containers") for c in spec.get(field) or [] if isinstance(c, dict)]
    mounted = any(m.get("mountPath") == TOKEN_MOUNT for c in containers for m in c.get("volumeMounts") or [])
    if automount is False or mounted:
        return
    volume = f"kube-api-access-{''.join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))}"
    spec["volumes"] = [*volumes, _token_volume(volume)]
    for container in containers:
        mount = {"name": volume, "readOnly": True, "mountPath": TOKEN_MOUNT}
        container["volumeMounts"] = [*(container.get("volumeMounts") or []), mount]


def namespace_defaults(namespace: str) -> list[Manifest]:
    """What the controllers create in every new namespace: the ``default`` ServiceAccount and the CA ConfigMap."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA, "namespace": namespace},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nin-memory cluster\n-----END CERTIFICATE-----\n"},
        },
    ]


def in_use(key: ResourceKey, obj: Manifest, objects: Mapping[ResourceKey, Manifest]) -> bool:
    """Whether a claim is used by a Pod that has not finished, or a volume is still bound."""
    if key.kind == "PersistentVolume":
        return ((obj.get("status") or {}).get("phase")) == "Bound"
    for pod_key, pod in objects.items():
        if pod_key.kind != "Pod" or pod_key.group or pod_key.namespace != key.namespace:
            continue
        if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
            continue
        claims = [
            (v.get("persistentVolumeClaim") or {}).get("claimName")
            for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict)
        ]
        if key.name in claims:
            return True
    return False
