"""Each built-in check's branches, with the reference's messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconcile.health import assess
from reconcile.health._builtin import BuiltinHealthChecks
from reconcile.model import GroupKind, Health, HealthStatus

H, P, D, S, U = (
    HealthStatus.HEALTHY,
    HealthStatus.PROGRESSING,
    HealthStatus.DEGRADED,
    HealthStatus.SUSPENDED,
    HealthStatus.UNKNOWN,
)


def make(api_version: str, kind: str, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "web", "namespace": "ns"}}
    obj.update(fields)
    return obj


def verdict(obj: dict[str, Any]) -> Health:
    result = assess(obj)
    assert result is not None
    return result


# ----------------------------------------------------------------------------------------------------
# Deployment


def deployment(spec: dict[str, Any], status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    obj = make("apps/v1", "Deployment", spec=spec, status=status)
    obj["metadata"]["generation"] = generation
    return obj


@pytest.mark.parametrize(
    ("spec", "status", "generation", "expected"),
    [
        ({"paused": True}, {}, 1, Health(S, "Deployment is paused")),
        (
            {"replicas": 1},
            {"observedGeneration": 1},
            2,
            Health(P, "Waiting for rollout to finish: observed deployment generation less than desired generation"),
        ),
        (
            {"replicas": 1},
            {"observedGeneration": 1, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]},
            1,
            Health(D, 'Deployment "web" exceeded its progress deadline'),
        ),
        (
            {"replicas": 3},
            {"observedGeneration": 1, "updatedReplicas": 1},
            1,
            Health(P, "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."),
        ),
        (
            {"replicas": 2},
            {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 3},
            1,
            Health(P, "Waiting for rollout to finish: 1 old replicas are pending termination..."),
        ),
        (
            {"replicas": 2},
            {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1},
            1,
            Health(P, "Waiting for rollout to finish: 1 of 2 updated replicas are available..."),
        ),
        (
            {"replicas": 2},
            {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2},
            1,
            Health(H),
        ),
    ],
)
def test_deployment(spec: dict[str, Any], status: dict[str, Any], generation: int, expected: Health) -> None:
    assert verdict(deployment(spec, status, generation)) == expected


# ----------------------------------------------------------------------------------------------------
# StatefulSet


def stateful_set(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    obj = make("apps/v1", "StatefulSet", spec=spec, status=status)
    obj["metadata"]["generation"] = 1
    return obj


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"replicas": 1}, {}, Health(P, "Waiting for statefulset spec update to be observed...")),
        (
            {"replicas": 3},
            {"observedGeneration": 1, "readyReplicas": 1},
            Health(P, "Waiting for 2 pods to be ready..."),
        ),
        (
            {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
            {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1},
            Health(P, "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."),
        ),
        (
            {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
            {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2},
            Health(H, "partitioned roll out complete: 2 new pods have been updated..."),
        ),
        (
            {"replicas": 1, "updateStrategy": {"type": "OnDelete"}},
            {"observedGeneration": 1, "readyReplicas": 1},
            Health(H, "statefulset has 1 ready pods"),
        ),
        (
            {"replicas": 1, "updateStrategy": {"type": "RollingUpdate"}},
            {
                "observedGeneration": 1,
                "readyReplicas": 1,
                "updatedReplicas": 0,
                "currentRevision": "a",
                "updateRevision": "b",
            },
            Health(P, "waiting for statefulset rolling update to complete 0 pods at revision b..."),
        ),
        (
            {"replicas": 1, "updateStrategy": {"type": "RollingUpdate"}},
            {
                "observedGeneration": 1,
                "readyReplicas": 1,
                "currentReplicas": 1,
                "currentRevision": "a",
                "updateRevision": "a",
            },
            Health(H, "statefulset rolling update complete 1 pods at revision a..."),
        ),
    ],
)
def test_stateful_set(spec: dict[str, Any], status: dict[str, Any], expected: Health) -> None:
    assert verdict(stateful_set(spec, status)) == expected


# ----------------------------------------------------------------------------------------------------
# DaemonSet and ReplicaSet


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {},
            {"observedGeneration": 0},
            Health(P, "Waiting for rollout to finish: observed daemon set generation less than desired generation"),
        ),
        (
            {"updateStrategy": {"type": "OnDelete"}},
            {"observedGeneration": 1, "updatedNumberScheduled": 0, "desiredNumberScheduled": 2},
            Health(H, "daemon set 0 out of 2 new pods have been updated"),
        ),
        (
            {},
            {"observedGeneration": 1, "updatedNumberScheduled": 1, "desiredNumberScheduled": 2},
            Health(P, 'Waiting for daemon set "web" rollout to finish: 1 out of 2 new pods have been updated...'),
        ),
        (
            {},
            {"observedGeneration": 1, "updatedNumberScheduled": 2, "desiredNumberScheduled": 2, "numberAvailable": 1},
            Health(P, 'Waiting for daemon set "web" rollout to finish: 1 of 2 updated pods are available...'),
        ),
        (
            {},
            {"observedGeneration": 1, "updatedNumberScheduled": 2, "desiredNumberScheduled": 2, "numberAvailable": 2},
            Health(H),
        ),
    ],
)
def test_daemon_set(spec: dict[str, Any], status: dict[str, Any], expected: Health) -> None:
    obj = make("apps/v1", "DaemonSet", spec=spec, status=status)
    obj["metadata"]["generation"] = 1
    assert verdict(obj) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {"observedGeneration": 0},
            Health(P, "Waiting for rollout to finish: observed replica set generation less than desired generation"),
        ),
        (
            {"observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota"}]},
            Health(D, "quota"),
        ),
        (
            {"observedGeneration": 1, "availableReplicas": 1},
            Health(P, "Waiting for rollout to finish: 1 out of 2 new replicas are available..."),
        ),
        ({"observedGeneration": 1, "availableReplicas": 2}, Health(H)),
    ],
)
def test_replica_set(status: dict[str, Any], expected: Health) -> None:
    obj = make("apps/v1", "ReplicaSet", spec={"replicas": 2}, status=status)
    obj["metadata"]["generation"] = 1
    assert verdict(obj) == expected


# ----------------------------------------------------------------------------------------------------
# Pod


def pod(policy: str, status: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    obj = make("v1", "Pod", spec={"restartPolicy": policy}, status=status)
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return obj


READY = {"type": "Ready", "status": "True"}
NOT_READY = {"type": "Ready", "status": "False"}
BACKOFF = {"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull failed"}}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            pod("Always", {"phase": "Running", "containerStatuses": [BACKOFF, BACKOFF]}),
            Health(D, "pull failed, pull failed"),
        ),
        (pod("Never", {"phase": "Pending", "containerStatuses": [BACKOFF], "message": "m"}), Health(P, "m")),
        (pod("Always", {"phase": "Pending"}), Health(P)),
        (pod("Never", {"phase": "Succeeded"}), Health(H)),
        (pod("Never", {"phase": "Failed", "message": "evicted"}), Health(D, "evicted")),
        (
            pod(
                "Never",
                {"phase": "Failed", "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 2}}}]},
            ),
            Health(D, 'container "c" failed with exit code 2'),
        ),
        (
            pod(
                "Never",
                {"phase": "Failed", "initContainerStatuses": [{"state": {"terminated": {"reason": "OOMKilled"}}}]},
            ),
            Health(D, "OOMKilled"),
        ),
        (
            pod("Never", {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"message": "bye"}}}]}),
            Health(D, "bye"),
        ),
        (pod("Never", {"phase": "Failed"}), Health(D)),
        (pod("Always", {"phase": "Running", "conditions": [READY]}), Health(H)),
        (
            pod(
                "Always",
                {
                    "phase": "Running",
                    "conditions": [NOT_READY],
                    "containerStatuses": [{"lastState": {"terminated": {}}}],
                },
            ),
            Health(D),
        ),
        (pod("Always", {"phase": "Running", "conditions": [NOT_READY]}), Health(P)),
        (pod("OnFailure", {"phase": "Running", "conditions": [READY]}), Health(P)),
        (pod("Never", {"phase": "Running", "conditions": [READY]}), Health(P)),
        (pod("Always", {"phase": "Unknown", "message": "node lost"}), Health(U, "node lost")),
    ],
)
def test_pod(obj: dict[str, Any], expected: Health) -> None:
    assert verdict(obj) == expected


def test_ignore_restart_policy_judges_a_finite_pod_as_long_running() -> None:
    ignore = {"argocd.argoproj.io/ignore-restart-policy": "true"}
    assert verdict(pod("Never", {"phase": "Running", "conditions": [READY]}, ignore)) == Health(H)
    assert verdict(pod("OnFailure", {"phase": "Running", "containerStatuses": [BACKOFF]}, ignore)) == Health(
        D, "pull failed"
    )
    # Other values, and hooks, keep the finite-pod rule.
    assert verdict(
        pod(
            "Never",
            {"phase": "Running", "conditions": [READY]},
            {**ignore, "x": "1"} | {"argocd.argoproj.io/ignore-restart-policy": "false"},
        )
    ) == Health(P)
    hook = {**ignore, "argocd.argoproj.io/hook": "PreSync"}
    assert verdict(pod("Never", {"phase": "Running", "conditions": [READY]}, hook)) == Health(P)
    helm_hook = {**ignore, "helm.sh/hook": "pre-install"}
    assert verdict(pod("Never", {"phase": "Running", "conditions": [READY]}, helm_hook)) == Health(P)


# ----------------------------------------------------------------------------------------------------
# Storage, networking, batch


@pytest.mark.parametrize(("phase", "expected"), [("Bound", H), ("Pending", P), ("Lost", D), ("Odd", U), (None, U)])
def test_pvc(phase: str | None, expected: HealthStatus) -> None:
    assert verdict(make("v1", "PersistentVolumeClaim", status={"phase": phase})) == Health(expected)


@pytest.mark.parametrize(
    ("service_type", "ingress", "expected"),
    [("ClusterIP", [], H), ("LoadBalancer", [], P), ("LoadBalancer", [{"ip": "10.0.0.1"}], H), ("NodePort", None, H)],
)
def test_service(service_type: str, ingress: list[Any] | None, expected: HealthStatus) -> None:
    obj = make("v1", "Service", spec={"type": service_type}, status={"loadBalancer": {"ingress": ingress}})
    assert verdict(obj) == Health(expected)


@pytest.mark.parametrize("api_version", ["networking.k8s.io/v1", "extensions/v1beta1"])
def test_ingress(api_version: str) -> None:
    assert verdict(make(api_version, "Ingress")) == Health(P)
    assert verdict(make(api_version, "Ingress", status={"loadBalancer": {"ingress": [{"hostname": "a"}]}})) == Health(H)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], Health(P)),
        ([{"type": "Complete", "status": "True", "message": "done"}], Health(H, "done")),
        ([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}], Health(D, "BackoffLimitExceeded")),
        (
            [{"type": "Suspended", "status": "True", "message": "Job suspended"}],
            Health(S, "Job suspended", aggregate_as=H),
        ),
        ([{"type": "Suspended", "status": "False", "message": "Job resumed"}], Health(H, "Job resumed")),
    ],
)
def test_job(conditions: list[dict[str, Any]], expected: Health) -> None:
    assert verdict(make("batch/v1", "Job", status={"conditions": conditions})) == expected


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"suspend": True}, {}, Health(S, "CronJob is Suspended")),
        ({}, None, Health(P, "Waiting for CronJob")),
        ({}, {}, Health(H, "CronJob has not been scheduled yet")),
        (
            {},
            {"lastScheduleTime": "2024-01-01T10:00:00Z"},
            Health(H, "The Cronjob never completed succesfully. It may not be healthy"),
        ),
        (
            {},
            {"lastScheduleTime": "2024-01-01T10:00:00Z", "lastSuccessfulTime": "2024-01-01T09:00:00Z", "active": [{}]},
            Health(H, "The job is running. Its last execution may not have been successful"),
        ),
        (
            {},
            {"lastScheduleTime": "2024-01-01T10:00:00Z", "lastSuccessfulTime": "2024-01-01T09:00:00Z"},
            Health(D, "CronJob has not completed its last execution successfully"),
        ),
        (
            {},
            {"lastScheduleTime": "2024-01-01T10:00:00Z", "lastSuccessfulTime": "2024-01-01T10:00:05Z"},
            Health(H, "CronJob has completed its last execution successfully"),
        ),
    ],
)
def test_cron_job(spec: dict[str, Any], status: dict[str, Any] | None, expected: Health) -> None:
    obj = make("batch/v1", "CronJob", spec=spec)
    if status is not None:
        obj["status"] = status
    assert verdict(obj) == expected


# ----------------------------------------------------------------------------------------------------
# APIService, CRD, HPA, PDB


@pytest.mark.parametrize("api_version", ["apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1"])
def test_api_service(api_version: str) -> None:
    assert verdict(make(api_version, "APIService")) == Health(P, "Waiting to be processed")
    up = {"conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "ok"}]}
    assert verdict(make(api_version, "APIService", status=up)) == Health(H, "Passed: ok")
    down = {"conditions": [{"type": "Available", "status": "False", "reason": "Missing", "message": "no"}]}
    assert verdict(make(api_version, "APIService", status=down)) == Health(P, "Missing: no")


def crd(*conditions: tuple[str, str]) -> dict[str, Any]:
    entries = [{"type": kind, "status": status, "message": f"{kind} says {status}"} for kind, status in conditions]
    return make("apiextensions.k8s.io/v1", "CustomResourceDefinition", status={"conditions": entries})


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (crd(), Health(P, "Status conditions not found")),
        (
            crd(("Established", "True"), ("Terminating", "True")),
            Health(P, "CRD is being terminated: Terminating says True"),
        ),
        (crd(("NamesAccepted", "False")), Health(D, "CRD names have not been accepted: NamesAccepted says False")),
        (
            crd(("NamesAccepted", "True"), ("Established", "False")),
            Health(D, "CRD is not established: Established says False"),
        ),
        (
            crd(("Established", "True"), ("NonStructuralSchema", "True")),
            Health(D, "Schema violations found: NonStructuralSchema says True"),
        ),
        (crd(("NamesAccepted", "True"), ("Established", "True")), Health(H, "CRD is healthy")),
    ],
)
def test_custom_resource_definition(obj: dict[str, Any], expected: Health) -> None:
    assert verdict(obj) == expected


def hpa_v2(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    entries = [{"type": t, "status": s, "reason": r, "message": f"{t}/{r}"} for t, s, r in conditions]
    return make("autoscaling/v2", "HorizontalPodAutoscaler", status={"conditions": entries})


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (hpa_v2(), Health(P, "Waiting to Autoscale")),
        (hpa_v2(("AbleToScale", "False", "FailedGetScale")), Health(D, "AbleToScale/FailedGetScale")),
        (
            hpa_v2(("AbleToScale", "True", "SucceededGetScale"), ("ScalingActive", "False", "FailedGetExternalMetric")),
            Health(D, "ScalingActive/FailedGetExternalMetric"),
        ),
        (hpa_v2(("ScalingLimited", "True", "TooFewReplicas")), Health(H, "ScalingLimited/TooFewReplicas")),
        (hpa_v2(("ScalingActive", "True", "ValidMetricFound")), Health(P, "Waiting to Autoscale")),
    ],
)
def test_hpa_v2(obj: dict[str, Any], expected: Health) -> None:
    assert verdict(obj) == expected


def test_hpa_v1_reads_the_conditions_annotation() -> None:
    def v1(annotation: str | None) -> dict[str, Any]:
        obj = make("autoscaling/v1", "HorizontalPodAutoscaler", status={"conditions": [{"type": "AbleToScale"}]})
        if annotation is not None:
            obj["metadata"]["annotations"] = {"autoscaling.alpha.kubernetes.io/conditions": annotation}
        return obj

    assert verdict(v1(None)) == Health(P, "Waiting to Autoscale")
    assert verdict(v1("[]")) == Health(P, "Waiting to Autoscale")
    healthy = json.dumps([{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "ok"}])
    assert verdict(v1(healthy)) == Health(H, "ok")
    broken = verdict(v1("{not json"))
    assert broken.status is U
    assert broken.message.startswith("failed to convert conditions annotation to typed:")


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (None, Health(P, "Waiting for status")),
        (
            [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}],
            Health(H, "PodDisruptionBudget has SufficientPods"),
        ),
        (
            [{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods"}],
            Health(H, "PodDisruptionBudget has InsufficientPods"),
        ),
        (
            [{"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed"}],
            Health(D, "PodDisruptionBudget has SyncFailed"),
        ),
    ],
)
def test_pod_disruption_budget(conditions: list[dict[str, Any]] | None, expected: Health) -> None:
    status = None if conditions is None else {"conditions": conditions}
    obj = make("policy/v1", "PodDisruptionBudget")
    if status is not None:
        obj["status"] = status
    assert verdict(obj) == expected


def test_builtin_kinds_are_the_documented_ones() -> None:
    kinds = {str(gk) for gk in BuiltinHealthChecks().kinds()}
    assert kinds == {
        "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "Pod", "Service",
        "PersistentVolumeClaim", "extensions/Ingress", "networking.k8s.io/Ingress", "batch/Job", "batch/CronJob",
        "autoscaling/HorizontalPodAutoscaler", "policy/PodDisruptionBudget", "apiregistration.k8s.io/APIService",
        "apiextensions.k8s.io/CustomResourceDefinition",
    }  # fmt: skip
    assert BuiltinHealthChecks().find(GroupKind("", "ConfigMap")) is None


def test_odd_shapes_never_crash() -> None:
    assert verdict(make("apps/v1", "Deployment", spec="nonsense", status=["x"])).status is H
    assert verdict(make("v1", "Pod", status={"containerStatuses": "x", "conditions": [1, None]})).status is U


# ----------------------------------------------------------------------------------------------------
# Verdicts the shared conformance corpus checks on captured objects, on small objects written here


def test_a_waiting_error_makes_a_long_running_pod_degraded_in_any_phase() -> None:
    pull = {"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling "web:9"'}}}
    assert verdict(pod("Always", {"phase": "Pending", "containerStatuses": [pull]})) == Health(
        D, 'Back-off pulling "web:9"'
    )
    crash = {
        "name": "web",
        "restartCount": 3,
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "Back-off 40s restarting failed container=web"}},
    }
    running = {"phase": "Running", "conditions": [NOT_READY], "containerStatuses": [crash]}
    assert verdict(pod("Always", running)) == Health(D, "Back-off 40s restarting failed container=web")
    # Between two restarts the container shows as terminated: still crashing, without a message.
    errored = {**crash, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    assert verdict(pod("Always", {**running, "containerStatuses": [errored]})) == Health(D)
    # A finite pod asked to be judged as long-running turns Degraded on the same error.
    ignore = {"argocd.argoproj.io/ignore-restart-policy": "true"}
    assert verdict(pod("Never", {"phase": "Running", "containerStatuses": [pull]}, ignore)) == Health(
        D, 'Back-off pulling "web:9"'
    )


def test_an_empty_load_balancer_entry_still_counts_as_an_address() -> None:
    for entries in ([{}], [{"ip": "192.0.2.10"}], [{"hostname": "lb.example.com"}]):
        status = {"loadBalancer": {"ingress": entries}}
        assert verdict(make("v1", "Service", spec={"type": "LoadBalancer"}, status=status)) == Health(H)
        assert verdict(make("networking.k8s.io/v1", "Ingress", status=status)) == Health(H)
    assert verdict(make("networking.k8s.io/v1", "Ingress", status={"loadBalancer": {}})) == Health(P)


def hpa_v1(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    entries = [{"type": t, "status": s, "reason": r, "message": f"{t}/{r}"} for t, s, r in conditions]
    obj = make("autoscaling/v1", "HorizontalPodAutoscaler", status={"currentReplicas": 1, "desiredReplicas": 0})
    obj["metadata"]["annotations"] = {"autoscaling.alpha.kubernetes.io/conditions": json.dumps(entries)}
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        # A failure reason counts whatever its condition's status, and wherever it sits.
        (hpa_v1(("AbleToScale", "True", "FailedGetScale")), Health(D, "AbleToScale/FailedGetScale")),
        (
            hpa_v1(("AbleToScale", "True", "SucceededGetScale"), ("ScalingActive", "False", "FailedGetObjectMetric")),
            Health(D, "ScalingActive/FailedGetObjectMetric"),
        ),
        (
            hpa_v1(("AbleToScale", "True", "FailedGetScale"), ("ScalingActive", "False", "FailedGetResourceMetric")),
            Health(D, "AbleToScale/FailedGetScale"),
        ),
        (hpa_v1(("AbleToScale", "False", "SucceededGetScale")), Health(P, "Waiting to Autoscale")),
        (
            hpa_v1(
                ("AbleToScale", "True", "ScaleDownStabilized"),
                ("ScalingActive", "True", "ValidMetricFound"),
                ("ScalingLimited", "False", "DesiredWithinRange"),
            ),
            Health(H, "AbleToScale/ScaleDownStabilized"),
        ),
        (
            hpa_v1(
                ("AbleToScale", "True", "ReadyForNewScale"),
                ("ScalingActive", "True", "ValidMetricFound"),
                ("ScalingLimited", "True", "TooFewReplicas"),
            ),
            Health(H, "AbleToScale/ReadyForNewScale"),
        ),
    ],
)
def test_hpa_v1_verdicts_come_from_the_conditions_annotation(obj: dict[str, Any], expected: Health) -> None:
    assert verdict(obj) == expected


def test_hpa_v2_degraded_and_healthy_with_every_condition_reported() -> None:
    assert verdict(
        hpa_v2(("AbleToScale", "False", "FailedGetScale"), ("ScalingActive", "False", "FailedGetResourceMetric"))
    ) == Health(D, "AbleToScale/FailedGetScale")
    assert verdict(
        hpa_v2(
            ("AbleToScale", "True", "ReadyForNewScale"),
            ("ScalingActive", "True", "ValidMetricFound"),
            ("ScalingLimited", "False", "DesiredWithinRange"),
        )
    ) == Health(H, "AbleToScale/ReadyForNewScale")


def test_an_on_delete_daemon_set_without_an_updated_count_is_healthy() -> None:
    obj = make(
        "apps/v1",
        "DaemonSet",
        spec={"updateStrategy": {"type": "OnDelete"}},
        status={"observedGeneration": 4, "desiredNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1},
    )
    obj["metadata"]["generation"] = 4
    assert verdict(obj) == Health(H, "daemon set 0 out of 1 new pods have been updated")


def test_a_job_with_active_pods_and_no_conditions_is_progressing() -> None:
    running = make("batch/v1", "Job", status={"active": 1, "startTime": "2024-01-01T08:19:14Z"})
    assert verdict(running) == Health(P)
    succeeded = make("batch/v1", "Job", status={"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
    assert verdict(succeeded) == Health(H)
