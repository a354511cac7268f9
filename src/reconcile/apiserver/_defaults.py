"""Defaults, as an API server of a chosen release (1.25 to the newest modelled) fills them in.

The in-memory cluster applies them to every object it stores; the local diff uses them to predict what a server
would store. They are what a server adds to an object before storing it and that needs no other object:

- its types' defaulting functions (a Deployment's strategy, a container's pull policy, a Job's completion mode);
- the few fields its registry sets on create (a Job's generated selector, a DaemonSet's template generation);
- the mutating admission plugins every cluster runs, where they only read the object itself (a Pod's service
  account name, priority and default tolerations; a Namespace's name label);
- what encoding makes explicit: ``metadata: {}`` in templates (``{creationTimestamp: null}`` before 1.34),
  ``"0"`` for an unset quantity, ``null`` for a list the type always writes.

Each default is filled only where the release's schema declares the field (:class:`APISchema`; each kind's
fields are read from it once per process, then every check is a set lookup), and, for the few defaults a feature
gate turned on in a later release than the field appeared, only from that release. The answers are checked field
by field against a real 1.36 API server (``tests/apiserver/test_defaults_conformance.py``).

Not here: what a cluster allocates (a Service's cluster IPs and node ports: the cluster's), and what depends on
other objects or on controllers (the ServiceAccount token volume, LimitRange and default StorageClass admission,
the ``kubernetes.io/pvc-protection`` and ``pv-protection`` finalizers that controllers later remove).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any

from reconcile.apiserver._builtin import CRD as _CRD
from reconcile.apiserver._builtin import NAMESPACE as _NAMESPACE
from reconcile.apiserver._builtin import SERVICE as _SERVICE
from reconcile.apiserver._schema import APISchema
from reconcile.jsonvalues import json_equal
from reconcile.model import GroupKind, Manifest

_HPA = GroupKind("autoscaling", "HorizontalPodAutoscaler")

_MAX_INT32 = 2**31 - 1
# The minor releases from which a default changed: an encoding change, or a feature gate on by default from then.
_OMITS_ZERO_CREATION_TIMESTAMP = 34  # templates' metadata no longer carries creationTimestamp: null
_NO_TEMPLATE_HOST_PORTS = 28  # host-network pod templates no longer get host ports (only Pods do)
_PREFIXED_JOB_LABELS = 27  # Jobs get batch.kubernetes.io/ labels, and select by batch.kubernetes.io/controller-uid
_PVC_RETENTION_POLICY = 27  # StatefulSetAutoDeletePVC on by default
_SELINUX_MOUNT = 27  # SELinuxMountReadWriteOncePod on by default (CSIDriver.seLinuxMount)
_POD_REPLACEMENT_POLICY = 29  # JobPodReplacementPolicy on by default; manualSelector defaulted to false
_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
_RBAC_GROUP = "rbac.authorization.k8s.io"
# The PriorityClasses every cluster has; any other class's value is the cluster's to look up.
_SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_DEFAULT_TOLERATED = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
# autoscaling/v2 behavior defaults (HPAScaleUpRules, HPAScaleDownRules).
_SCALE_RULES: Mapping[str, Mapping[str, Any]] = {
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    },
    "scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}


def metadata_of(obj: Manifest) -> dict[str, Any]:
    """The object's metadata map, created when missing."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    return metadata


def spec_of(obj: Manifest) -> dict[str, Any]:
    """The object's spec map, created when missing."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


# ----------------------------------------------------------------------------------------------------
# Which fields a release declares.


class _Fields:
    """The fields one schema node declares (looking through list items), and each field's own, read on first use.

    ``fields["spec"]["template"]`` holds a pod template's fields; a field the release lacks declares none.
    """

    __slots__ = ("_children", "_properties", "_schema", "names")

    def __init__(self, schema: APISchema, node: Mapping[str, Any] | None) -> None:
        self._schema = schema
        properties: Mapping[str, Any] = {}
        if node is not None:
            node = schema.resolve(node)
            while isinstance(node.get("items"), Mapping):  # list items contribute no name to a path
                node = schema.resolve(node["items"])
            found = node.get("properties")
            properties = found if isinstance(found, Mapping) else {}
        self._properties = properties
        self.names = frozenset(properties)
        self._children: dict[str, _Fields] = {}

    def __getitem__(self, name: str) -> _Fields:
        child = self._children.get(name)
        if child is None:
            node = self._properties.get(name)
            child = _Fields(self._schema, node if isinstance(node, Mapping) else None)
            self._children[name] = child  # a benign race: every thread makes the same answer
        return child


@functools.cache
def _fields_of(schema: APISchema, api_version: str, group_kind: GroupKind) -> _Fields:
    # Keyed by the schema object (one per release per process, immutable): a pure memo, like the schema's own.
    root = schema.definition(api_version, group_kind.kind) if api_version else None
    if root is None:  # written in a version this release does not serve: its preferred version's fields
        preferred = schema.preferred_api_version(group_kind)
        root = schema.definition(preferred, group_kind.kind) if preferred else None
    return _Fields(schema, root)


class _Fill:
    """Fills one object's defaults, each only where the release declares the field.

    Attributes:
        root: The fields of the object's kind in the release.
        minor: The release's minor version, for defaults a feature gate turned on later than the field appeared.
        live: The stored object a write replaces (``None`` on create).
    """

    __slots__ = ("live", "minor", "root")

    def __init__(self, root: _Fields, minor: int, live: Manifest | None) -> None:
        self.root = root
        self.minor = minor
        self.live = live

    @staticmethod
    def put(node: dict[str, Any], at: _Fields, name: str, value: Any) -> Any:
        """``node[name] = value`` unless ``node`` has ``name`` or ``at`` lacks it; the value after."""
        if name not in node and name in at.names:
            node[name] = value
        return node.get(name)

    @staticmethod
    def set(node: dict[str, Any], at: _Fields, name: str, value: Any) -> None:
        """``node[name] = value`` where ``at`` declares ``name``, replacing what ``node`` has."""
        if name in at.names:
            node[name] = value


def _dicts(items: object) -> list[dict[str, Any]]:
    """The maps of a list (an absent or malformed list has none)."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _map(node: object, name: str) -> dict[str, Any] | None:
    found = node.get(name) if isinstance(node, dict) else None
    return found if isinstance(found, dict) else None


# ----------------------------------------------------------------------------------------------------
# Pods and pod templates.


def _image_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    name = image.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _embedded_metadata(f: _Fill, holder: dict[str, Any], at: _Fields) -> None:
    """The metadata of a template (pod, job, claim): always written; with a null creationTimestamp before 1.34."""
    metadata = f.put(holder, at, "metadata", {})
    if isinstance(metadata, dict) and f.minor < _OMITS_ZERO_CREATION_TIMESTAMP:
        metadata.setdefault("creationTimestamp", None)


def _http_get(f: _Fill, action: object, at: _Fields) -> None:
    if isinstance(action, dict):
        f.put(action, at, "path", "/")
        f.put(action, at, "scheme", "HTTP")


def _probe(f: _Fill, probe: object, at: _Fields) -> None:
    if not isinstance(probe, dict):
        return
    f.put(probe, at, "timeoutSeconds", 1)
    f.put(probe, at, "periodSeconds", 10)
    f.put(probe, at, "successThreshold", 1)
    f.put(probe, at, "failureThreshold", 3)
    _http_get(f, probe.get("httpGet"), at["httpGet"])
    grpc = _map(probe, "grpc")
    if grpc is not None:
        f.put(grpc, at["grpc"], "service", "")


def _field_refs(f: _Fill, holder: dict[str, Any], at: _Fields) -> None:
    """An env variable's ``valueFrom`` or a downward API item: the field's API version, the resource's divisor."""
    field_ref = _map(holder, "fieldRef")
    if field_ref is not None:
        f.put(field_ref, at["fieldRef"], "apiVersion", "v1")
    resource_ref = _map(holder, "resourceFieldRef")
    if resource_ref is not None:
        f.put(resource_ref, at["resourceFieldRef"], "divisor", "0")


def _container(f: _Fill, container: dict[str, Any], at: _Fields, *, host_ports: bool) -> None:
    f.put(container, at, "imagePullPolicy", _image_pull_policy(str(container.get("image") or "")))
    f.put(container, at, "terminationMessagePath", "/dev/termination-log")
    f.put(container, at, "terminationMessagePolicy", "File")
    f.put(container, at, "resources", {})
    ports = at["ports"]
    for port in _dicts(container.get("ports")):
        f.put(port, ports, "protocol", "TCP")
        if host_ports and "containerPort" in port:
            f.put(port, ports, "hostPort", port["containerPort"])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(f, container.get(probe), at[probe])
    lifecycle = _map(container, "lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            _http_get(f, (_map(lifecycle, hook) or {}).get("httpGet"), at["lifecycle"][hook]["httpGet"])
    value_from = at["env"]["valueFrom"]
    for variable in _dicts(container.get("env")):
        source = _map(variable, "valueFrom")
        if source is not None:
            _field_refs(f, source, value_from)


def _volume_source(f: _Fill, source: dict[str, Any], at: _Fields) -> None:
    """Defaults of the volume sources a Pod's volume and a PersistentVolume's spec share."""
    host_path = _map(source, "hostPath")
    if host_path is not None:
        f.put(host_path, at["hostPath"], "type", "")
    iscsi = _map(source, "iscsi")
    if iscsi is not None:
        f.put(iscsi, at["iscsi"], "iscsiInterface", "default")
    rbd = _map(source, "rbd")
    if rbd is not None:
        f.put(rbd, at["rbd"], "pool", "rbd")
        f.put(rbd, at["rbd"], "user", "admin")
        f.put(rbd, at["rbd"], "keyring", "/etc/ceph/keyring")
    azure = _map(source, "azureDisk")
    if azure is not None:
        f.put(azure, at["azureDisk"], "cachingMode", "ReadWrite")
        f.put(azure, at["azureDisk"], "fsType", "ext4")
        f.put(azure, at["azureDisk"], "readOnly", False)
        f.put(azure, at["azureDisk"], "kind", "Shared")


def _volume(f: _Fill, volume: dict[str, Any], at: _Fields) -> None:
    for name in ("secret", "configMap", "downwardAPI", "projected"):
        source = _map(volume, name)
        if source is not None:
            f.put(source, at[name], "defaultMode", 420)
    for item in _dicts((_map(volume, "downwardAPI") or {}).get("items")):
        _field_refs(f, item, at["downwardAPI"]["items"])
    sources = at["projected"]["sources"]
    for projection in _dicts((_map(volume, "projected") or {}).get("sources")):
        token = _map(projection, "serviceAccountToken")
        if token is not None:
            f.put(token, sources["serviceAccountToken"], "expirationSeconds", 3600)
        for item in _dicts((_map(projection, "downwardAPI") or {}).get("items")):
            _field_refs(f, item, sources["downwardAPI"]["items"])
    _volume_source(f, volume, at)
    claim = _map(_map(volume, "ephemeral"), "volumeClaimTemplate")
    if claim is not None:
        template = at["ephemeral"]["volumeClaimTemplate"]
        _embedded_metadata(f, claim, template)
        claim_spec = _map(claim, "spec")
        if claim_spec is not None:
            f.put(claim_spec, template["spec"], "volumeMode", "Filesystem")


def _pod_spec(f: _Fill, spec: dict[str, Any], at: _Fields, *, pod: bool) -> None:
    f.put(spec, at, "restartPolicy", "Always")
    f.put(spec, at, "terminationGracePeriodSeconds", 30)
    f.put(spec, at, "dnsPolicy", "ClusterFirst")
    f.put(spec, at, "securityContext", {})
    f.put(spec, at, "schedulerName", "default-scheduler")
    # serviceAccount is the deprecated alias of serviceAccountName: the v1 API always writes both the same.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account:
        f.set(spec, at, "serviceAccountName", account)
        f.set(spec, at, "serviceAccount", account)
    # A host-network Pod's container ports are host ports; templates stopped getting that default in 1.28.
    host_ports = spec.get("hostNetwork") is True and (pod or f.minor < _NO_TEMPLATE_HOST_PORTS)
    for field in ("containers", "initContainers"):
        for container in _dicts(spec.get(field)):
            _container(f, container, at[field], host_ports=host_ports)
    for volume in _dicts(spec.get("volumes")):
        _volume(f, volume, at["volumes"])


def _template(f: _Fill, template: object, at: _Fields) -> None:
    if not isinstance(template, dict):
        return
    _embedded_metadata(f, template, at)
    spec = _map(template, "spec")
    if spec is not None:
        _pod_spec(f, spec, at["spec"], pod=False)


def _tolerates(tolerations: list[dict[str, Any]], key: str) -> bool:
    return any(t.get("key") in (key, "", None) and t.get("effect") in ("NoExecute", "", None) for t in tolerations)


def _pod(f: _Fill, obj: Manifest) -> None:
    spec = spec_of(obj)
    at = f.root["spec"]
    for field in ("containers", "initContainers"):
        for container in _dicts(spec.get(field)):
            resources = _map(container, "resources")
            limits = _map(resources, "limits")
            if resources is not None and limits:
                requests = resources.setdefault("requests", {})
                for name, quantity in limits.items():
                    requests.setdefault(name, quantity)
    _pod_spec(f, spec, at, pod=True)
    f.put(spec, at, "enableServiceLinks", True)
    if f.live is None and not spec.get("serviceAccountName"):
        # The ServiceAccount admission plugin; the token volume it also mounts depends on the account object.
        f.set(spec, at, "serviceAccountName", "default")
        f.set(spec, at, "serviceAccount", "default")
    # The Priority admission plugin.
    priority_class = spec.get("priorityClassName")
    if not priority_class or priority_class in _SYSTEM_PRIORITIES:
        f.put(spec, at, "priority", _SYSTEM_PRIORITIES.get(str(priority_class), 0))
        f.put(spec, at, "preemptionPolicy", "PreemptLowerPriority")
    # The DefaultTolerationSeconds admission plugin, for the taints the user's tolerations do not cover.
    tolerations = spec.get("tolerations")
    present = _dicts(tolerations)
    added = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        for key in _DEFAULT_TOLERATED
        if not _tolerates(present, key)
    ]
    if added and (tolerations is None or isinstance(tolerations, list)):
        f.set(spec, at, "tolerations", [*(tolerations or []), *added])


# ----------------------------------------------------------------------------------------------------
# Workloads.


def _deployment(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    f.put(spec, at, "replicas", 1)
    f.put(spec, at, "revisionHistoryLimit", 10)
    f.put(spec, at, "progressDeadlineSeconds", 600)
    strategy = f.put(spec, at, "strategy", {})
    if isinstance(strategy, dict) and f.put(strategy, at["strategy"], "type", "RollingUpdate") == "RollingUpdate":
        rolling = f.put(strategy, at["strategy"], "rollingUpdate", {})
        if isinstance(rolling, dict):
            f.put(rolling, at["strategy"]["rollingUpdate"], "maxUnavailable", "25%")
            f.put(rolling, at["strategy"]["rollingUpdate"], "maxSurge", "25%")
    _template(f, spec.get("template"), at["template"])


def _statefulset(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    f.put(spec, at, "replicas", 1)
    f.put(spec, at, "podManagementPolicy", "OrderedReady")
    f.put(spec, at, "revisionHistoryLimit", 10)
    strategy = f.put(spec, at, "updateStrategy", {})
    if isinstance(strategy, dict):
        where = at["updateStrategy"]
        if "type" not in strategy:
            f.put(strategy, where, "type", "RollingUpdate")
            f.put(strategy, where, "rollingUpdate", {})
        rolling = _map(strategy, "rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and rolling is not None:
            f.put(rolling, where["rollingUpdate"], "partition", 0)
    if f.minor >= _PVC_RETENTION_POLICY:
        policy = f.put(spec, at, "persistentVolumeClaimRetentionPolicy", {})
        if isinstance(policy, dict):
            f.put(policy, at["persistentVolumeClaimRetentionPolicy"], "whenDeleted", "Retain")
            f.put(policy, at["persistentVolumeClaimRetentionPolicy"], "whenScaled", "Retain")
    claims = at["volumeClaimTemplates"]
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        f.put(claim, claims, "apiVersion", "v1")
        f.put(claim, claims, "kind", "PersistentVolumeClaim")
        _embedded_metadata(f, claim, claims)
        claim_spec = _map(claim, "spec")
        if claim_spec is not None:
            f.put(claim_spec, claims["spec"], "volumeMode", "Filesystem")
        status = f.put(claim, claims, "status", {})
        if isinstance(status, dict):
            f.put(status, claims["status"], "phase", "Pending")
    _template(f, spec.get("template"), at["template"])


def _positive_int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return 0
    return max(number, 0)


def _daemonset(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    f.put(spec, at, "revisionHistoryLimit", 10)
    strategy = f.put(spec, at, "updateStrategy", {})
    if isinstance(strategy, dict):
        where = at["updateStrategy"]
        if f.put(strategy, where, "type", "RollingUpdate") == "RollingUpdate":
            rolling = f.put(strategy, where, "rollingUpdate", {})
            if isinstance(rolling, dict):
                f.put(rolling, where["rollingUpdate"], "maxUnavailable", 1)
                f.put(rolling, where["rollingUpdate"], "maxSurge", 0)
    _template(f, spec.get("template"), at["template"])
    # The registry counts template changes in an annotation: 1 on create (or the writer's), +1 per new template.
    annotations = metadata_of(obj).get("annotations")
    if not isinstance(annotations, dict):
        annotations = metadata_of(obj)["annotations"] = {}
    if f.live is None:
        generation = _positive_int(annotations.get(_TEMPLATE_GENERATION)) or 1
    else:
        live_annotations = metadata_of(f.live).get("annotations") or {}
        generation = _positive_int(live_annotations.get(_TEMPLATE_GENERATION))
        if not json_equal(spec.get("template"), (f.live.get("spec") or {}).get("template")):
            generation += 1
    annotations[_TEMPLATE_GENERATION] = str(generation)


def _replicated(f: _Fill, obj: Manifest) -> None:
    spec = spec_of(obj)
    f.put(spec, f.root["spec"], "replicas", 1)
    _template(f, spec.get("template"), f.root["spec"]["template"])


def _replication_controller(f: _Fill, obj: Manifest) -> None:
    _replicated(f, obj)
    spec = spec_of(obj)
    labels = (_map(_map(spec, "template"), "metadata") or {}).get("labels")
    if labels:
        f.put(spec, f.root["spec"], "selector", dict(labels))
        metadata_of(obj).setdefault("labels", dict(labels))


def _pod_failure_policy(f: _Fill, policy: object, at: _Fields) -> None:
    conditions = at["rules"]["onPodConditions"]
    for rule in _dicts(policy.get("rules") if isinstance(policy, dict) else None):
        for pattern in _dicts(rule.get("onPodConditions")):
            f.put(pattern, conditions, "status", "True")


def _job_selector(f: _Fill, obj: Manifest, spec: dict[str, Any]) -> None:
    """The selector and template labels the Job registry generates on create, from the object's uid."""
    metadata = metadata_of(obj)
    uid, name = metadata.get("uid"), metadata.get("name")
    template = spec.setdefault("template", {})
    if not uid or not isinstance(template, dict):
        return
    template_metadata = template.get("metadata")
    if not isinstance(template_metadata, dict):
        template_metadata = template["metadata"] = {}
    labels = template_metadata.setdefault("labels", {})
    selector = spec.setdefault("selector", {})
    if not isinstance(labels, dict) or not isinstance(selector, dict):
        return
    prefixed = f.minor >= _PREFIXED_JOB_LABELS
    if prefixed:
        labels.setdefault("batch.kubernetes.io/controller-uid", uid)
        labels.setdefault("batch.kubernetes.io/job-name", name)
    labels.setdefault("controller-uid", uid)
    labels.setdefault("job-name", name)
    match_labels = selector.setdefault("matchLabels", {})
    if isinstance(match_labels, dict):
        match_labels.setdefault("batch.kubernetes.io/controller-uid" if prefixed else "controller-uid", uid)


def _job(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        f.put(spec, at, "completions", 1)
    f.put(spec, at, "parallelism", 1)
    f.put(spec, at, "backoffLimit", _MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    f.put(spec, at, "completionMode", "NonIndexed")
    f.put(spec, at, "suspend", False)
    _pod_failure_policy(f, spec.get("podFailurePolicy"), at["podFailurePolicy"])
    if f.minor >= _POD_REPLACEMENT_POLICY:
        replacement = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
        f.put(spec, at, "podReplacementPolicy", replacement)
        f.put(spec, at, "manualSelector", False)
    _template(f, spec.get("template"), at["template"])
    if f.live is None and not spec.get("manualSelector"):
        _job_selector(f, obj, spec)
    # A Job without labels takes its template's (the server defaults them again on each read).
    metadata = metadata_of(obj)
    template_labels = (_map(_map(spec, "template"), "metadata") or {}).get("labels")
    if not metadata.get("labels") and isinstance(template_labels, dict) and template_labels:
        metadata["labels"] = dict(template_labels)


def _cronjob(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    f.put(spec, at, "concurrencyPolicy", "Allow")
    f.put(spec, at, "suspend", False)
    f.put(spec, at, "successfulJobsHistoryLimit", 3)
    f.put(spec, at, "failedJobsHistoryLimit", 1)
    job_template = _map(spec, "jobTemplate")
    if job_template is not None:
        where = at["jobTemplate"]
        _embedded_metadata(f, job_template, where)
        job_spec = _map(job_template, "spec")
        if job_spec is not None:
            _pod_failure_policy(f, job_spec.get("podFailurePolicy"), where["spec"]["podFailurePolicy"])
            _template(f, job_spec.get("template"), where["spec"]["template"])


# ----------------------------------------------------------------------------------------------------
# Services and networking.


def _service(f: _Fill, obj: Manifest) -> None:
    """A Service's defaults; what a cluster allocates (cluster IPs, node ports) is the cluster's to add."""
    spec, at = spec_of(obj), f.root["spec"]
    kind = f.put(spec, at, "type", "ClusterIP")
    if f.put(spec, at, "sessionAffinity", "None") == "ClientIP":
        config = f.put(spec, at, "sessionAffinityConfig", {})
        client_ip = f.put(config, at["sessionAffinityConfig"], "clientIP", {}) if isinstance(config, dict) else None
        if isinstance(client_ip, dict):  # three hours, the API's default
            f.put(client_ip, at["sessionAffinityConfig"]["clientIP"], "timeoutSeconds", 10800)
    for port in _dicts(spec.get("ports")):
        f.put(port, at["ports"], "protocol", "TCP")
        f.put(port, at["ports"], "targetPort", port.get("port"))
    if kind == "ExternalName":
        return
    if spec.get("clusterIP") == "None" and not spec.get("selector"):
        # A headless Service without a selector serves every family its endpoints may have.
        f.put(spec, at, "ipFamilyPolicy", "RequireDualStack")
        f.put(spec, at, "ipFamilies", ["IPv4", "IPv6"])
    else:  # a single-stack IPv4 cluster, as the in-memory cluster is
        f.put(spec, at, "ipFamilies", ["IPv4"])
        f.put(spec, at, "ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        f.put(spec, at, "externalTrafficPolicy", "Cluster")
    f.put(spec, at, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        f.put(spec, at, "allocateLoadBalancerNodePorts", True)


def _network_policy(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    if not spec.get("policyTypes"):
        f.set(spec, at, "policyTypes", ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                f.put(port, at[direction]["ports"], "protocol", "TCP")


def _ingress_class(f: _Fill, obj: Manifest) -> None:
    parameters = _map(obj.get("spec"), "parameters")
    if parameters is not None:
        f.put(parameters, f.root["spec"]["parameters"], "scope", "Cluster")


def _endpoint_slice(f: _Fill, obj: Manifest) -> None:
    for port in _dicts(obj.get("ports")):
        f.put(port, f.root["ports"], "protocol", "TCP")
    for endpoint in _dicts(obj.get("endpoints")):
        f.put(endpoint, f.root["endpoints"], "conditions", {})
    for name in ("endpoints", "ports"):
        if not obj.get(name):  # the type always writes these lists: null when empty
            f.set(obj, f.root, name, None)


def _endpoints(f: _Fill, obj: Manifest) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            f.put(port, f.root["subsets"]["ports"], "protocol", "TCP")


# ----------------------------------------------------------------------------------------------------
# Everything else.


def _webhooks(f: _Fill, obj: Manifest, *, mutating: bool) -> None:
    at = f.root["webhooks"]
    for hook in _dicts(obj.get("webhooks")):
        f.put(hook, at, "failurePolicy", "Fail")
        f.put(hook, at, "matchPolicy", "Equivalent")
        f.put(hook, at, "namespaceSelector", {})
        f.put(hook, at, "objectSelector", {})
        f.put(hook, at, "timeoutSeconds", 10)
        if mutating:
            f.put(hook, at, "reinvocationPolicy", "Never")
        for rule in _dicts(hook.get("rules")):
            f.put(rule, at["rules"], "scope", "*")
        service = _map(_map(hook, "clientConfig"), "service")
        if service is not None:
            f.put(service, at["clientConfig"]["service"], "port", 443)


def _match_resources(f: _Fill, match: dict[str, Any] | None, at: _Fields) -> None:
    if match is None:
        return
    f.put(match, at, "matchPolicy", "Equivalent")
    f.put(match, at, "namespaceSelector", {})
    f.put(match, at, "objectSelector", {})
    for rules in ("resourceRules", "excludeResourceRules"):
        for rule in _dicts(match.get(rules)):
            f.put(rule, at[rules], "scope", "*")


def _admission_policy(f: _Fill, obj: Manifest) -> None:
    spec = _map(obj, "spec")
    if spec is not None:
        f.put(spec, f.root["spec"], "failurePolicy", "Fail")
        _match_resources(f, _map(spec, "matchConstraints"), f.root["spec"]["matchConstraints"])


def _admission_policy_binding(f: _Fill, obj: Manifest) -> None:
    _match_resources(f, _map(_map(obj, "spec"), "matchResources"), f.root["spec"]["matchResources"])


def _hpa(f: _Fill, obj: Manifest) -> None:
    spec, at = _map(obj, "spec"), f.root["spec"]
    if spec is None:
        return
    f.put(spec, at, "minReplicas", 1)
    f.put(spec, at, "targetCPUUtilizationPercentage", 80)  # autoscaling/v1 only
    if not spec.get("metrics"):  # autoscaling/v2
        target = {"type": "Utilization", "averageUtilization": 80}
        f.set(spec, at, "metrics", [{"type": "Resource", "resource": {"name": "cpu", "target": target}}])
    behavior = _map(spec, "behavior")
    if behavior is not None:
        for direction, defaults in _SCALE_RULES.items():
            rules = f.put(behavior, at["behavior"], direction, {})
            if isinstance(rules, dict):
                for name, value in defaults.items():
                    f.put(rules, at["behavior"][direction], name, copy.deepcopy(value))


def _subjects_and_role(f: _Fill, obj: Manifest) -> None:
    for subject in _dicts(obj.get("subjects")):
        if subject.get("kind") in ("User", "Group"):
            f.put(subject, f.root["subjects"], "apiGroup", _RBAC_GROUP)
    role_ref = _map(obj, "roleRef")
    if role_ref is not None:
        f.put(role_ref, f.root["roleRef"], "apiGroup", _RBAC_GROUP)


def _role(f: _Fill, obj: Manifest) -> None:
    if not obj.get("rules"):  # always written: null for an aggregated ClusterRole or a Role without rules
        f.set(obj, f.root, "rules", None)


def _limit_range(f: _Fill, obj: Manifest) -> None:
    at = f.root["spec"]["limits"]
    for item in _dicts(spec_of(obj).get("limits")):
        if item.get("type") != "Container":
            continue
        # A default limit from the max, a default request from the default limit, else from the min.
        default = dict(_map(item, "default") or {})
        for name, value in (_map(item, "max") or {}).items():
            default.setdefault(name, value)
        request = dict(_map(item, "defaultRequest") or {})
        for source in (default, _map(item, "min") or {}):
            for name, value in source.items():
                request.setdefault(name, value)
        for name, values in (("default", default), ("defaultRequest", request)):
            if values:
                f.set(item, at, name, values)


def _crd(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    names = _map(spec, "names")
    kind = str((names or {}).get("kind") or "")
    if names is not None and kind:
        f.put(names, at["names"], "singular", kind.lower())
        f.put(names, at["names"], "listKind", f"{kind}List")
    conversion = f.put(spec, at, "conversion", {"strategy": "None"})
    service = _map(_map(_map(conversion, "webhook"), "clientConfig"), "service")
    if service is not None:
        f.put(service, at["conversion"]["webhook"]["clientConfig"]["service"], "port", 443)


def _csi_driver(f: _Fill, obj: Manifest) -> None:
    spec, at = _map(obj, "spec"), f.root["spec"]
    if spec is None:
        return
    f.put(spec, at, "attachRequired", True)
    f.put(spec, at, "podInfoOnMount", False)
    f.put(spec, at, "storageCapacity", False)
    f.put(spec, at, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    f.put(spec, at, "requiresRepublish", False)
    if not spec.get("volumeLifecycleModes"):
        f.set(spec, at, "volumeLifecycleModes", ["Persistent"])
    if f.minor >= _SELINUX_MOUNT:
        f.put(spec, at, "seLinuxMount", False)


def _namespace(f: _Fill, obj: Manifest) -> None:
    metadata = metadata_of(obj)
    if metadata.get("name"):
        labels = metadata.get("labels")
        if not isinstance(labels, dict):
            labels = metadata["labels"] = {}
        labels[_METADATA_NAME_LABEL] = metadata["name"]
    f.put(spec_of(obj), f.root["spec"], "finalizers", ["kubernetes"])


def _persistent_volume(f: _Fill, obj: Manifest) -> None:
    spec, at = spec_of(obj), f.root["spec"]
    f.put(spec, at, "persistentVolumeReclaimPolicy", "Retain")
    f.put(spec, at, "volumeMode", "Filesystem")
    _volume_source(f, spec, at)


def _storage_class(f: _Fill, obj: Manifest) -> None:
    f.put(obj, f.root, "reclaimPolicy", "Delete")
    f.put(obj, f.root, "volumeBindingMode", "Immediate")


def _service_reference(f: _Fill, obj: Manifest) -> None:
    """An APIService's Service port."""
    service = _map(_map(obj, "spec"), "service")
    if service is not None:
        f.put(service, f.root["spec"]["service"], "port", 443)


_DEFAULTS: Mapping[GroupKind, Callable[[_Fill, Manifest], None]] = {
    GroupKind("", "Pod"): _pod,
    GroupKind("", "PodTemplate"): lambda f, o: _template(f, o.get("template"), f.root["template"]),
    GroupKind("", "ReplicationController"): _replication_controller,
    GroupKind("apps", "Deployment"): _deployment,
    GroupKind("apps", "StatefulSet"): _statefulset,
    GroupKind("apps", "DaemonSet"): _daemonset,
    GroupKind("apps", "ReplicaSet"): _replicated,
    GroupKind("batch", "Job"): _job,
    GroupKind("batch", "CronJob"): _cronjob,
    _SERVICE: _service,
    GroupKind("", "Endpoints"): _endpoints,
    GroupKind("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    GroupKind("networking.k8s.io", "NetworkPolicy"): _network_policy,
    GroupKind("networking.k8s.io", "IngressClass"): _ingress_class,
    _NAMESPACE: _namespace,
    GroupKind("", "Secret"): lambda f, o: f.put(o, f.root, "type", "Opaque"),
    GroupKind("", "PersistentVolume"): _persistent_volume,
    GroupKind("", "PersistentVolumeClaim"): lambda f, o: f.put(spec_of(o), f.root["spec"], "volumeMode", "Filesystem"),
    GroupKind("", "LimitRange"): _limit_range,
    _HPA: _hpa,
    GroupKind(_RBAC_GROUP, "Role"): _role,
    GroupKind(_RBAC_GROUP, "ClusterRole"): _role,
    GroupKind(_RBAC_GROUP, "RoleBinding"): _subjects_and_role,
    GroupKind(_RBAC_GROUP, "ClusterRoleBinding"): _subjects_and_role,
    GroupKind("scheduling.k8s.io", "PriorityClass"): lambda f, o: f.put(
        o, f.root, "preemptionPolicy", "PreemptLowerPriority"
    ),
    GroupKind("storage.k8s.io", "StorageClass"): _storage_class,
    GroupKind("storage.k8s.io", "CSIDriver"): _csi_driver,
    GroupKind("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): lambda f, o: _webhooks(
        f, o, mutating=True
    ),
    GroupKind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): lambda f, o: _webhooks(
        f, o, mutating=False
    ),
    GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): _admission_policy,
    GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): _admission_policy_binding,
    _CRD: _crd,
    GroupKind("apiregistration.k8s.io", "APIService"): _service_reference,
}


def apply_defaults(
    obj: Manifest, group_kind: GroupKind, live: Manifest | None, *, schema: APISchema | None = None
) -> None:
    """Fill in, in place, what an API server of ``schema``'s release (the newest by default) defaults.

    A default is filled only where that release's schema declares the field (and the release has the default).
    What a cluster allocates (a Service's cluster IP and node ports) is left to the cluster; a Job's selector is
    generated from ``metadata.uid`` on create (``live`` is ``None``).

    Args:
        obj: The object as the write would store it; changed in place.
        group_kind: Its kind.
        live: The stored object the write replaces, or ``None`` for a create.
        schema: The release's API schema; :meth:`APISchema.for_version` (the newest) by default.
    """
    fill = _DEFAULTS.get(group_kind)
    if fill is None:
        return
    release = schema if schema is not None else APISchema.for_version()
    fields = _fields_of(release, str(obj.get("apiVersion") or ""), group_kind)
    fill(_Fill(fields, release.version.minor, live), obj)


# ----------------------------------------------------------------------------------------------------
# The status a new object starts with.


def _qos_class(spec: Mapping[str, Any]) -> str:
    resources = [
        c.get("resources") or {}
        for field in ("containers", "initContainers")
        for c in spec.get(field) or []
        if isinstance(c, dict)
    ]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(name) and (r.get("requests") or {}).get(name) == r["limits"][name]
        for r in resources
        for name in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _hpa_status(obj: Manifest) -> dict[str, Any]:
    if str(obj.get("apiVersion") or "") == "autoscaling/v1":
        return {"currentReplicas": 0, "desiredReplicas": 0}
    return {"currentMetrics": None, "desiredReplicas": 0}


def _crd_status(obj: Manifest) -> dict[str, Any]:
    versions = _dicts((obj.get("spec") or {}).get("versions"))
    stored = [str(v["name"]) for v in versions if v.get("storage") and v.get("name")]
    return {"conditions": None, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored[:1]}


INITIAL_STATUS: Mapping[GroupKind, Callable[[Manifest], dict[str, Any]]] = {
    _NAMESPACE: lambda _: {"phase": "Active"},
    _SERVICE: lambda _: {"loadBalancer": {}},
    GroupKind("", "Pod"): lambda obj: {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})},
    GroupKind("", "PersistentVolumeClaim"): lambda _: {"phase": "Pending"},
    GroupKind("", "PersistentVolume"): lambda obj: {
        "phase": "Pending",
        "lastPhaseTransitionTime": metadata_of(obj).get("creationTimestamp"),
    },
    GroupKind("", "ReplicationController"): lambda _: {"replicas": 0},
    GroupKind("networking.k8s.io", "Ingress"): lambda _: {"loadBalancer": {}},
    GroupKind("apps", "ReplicaSet"): lambda _: {"replicas": 0},
    GroupKind("apps", "StatefulSet"): lambda _: {"replicas": 0, "availableReplicas": 0},
    GroupKind("apps", "DaemonSet"): lambda _: {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    GroupKind("policy", "PodDisruptionBudget"): lambda _: {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    _HPA: _hpa_status,
    _CRD: _crd_status,
}
"""The status a new object of each kind gets from its registry (what encoding writes for an empty status)."""
