"""Defaults, as a 1.20 API server fills them in: the in-memory cluster applies them, the local diff predicts them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconcile.apiserver._schema import APISchema
from reconcile.model import GroupKind, Manifest

_NAMESPACE = GroupKind("", "Namespace")
_SERVICE = GroupKind("", "Service")
_CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")


def metadata_of(obj: Manifest) -> dict[str, Any]:
    """The object's metadata map, created when missing."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    return metadata


def _image_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    name = image.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_probe(probe: object) -> None:
    if not isinstance(probe, dict):
        return
    for name, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        probe.setdefault(name, value)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(container: object) -> None:
    if not isinstance(container, dict):
        return
    container.setdefault("imagePullPolicy", _image_pull_policy(str(container.get("image") or "")))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    for variable in container.get("env") or []:
        value_from = variable.get("valueFrom") if isinstance(variable, dict) else None
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            value_from["fieldRef"].setdefault("apiVersion", "v1")


def _default_pod_spec(spec: object) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            _default_container(container)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("secret", "configMap", "downwardAPI", "projected"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)


def _default_template(template: object) -> None:
    if not isinstance(template, dict):
        return
    metadata = template.setdefault("metadata", {})
    if isinstance(metadata, dict):
        metadata.setdefault("creationTimestamp", None)
    _default_pod_spec(template.get("spec"))


def spec_of(obj: Manifest) -> dict[str, Any]:
    """The object's spec map, created when missing."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _default_deployment(obj: Manifest) -> None:
    spec = spec_of(obj)
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    _default_template(spec.get("template"))


def _default_statefulset(obj: Manifest) -> None:
    spec = spec_of(obj)
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            claim.setdefault("status", {}).setdefault("phase", "Pending")
    _default_template(spec.get("template"))


def _default_daemonset(obj: Manifest) -> None:
    spec = spec_of(obj)
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
    _default_template(spec.get("template"))


def _default_replicated(obj: Manifest) -> None:
    spec = spec_of(obj)
    spec.setdefault("replicas", 1)
    _default_template(spec.get("template"))


def _default_replication_controller(obj: Manifest) -> None:
    _default_replicated(obj)
    spec = spec_of(obj)
    template = spec.get("template")
    labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels:
        spec.setdefault("selector", dict(labels))
        metadata_of(obj).setdefault("labels", dict(labels))


def _default_job_spec(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    _default_template(spec.get("template"))


def _default_job(obj: Manifest, live: Manifest | None) -> None:
    spec = spec_of(obj)
    _default_job_spec(spec)
    if live is None and not spec.get("manualSelector"):
        # The Job strategy generates a selector from the object's uid on create.
        uid = metadata_of(obj)["uid"]
        spec.setdefault("selector", {"matchLabels": {"controller-uid": uid}})
        template = spec.setdefault("template", {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.setdefault("controller-uid", uid)
        labels.setdefault("job-name", metadata_of(obj)["name"])


def _default_cronjob(obj: Manifest) -> None:
    spec = spec_of(obj)
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        job_template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        job_spec = job_template.get("spec")
        if isinstance(job_spec, dict):
            _default_template(job_spec.get("template"))


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


def _default_pod(obj: Manifest) -> None:
    spec = spec_of(obj)
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            resources = container.get("resources") if isinstance(container, dict) else None
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = resources.setdefault("requests", {})
                for name, quantity in resources["limits"].items():
                    requests.setdefault(name, quantity)
    _default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault(
        "tolerations",
        [
            {
                "effect": "NoExecute",
                "key": f"node.kubernetes.io/{taint}",
                "operator": "Exists",
                "tolerationSeconds": 300,
            }
            for taint in ("not-ready", "unreachable")
        ],
    )


def _default_webhooks(obj: Manifest, mutating: bool) -> None:
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def _default_network_policy(obj: Manifest) -> None:
    spec = spec_of(obj)
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _default_simple(obj: Manifest, group_kind: GroupKind) -> None:
    """Defaults that fill a few fields of one kind; nothing to allocate or compute."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if group_kind == GroupKind("", "Secret"):
        obj.setdefault("type", "Opaque")
    elif group_kind == GroupKind("", "Namespace"):
        spec_of(obj).setdefault("finalizers", ["kubernetes"])
    elif group_kind == GroupKind("", "PersistentVolumeClaim"):
        spec_of(obj).setdefault("volumeMode", "Filesystem")
    elif group_kind == GroupKind("", "PersistentVolume"):
        spec_of(obj).setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec_of(obj).setdefault("volumeMode", "Filesystem")
    elif group_kind == GroupKind("autoscaling", "HorizontalPodAutoscaler") and spec is not None:
        spec.setdefault("minReplicas", 1)
    elif group_kind == GroupKind("scheduling.k8s.io", "PriorityClass"):
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif group_kind == GroupKind("storage.k8s.io", "StorageClass"):
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif group_kind == _CRD:
        spec_of(obj).setdefault("conversion", {"strategy": "None"})


INITIAL_STATUS: Mapping[GroupKind, Callable[[Manifest], dict[str, Any]]] = {
    _NAMESPACE: lambda _: {"phase": "Active"},
    _SERVICE: lambda _: {"loadBalancer": {}},
    GroupKind("", "Pod"): lambda obj: {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})},
    GroupKind("", "PersistentVolumeClaim"): lambda _: {"phase": "Pending"},
    GroupKind("", "PersistentVolume"): lambda _: {"phase": "Pending"},
    GroupKind("networking.k8s.io", "Ingress"): lambda _: {"loadBalancer": {}},
}


def _default_service(obj: Manifest) -> None:
    """A Service's defaults; what a cluster allocates (cluster IPs, node ports) is the cluster's to add."""
    spec = spec_of(obj)
    kind = spec.setdefault("type", "ClusterIP")
    if spec.setdefault("sessionAffinity", "None") == "ClientIP":
        client_ip = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        client_ip.setdefault("timeoutSeconds", 10800)  # three hours, the API's default
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    if kind == "ExternalName":
        return
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")


def apply_defaults(
    obj: Manifest, group_kind: GroupKind, live: Manifest | None, *, schema: APISchema | None = None
) -> None:
    """Fill in what an API server of ``schema``'s release (the newest by default) defaults for ``group_kind``.

    What a cluster allocates (a Service's cluster IP and node ports) is left to the cluster.
    """
    simple: Mapping[GroupKind, Callable[[Manifest], None]] = {
        _SERVICE: _default_service,
        GroupKind("apps", "Deployment"): _default_deployment,
        GroupKind("apps", "StatefulSet"): _default_statefulset,
        GroupKind("apps", "DaemonSet"): _default_daemonset,
        GroupKind("apps", "ReplicaSet"): _default_replicated,
        GroupKind("", "ReplicationController"): _default_replication_controller,
        GroupKind("", "PodTemplate"): lambda o: _default_template(o.get("template")),
        GroupKind("batch", "CronJob"): _default_cronjob,
        GroupKind("", "Pod"): _default_pod,
        GroupKind("networking.k8s.io", "NetworkPolicy"): _default_network_policy,
        GroupKind("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): lambda o: _default_webhooks(
            o, mutating=True
        ),
        GroupKind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): lambda o: _default_webhooks(
            o, mutating=False
        ),
    }
    if group_kind in simple:
        simple[group_kind](obj)
    elif group_kind == GroupKind("batch", "Job"):
        _default_job(obj, live)
    else:
        _default_simple(obj, group_kind)
