"""PersistentVolumeClaims."""

from __future__ import annotations

from reconcile.health._status import field
from reconcile.model import Health, HealthStatus, Manifest

_BY_PHASE = {
    "Bound": HealthStatus.HEALTHY,
    "Pending": HealthStatus.PROGRESSING,
    "Lost": HealthStatus.DEGRADED,
}


def persistent_volume_claim(obj: Manifest) -> Health:
    """A PVC by phase: Bound is Healthy, Pending Progressing, Lost Degraded, anything else Unknown."""
    return Health(_BY_PHASE.get(str(field(obj, "status", "phase")), HealthStatus.UNKNOWN))
