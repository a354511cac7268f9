"""Services and Ingresses: Progressing until a load balancer address is assigned."""

from __future__ import annotations

from reconcile.health._status import field
from reconcile.model import Health, HealthStatus, Manifest


def _has_ingress(obj: Manifest) -> bool:
    addresses = field(obj, "status", "loadBalancer", "ingress")
    return isinstance(addresses, list) and len(addresses) > 0


def service(obj: Manifest) -> Health:
    """A Service: Healthy, except a LoadBalancer without an address yet, which is Progressing."""
    if field(obj, "spec", "type") == "LoadBalancer" and not _has_ingress(obj):
        return Health(HealthStatus.PROGRESSING)
    return Health(HealthStatus.HEALTHY)


def ingress(obj: Manifest) -> Health:
    """An Ingress: Healthy once its controller has published an address."""
    return Health(HealthStatus.HEALTHY if _has_ingress(obj) else HealthStatus.PROGRESSING)
