"""assess(): annotations, deletion, the order of checks; worst(), is_worse() and app_health()."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from reconcile.errors import ConfigurationError
from reconcile.health import CustomHealthChecks, app_health, assess, is_worse, worst
from reconcile.model import GroupKind, Health, HealthStatus

H, P, D, S, M, U = (
    HealthStatus.HEALTHY,
    HealthStatus.PROGRESSING,
    HealthStatus.DEGRADED,
    HealthStatus.SUSPENDED,
    HealthStatus.MISSING,
    HealthStatus.UNKNOWN,
)


def make(api_version: str, kind: str, name: str = "x", **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "ns", **metadata}}


def service(**metadata: Any) -> dict[str, Any]:
    return make("v1", "Service", **metadata)


def test_no_check_means_no_verdict() -> None:
    assert assess(make("v1", "ConfigMap")) is None
    assert assess(make("example.com/v1", "Widget")) is None


def test_argo_cd_applications_and_knative_services_have_no_built_in_check() -> None:
    app = make("argoproj.io/v1alpha1", "Application")
    app["status"] = {"health": {"status": "Degraded"}, "sync": {"status": "OutOfSync"}}
    assert assess(app) is None
    knative = make("serving.knative.dev/v1", "Service")
    knative["status"] = {"conditions": [{"type": "Ready", "status": "False", "reason": "RevisionFailed"}]}
    assert assess(knative) is None
    # The core group's Service of that name has one.
    assert assess(service()) == Health(H)


def test_ignore_healthcheck_annotation() -> None:
    assert assess(service(annotations={"argocd.argoproj.io/ignore-healthcheck": "true"})) is None
    assert assess(service(annotations={"argocd.argoproj.io/ignore-healthcheck": "false"})) == Health(H)


def test_pending_deletion_comes_before_every_check() -> None:
    checks = CustomHealthChecks()
    checks.register("", "Service", lambda obj: Health(D, "custom"))
    deleting = service(deletionTimestamp="2024-01-01T00:00:00Z")
    assert assess(deleting, checks) == Health(P, "Pending deletion")
    # A hook held by its finalizer is still judged by its checks.
    held = service(deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["argocd.argoproj.io/hook-finalizer"])
    assert assess(held, checks) == Health(D, "custom")


def test_a_pod_being_deleted_is_pending_deletion_whatever_its_state() -> None:
    running = make("v1", "Pod", deletionTimestamp="2024-01-01T10:16:04Z")
    running["spec"] = {"restartPolicy": "Always"}
    running["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert assess(running) == Health(P, "Pending deletion")


def test_custom_checks_run_first_in_order_and_none_falls_through() -> None:
    first, second = CustomHealthChecks(), CustomHealthChecks()
    first.register("", "Service", lambda obj: None)
    second.register("", "Service", lambda obj: Health(S, "second"))
    assert assess(service(), [first, second]) == Health(S, "second")
    assert assess(service(), first) == Health(H)  # built-in after the custom check passed
    assert assess(service(), [second, first]) == Health(S, "second")


def test_a_failing_check_gives_unknown_with_its_error() -> None:
    checks = CustomHealthChecks()

    def broken(obj: dict[str, Any]) -> Health:
        raise KeyError("status")

    checks.register("", "Service", broken)
    assert assess(service(), checks) == Health(U, "'status'")


def test_custom_checks_cannot_change_the_callers_object() -> None:
    checks = CustomHealthChecks()

    def meddler(obj: dict[str, Any]) -> Health:
        obj["metadata"]["name"] = "changed"
        return Health(H)

    checks.register("", "Service", meddler)
    obj = service(labels={"a": "b"})
    before = copy.deepcopy(obj)
    assess(obj, checks)
    assert obj == before


def test_generic_conditions_are_opt_in() -> None:
    def widget(conditions: list[dict[str, Any]], generation: int = 1, observed: int | None = 1) -> dict[str, Any]:
        obj = make("example.com/v1", "Widget", generation=generation)
        obj["status"] = {"conditions": conditions}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
        return obj

    ready = {"type": "Ready", "status": "True", "message": "all good"}
    assert assess(widget([ready])) is None
    cases = [
        (widget([ready]), Health(H, "all good")),
        (widget([ready], generation=2), Health(P, "Waiting for generation 2 to be observed")),
        (widget([ready], generation=2, observed=None), Health(H, "all good")),
        (widget([{"type": "Stalled", "status": "True", "reason": "Broken"}, ready]), Health(D, "Broken")),
        (widget([{"type": "Reconciling", "status": "True", "message": "working"}]), Health(P, "working")),
        (widget([{"type": "Ready", "status": "False", "message": "failed"}]), Health(D, "failed")),
        (widget([{"type": "Ready", "status": "Unknown", "reason": "Pending"}]), Health(P, "Pending")),
        (widget([{"type": "Reconciling", "status": "False"}]), Health(H)),
        (widget([{"type": "Available", "status": "True"}]), None),
    ]
    for obj, expected in cases:
        assert assess(obj, generic_conditions=True) == expected
    # Kinds with a built-in check keep it.
    assert assess(service(), generic_conditions=True) == Health(H)


# ----------------------------------------------------------------------------------------------------
# Ordering


def test_order_and_worst() -> None:
    ordered = [H, S, P, M, D, U]
    for better, worse in itertools.pairwise(ordered):
        assert is_worse(better, worse)
        assert not is_worse(worse, better)
    assert not is_worse(P, P)
    assert worst([]) is H
    assert worst([P, S, H]) is P
    assert worst([M, D, P]) is D
    assert worst([U, D]) is U
    assert worst(iter([S])) is S


# ----------------------------------------------------------------------------------------------------
# Application health


def test_app_health_is_the_worst_object_and_names_it() -> None:
    web = make("apps/v1", "Deployment", name="web")
    db = make("apps/v1", "StatefulSet", name="db")
    result = app_health([(web, Health(P, "rolling")), (db, Health(D, "broken")), (service(), Health(H))])
    assert result == Health(D, "statefulset.apps/db in ns is Degraded: broken")
    assert app_health([(web, Health(H)), (service(), None)]) == Health(H)
    assert app_health([]) == Health(H)


def test_app_health_counts_missing_objects_as_the_reference_does() -> None:
    web = make("apps/v1", "Deployment", name="web")
    # A missing object alongside live ones does not count: the sync status already reports it.
    assert app_health([(None, None), (web, Health(P, "rolling"))]).status is P
    assert app_health([(None, None), (web, Health(H))]).status is H
    # With nothing live at all, the application is Missing...
    assert app_health([(None, None), (None, None)]).status is M
    # ...unless something worse was already found (nothing can be, with nothing live).
    assert app_health([(None, None)]) == Health(M, "no object of the application exists")


def test_app_health_skips_hooks_ignored_objects_and_child_apps() -> None:
    hook = make("batch/v1", "Job", annotations={"argocd.argoproj.io/hook": "PreSync"})
    ignored = service(annotations={"argocd.argoproj.io/ignore-healthcheck": "true"})
    child = make("argoproj.io/v1alpha1", "Application", name="child")
    assert app_health([(hook, Health(D)), (ignored, Health(D)), (child, Health(U)), (service(), Health(H))]) == Health(
        H
    )
    assert app_health([(child, Health(M))]).status is H
    assert app_health([(child, Health(D, "bad"))]) == Health(D, "application.argoproj.io/child in ns is Degraded: bad")
    # Only hooks: nothing expected, so not Missing.
    assert app_health([(hook, Health(D))]) == Health(H)


def test_app_health_counts_a_suspended_job_as_healthy() -> None:
    job = make("batch/v1", "Job")
    assert app_health([(job, Health(S, "Job suspended", aggregate_as=H))]) == Health(H)
    assert app_health([(job, Health(S, "paused"))]).status is S


# ----------------------------------------------------------------------------------------------------
# Custom registry


def test_custom_registry_prefers_the_most_specific_pattern() -> None:
    checks = CustomHealthChecks()

    def tagged(tag: str) -> Any:
        return lambda obj: Health(H, tag)

    for group, kind in [("*", "*"), ("*.example.com", "*"), ("*.example.com", "Widget"), ("a.example.com", "Widget")]:
        checks.register(group, kind, tagged(f"{group}/{kind}"))

    def pick(group: str, kind: str) -> str:
        found = checks.find(GroupKind(group, kind))
        assert found is not None
        result = found({})
        assert result is not None
        return result.message

    assert pick("a.example.com", "Widget") == "a.example.com/Widget"
    assert pick("b.example.com", "Widget") == "*.example.com/Widget"
    assert pick("b.example.com", "Gadget") == "*.example.com/*"
    assert pick("other.io", "Gadget") == "*/*"
    assert pick("", "Pod") == "*/*"  # "*" matches the core group too


def test_custom_registry_replaces_and_refuses() -> None:
    checks = CustomHealthChecks()
    checks.register("", "Pod", lambda obj: Health(D))
    checks.register("", "Pod", lambda obj: Health(S))
    found = checks.find(GroupKind("", "Pod"))
    assert found is not None
    assert found({}) == Health(S)
    assert checks.find(GroupKind("apps", "Pod")) is None
    with pytest.raises(ConfigurationError, match="needs a kind"):
        checks.register("apps", "", lambda obj: None)
    with pytest.raises(ConfigurationError, match="not callable"):
        checks.register("apps", "Deployment", "nope")  # type: ignore[arg-type]
