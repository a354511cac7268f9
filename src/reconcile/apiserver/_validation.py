"""The API server's validation of built-in kinds: the rules people break most often, worded as the server words them.

The server's Go validation is large; this module holds the checks that manifests in the wild trip over (a
selector that does not match its template's labels, a container name in capitals, an HPA whose maximum is below
its minimum, a CronJob's unknown time zone...), each checked word for word against a real 1.36 server. An object
breaking none of them may still be one the server refuses for a reason not modelled here.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from reconcile.apiserver._admission import LABEL, LABEL_MESSAGE
from reconcile.apiserver._builtin import pod_spec_path
from reconcile.apiserver._selectors import selects
from reconcile.model import GroupKind

_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_MAX_PORT = 65535
_CRON_FIELDS = 5


@attrs.frozen
class FieldError:
    """One reason the server refuses an object.

    Attributes:
        field: Where (``spec.template.metadata.labels``).
        detail: What, as the server words it (``Invalid value: -1: must be greater than or equal to 0``).
    """

    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


def _go_value(value: Any) -> str:
    """A value as the server quotes it in ``Invalid value: ...``: JSON, compact."""
    return json.dumps(value, separators=(",", ":"))


def invalid(field: str, value: Any, message: str) -> FieldError:
    """``field: Invalid value: <value>: message``."""
    return FieldError(field, f"Invalid value: {_go_value(value)}: {message}")


def _workload(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
        yield invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if spec.get("selector") and not selects(spec["selector"], labels):
        yield invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")


def _containers(obj: Mapping[str, Any], group_kind: GroupKind) -> Iterator[FieldError]:
    path = pod_spec_path(group_kind)
    if path is None:
        return
    spec: Any = obj
    for step in path:
        spec = spec.get(step) if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping):
        return
    where = ".".join(path)
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or ()):
            name = container.get("name") if isinstance(container, Mapping) else None
            if isinstance(name, str) and (len(name) > 63 or not LABEL.fullmatch(name)):  # noqa: PLR2004
                yield invalid(f"{where}.{field}[{index}].name", name, LABEL_MESSAGE)


def _pdb(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    spec = obj.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        shown = {
            "MinAvailable": spec.get("minAvailable"),
            "Selector": spec.get("selector"),
            "MaxUnavailable": spec.get("maxUnavailable"),
            "UnhealthyPodEvictionPolicy": spec.get("unhealthyPodEvictionPolicy"),
        }
        yield invalid("spec", shown, "minAvailable and maxUnavailable cannot be both set")


def _cronjob(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    spec = obj.get("spec") or {}
    schedule = spec.get("schedule")
    if isinstance(schedule, str) and schedule.strip() not in _CRON_MACROS and not schedule.startswith("@every "):
        fields = schedule.split()
        if fields and fields[0].startswith(("TZ=", "CRON_TZ=")):
            fields = fields[1:]
        if len(fields) != _CRON_FIELDS:
            shown = "[" + " ".join(fields) + "]"
            yield invalid("spec.schedule", schedule, f"expected exactly 5 fields, found {len(fields)}: {shown}")
    zone = spec.get("timeZone")
    if isinstance(zone, str):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield invalid("spec.timeZone", zone, f"unknown time zone {zone}")


def _hpa(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    spec = obj.get("spec") or {}
    maximum, minimum = spec.get("maxReplicas"), spec.get("minReplicas") or 1
    if isinstance(maximum, int) and isinstance(minimum, int) and maximum < minimum:
        yield invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`")


def _ingress(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    for r, rule in enumerate((obj.get("spec") or {}).get("rules") or ()):
        for p, path in enumerate(((rule or {}).get("http") or {}).get("paths") or ()):
            if isinstance(path, Mapping) and not path.get("pathType"):
                where = f"spec.rules[{r}].http.paths[{p}].pathType"
                yield FieldError(where, "Required value: pathType must be specified")


def _service(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    for index, port in enumerate((obj.get("spec") or {}).get("ports") or ()):
        number = port.get("port") if isinstance(port, Mapping) else None
        if isinstance(number, int) and not 1 <= number <= _MAX_PORT:
            yield invalid(f"spec.ports[{index}].port", number, "must be between 1 and 65535, inclusive")


def _statefulset(obj: Mapping[str, Any]) -> Iterator[FieldError]:
    policy = (obj.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    for field in ("whenDeleted", "whenScaled"):
        value = policy.get(field)
        if value is not None and value not in ("Retain", "Delete"):
            where = f"spec.persistentVolumeClaimRetentionPolicy.{field}"
            yield FieldError(where, f'Unsupported value: {_go_value(value)}: supported values: "Retain", "Delete"')


_CHECKS: Mapping[GroupKind, tuple[Callable[[Mapping[str, Any]], Iterator[FieldError]], ...]] = {
    GroupKind("apps", "Deployment"): (_workload,),
    GroupKind("apps", "ReplicaSet"): (_workload,),
    GroupKind("apps", "StatefulSet"): (_workload, _statefulset),
    GroupKind("apps", "DaemonSet"): (_workload,),
    GroupKind("policy", "PodDisruptionBudget"): (_pdb,),
    GroupKind("batch", "CronJob"): (_cronjob,),
    GroupKind("autoscaling", "HorizontalPodAutoscaler"): (_hpa,),
    GroupKind("networking.k8s.io", "Ingress"): (_ingress,),
    GroupKind("", "Service"): (_service,),
}


def field_errors(obj: Mapping[str, Any], group_kind: GroupKind) -> list[FieldError]:
    """Why the server would refuse ``obj`` (as stored: defaults filled), of the rules modelled; ``[]`` if none."""
    found = [error for check in _CHECKS.get(group_kind, ()) for error in check(obj)]
    found.extend(_containers(obj, group_kind))
    return found


def invalid_message(kind: str, group: str, name: str, errors: list[FieldError]) -> str:
    """The server's message for a refused object: ``Deployment.apps "web" is invalid: <errors>``."""
    subject = f"{kind}.{group}" if group else kind
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    return f'{subject} "{name}" is invalid: {listed}'
