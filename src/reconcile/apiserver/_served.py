"""What a schema does not say about a built-in kind: its URL name, scope, subresources and verbs.

These facts do not change between releases. The table was read from the discovery documents of a 1.36 API
server (``/api/v1``, ``/apis/<group>/<version>``); a test compares it with the discovery of the integration
tier's server. Kinds of other releases that the table lacks get the API server's own naming rule (the
lower-case kind plus ``s``/``es``/``ies``) and are namespaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from reconcile.apiserver._kinds import ALL_VERBS
from reconcile.model import GroupKind


@attrs.frozen
class Facts:
    """A built-in kind's URL name, scope, subresources and verbs."""

    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    verbs: frozenset[str] = ALL_VERBS


# Beta versions a server enables by default while its release still has them: those from before 1.24, when new
# beta APIs stopped being on by default, and flowcontrol's v1beta3 (an exception of 1.26). Each with the last
# minor release that enables it, or None for every release that has the version at all.
_LEGACY_BETAS: Mapping[tuple[str, str], int | None] = MappingProxyType(
    {
        ("autoscaling", "v2beta2"): None,
        ("flowcontrol.apiserver.k8s.io", "v1beta1"): None,
        ("flowcontrol.apiserver.k8s.io", "v1beta2"): None,
        ("flowcontrol.apiserver.k8s.io", "v1beta3"): None,
        ("storage.k8s.io", "v1beta1"): 26,  # CSIStorageCapacity; VolumeAttributesClass (1.31) is a new beta
    }
)


def enabled_by_default(group: str, version: str, minor: int) -> bool:
    """Whether a 1.``minor`` server serves ``group/version`` without flags: GA versions and legacy betas."""
    if "alpha" in version:
        return False
    if "beta" not in version:
        return True
    if (group, version) not in _LEGACY_BETAS:
        return False
    last = _LEGACY_BETAS[(group, version)]
    return last is None or minor <= last


# One kind a line: group (core for ""), kind, plural (= when plural_of(kind) gives it), scope (ns or cluster),
# subresources, verbs (- for all eight).
# Read from a 1.36 server's discovery; the last block adds the kinds 1.37 serves that 1.36 does not.
_TABLE_TEXT = """
core Binding = ns - create
core ComponentStatus = cluster - get,list
core ConfigMap = ns - -
core Endpoints endpoints ns - -
core Event = ns - -
core LimitRange = ns - -
core Namespace = cluster finalize,status create,delete,get,list,patch,update,watch
core Node = cluster proxy,status -
core PersistentVolume = cluster status -
core PersistentVolumeClaim = ns status -
core Pod = ns attach,binding,ephemeralcontainers,eviction,exec,log,portforward,proxy,resize,status -
core PodTemplate = ns - -
core ReplicationController = ns scale,status -
core ResourceQuota = ns status -
core Secret = ns - -
core Service = ns proxy,status -
core ServiceAccount = ns token -
admissionregistration.k8s.io MutatingAdmissionPolicy = cluster - -
admissionregistration.k8s.io MutatingAdmissionPolicyBinding = cluster - -
admissionregistration.k8s.io MutatingWebhookConfiguration = cluster - -
admissionregistration.k8s.io ValidatingAdmissionPolicy = cluster status -
admissionregistration.k8s.io ValidatingAdmissionPolicyBinding = cluster - -
admissionregistration.k8s.io ValidatingWebhookConfiguration = cluster - -
apiextensions.k8s.io CustomResourceDefinition = cluster status -
apiregistration.k8s.io APIService = cluster status -
apps ControllerRevision = ns - -
apps DaemonSet = ns status -
apps Deployment = ns scale,status -
apps ReplicaSet = ns scale,status -
apps StatefulSet = ns scale,status -
authentication.k8s.io SelfSubjectReview = cluster - create
authentication.k8s.io TokenReview = cluster - create
authorization.k8s.io LocalSubjectAccessReview = ns - create
authorization.k8s.io SelfSubjectAccessReview = cluster - create
authorization.k8s.io SelfSubjectRulesReview = cluster - create
authorization.k8s.io SubjectAccessReview = cluster - create
autoscaling HorizontalPodAutoscaler = ns status -
batch CronJob = ns status -
batch Job = ns status -
certificates.k8s.io CertificateSigningRequest = cluster approval,status -
coordination.k8s.io Lease = ns - -
discovery.k8s.io EndpointSlice = ns - -
events.k8s.io Event = ns - -
flowcontrol.apiserver.k8s.io FlowSchema = cluster status -
flowcontrol.apiserver.k8s.io PriorityLevelConfiguration = cluster status -
networking.k8s.io IPAddress = cluster - -
networking.k8s.io Ingress = ns status -
networking.k8s.io IngressClass = cluster - -
networking.k8s.io NetworkPolicy = ns - -
networking.k8s.io ServiceCIDR = cluster status -
node.k8s.io RuntimeClass = cluster - -
policy PodDisruptionBudget = ns status -
rbac.authorization.k8s.io ClusterRole = cluster - -
rbac.authorization.k8s.io ClusterRoleBinding = cluster - -
rbac.authorization.k8s.io Role = ns - -
rbac.authorization.k8s.io RoleBinding = ns - -
resource.k8s.io DeviceClass = cluster - -
resource.k8s.io ResourceClaim = ns status -
resource.k8s.io ResourceClaimTemplate = ns - -
resource.k8s.io ResourceSlice = cluster - -
scheduling.k8s.io PriorityClass = cluster - -
storage.k8s.io CSIDriver = cluster - -
storage.k8s.io CSINode = cluster - -
storage.k8s.io CSIStorageCapacity = ns - -
storage.k8s.io StorageClass = cluster - -
storage.k8s.io VolumeAttachment = cluster status -
storage.k8s.io VolumeAttributesClass = cluster - -
certificates.k8s.io ClusterTrustBundle = cluster - -
certificates.k8s.io PodCertificateRequest = ns status -
resource.k8s.io DeviceTaintRule = cluster status -
storagemigration.k8s.io StorageVersionMigration = cluster status -
"""


def plural_of(kind: str) -> str:
    """The API server's default resource name for a kind: lower case, plus ``s``, ``es`` or ``ies``."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def _parse(text: str) -> dict[GroupKind, Facts]:
    table: dict[GroupKind, Facts] = {}
    for line in text.strip().splitlines():
        group, kind, plural, scope, sub, verbs = line.split()
        table[GroupKind("" if group == "core" else group, kind)] = Facts(
            plural_of(kind) if plural == "=" else plural,
            namespaced=scope == "ns",
            subresources=frozenset(sub.split(",")) if sub != "-" else frozenset(),
            verbs=frozenset(verbs.split(",")) if verbs != "-" else ALL_VERBS,
        )
    return table


_TABLE: Mapping[GroupKind, Facts] = MappingProxyType(_parse(_TABLE_TEXT))

# Types with object metadata that are a subresource's body, not a resource of their own.
_SUBRESOURCE_TYPES = frozenset({"Scale", "Eviction", "TokenRequest"})


def facts(group_kind: GroupKind) -> Facts | None:
    """A built-in kind's facts; ``None`` for a subresource's type (``Scale``), which is no resource."""
    found = _TABLE.get(group_kind)
    if found is not None:
        return found
    if group_kind.kind in _SUBRESOURCE_TYPES:
        return None
    return Facts(plural_of(group_kind.kind), namespaced=True)
