"""API registrations: APIServices and CustomResourceDefinitions."""

from __future__ import annotations

from reconcile.health._status import items, section, text
from reconcile.model import Health, HealthStatus, Manifest


def api_service(obj: Manifest) -> Health:
    """An APIService: Healthy when its Available condition is True, Progressing otherwise."""
    for entry in items(section(obj, "status").get("conditions")):
        if entry.get("type") == "Available":
            message = f"{text(entry.get('reason'))}: {text(entry.get('message'))}"
            healthy = entry.get("status") == "True"
            return Health(HealthStatus.HEALTHY if healthy else HealthStatus.PROGRESSING, message)
    return Health(HealthStatus.PROGRESSING, "Waiting to be processed")


def custom_resource_definition(obj: Manifest) -> Health:
    """A CRD: Healthy once Established with its names accepted and a structural schema."""
    conditions = items(section(obj, "status").get("conditions"))
    if not conditions:
        return Health(HealthStatus.PROGRESSING, "Status conditions not found")
    established = terminating = names_refused = violations = False
    message = ""
    for entry in conditions:
        kind, status = entry.get("type"), entry.get("status")
        if kind == "Terminating" and status == "True":
            terminating, message = True, text(entry.get("message"))
        elif kind == "NamesAccepted" and status == "False":
            names_refused, message = True, text(entry.get("message"))
        elif kind == "Established":
            if status == "True":
                established = True
            else:
                message = text(entry.get("message"))
        elif kind == "NonStructuralSchema" and status == "True":
            violations, message = True, text(entry.get("message"))
    if terminating:
        return Health(HealthStatus.PROGRESSING, f"CRD is being terminated: {message}")
    if names_refused:
        return Health(HealthStatus.DEGRADED, f"CRD names have not been accepted: {message}")
    if not established:
        return Health(HealthStatus.DEGRADED, f"CRD is not established: {message}")
    if violations:
        return Health(HealthStatus.DEGRADED, f"Schema violations found: {message}")
    return Health(HealthStatus.HEALTHY, "CRD is healthy")
