"""An opt-in check for custom resources that report standard conditions (Ready, Reconciling, Stalled).

It follows the conventions that kstatus and Flux popularised: ``Stalled=True`` means the controller gave up,
``Reconciling=True`` that it is still working, ``Ready`` the outcome; an unobserved generation means the status
describes an older spec. Off by default, as in the reference, because many resources use these names loosely.
"""

from __future__ import annotations

from reconcile.health._status import condition, field, integer, section, text
from reconcile.model import Health, HealthStatus, Manifest


def _message(entry: dict[str, object]) -> str:
    return text(entry.get("message")) or text(entry.get("reason"))


def conditions(obj: Manifest) -> Health | None:  # noqa: PLR0911 - one per condition verdict
    """A verdict from standard conditions, or ``None`` when the object reports none of them."""
    status = section(obj, "status")
    generation = integer(field(obj, "metadata", "generation"))
    observed = status.get("observedGeneration")
    stalled, reconciling, ready = (condition(obj, kind) for kind in ("Stalled", "Reconciling", "Ready"))
    if stalled is None and reconciling is None and ready is None:
        return None
    if observed is not None and generation > integer(observed):
        return Health(HealthStatus.PROGRESSING, f"Waiting for generation {generation} to be observed")
    if stalled is not None and stalled.get("status") == "True":
        return Health(HealthStatus.DEGRADED, _message(stalled))
    if reconciling is not None and reconciling.get("status") == "True":
        return Health(HealthStatus.PROGRESSING, _message(reconciling))
    if ready is None:
        return Health(HealthStatus.HEALTHY)
    if ready.get("status") == "True":
        return Health(HealthStatus.HEALTHY, _message(ready))
    if ready.get("status") == "False":
        return Health(HealthStatus.DEGRADED, _message(ready))
    return Health(HealthStatus.PROGRESSING, _message(ready))
