"""Assessing one object, and an application from its objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconcile.argocd.annotations import HOOK_FINALIZER, IGNORE_HEALTHCHECK
from reconcile.argocd.hooks import is_hook
from reconcile.health import _generic as generic
from reconcile.health._builtin import BuiltinHealthChecks
from reconcile.health._status import annotations_of, field, is_worse
from reconcile.jsonvalues import deep_copy
from reconcile.model import GroupKind, Health, HealthStatus, Manifest, ResourceKey
from reconcile.protocols import HealthCheck, HealthChecks

_BUILTIN = BuiltinHealthChecks()


def assess(
    obj: Manifest,
    checks: HealthChecks | Sequence[HealthChecks] | None = None,
    *,
    generic_conditions: bool = False,
) -> Health | None:
    """The health of one live object.

    Order: the ignore annotation (no verdict), then an object being deleted (Progressing, ``Pending deletion``),
    then each of ``checks`` in turn, then the built-in check for its kind, then (when ``generic_conditions``) the
    standard-conditions check. A check that returns ``None`` passes to the next; one that raises gives Unknown
    with the error text.

    Args:
        obj: The live object; it is not modified.
        checks: Custom checks (:class:`CustomHealthChecks`, :class:`LuaHealthChecks`, or a sequence of them).
        generic_conditions: Judge kinds without any check from their Ready/Reconciling/Stalled conditions.

    Returns:
        The verdict, or ``None`` when no check applies to the object.
    """
    if annotations_of(obj).get(IGNORE_HEALTHCHECK) == "true":
        return None
    finalizers = field(obj, "metadata", "finalizers")
    if field(obj, "metadata", "deletionTimestamp") is not None and not (
        isinstance(finalizers, list) and HOOK_FINALIZER in finalizers
    ):
        return Health(HealthStatus.PROGRESSING, "Pending deletion")
    group_kind = ResourceKey.from_manifest(obj).group_kind
    for provider in _providers(checks):
        check = provider.find(group_kind)
        if check is not None and (verdict := _run(check, deep_copy(obj))) is not None:
            return verdict
    builtin = _BUILTIN.find(group_kind)
    if builtin is not None:
        return _run(builtin, obj)
    if generic_conditions:
        return _run(generic.conditions, obj)
    return None


def _providers(checks: HealthChecks | Sequence[HealthChecks] | None) -> Sequence[HealthChecks]:
    if checks is None:
        return ()
    if isinstance(checks, Sequence):
        return checks
    return (checks,)


def _run(check: HealthCheck, obj: Manifest) -> Health | None:
    try:
        return check(obj)
    except Exception as exc:  # noqa: BLE001  # a check's failure is a verdict (Unknown), as in the reference
        return Health(HealthStatus.UNKNOWN, str(exc) or type(exc).__name__)


def app_health(resources: Iterable[tuple[Manifest | None, Health | None]]) -> Health:
    """An application's health: the worst of its objects, counted as the reference counts them.

    Hooks and objects annotated ``ignore-healthcheck`` do not count, nor do objects without a verdict. A missing
    object (``None``) does not count on its own, since the sync status already reports it; but when every object
    is missing, the application is Missing. A child Argo CD Application that is Missing or Unknown does not count.
    A verdict's ``aggregate_as`` (a suspended Job counts as Healthy) is what is counted.

    Args:
        resources: Each object the application manages, live (or ``None`` when missing) with its verdict.

    Returns:
        The status, and a message naming the object that decided it (empty when all is Healthy).
    """
    status, message = HealthStatus.HEALTHY, ""
    any_expected = any_live = False
    for obj, verdict in resources:
        if obj is not None and is_hook(obj):
            continue
        any_expected = True
        if obj is None:
            continue
        any_live = True
        if verdict is None or annotations_of(obj).get(IGNORE_HEALTHCHECK) == "true":
            continue
        counted = verdict.effective_status
        key = ResourceKey.from_manifest(obj)
        if key.group_kind == _APPLICATION and counted in (HealthStatus.MISSING, HealthStatus.UNKNOWN):
            continue
        if is_worse(status, counted):
            status = counted
            message = f"{_describe(key)} is {counted.value}" + (f": {verdict.message}" if verdict.message else "")
    if any_expected and not any_live and is_worse(status, HealthStatus.MISSING):
        return Health(HealthStatus.MISSING, "no object of the application exists")
    return Health(status, message)


_APPLICATION = GroupKind("argoproj.io", "Application")


def _describe(key: ResourceKey) -> str:
    return f"{key.display} in {key.namespace}" if key.namespace else key.display
