"""The step-driven sync operation on the in-memory cluster: steps, waits, hooks, failures, termination."""

from __future__ import annotations

import pytest

import reconcile as rc
from reconcile.argocd import tracking
from reconcile.argocd.annotations import HOOK_FINALIZER
from reconcile.deadline import bounded
from reconcile.diff import ArgoDiffer
from reconcile.errors import ClusterError
from reconcile.sync import RetryPolicy, SyncOperation, SyncPhase, build_plan, split_hooks

NS = "default"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cm(name: str, wave: int | None = None, **annotations: str) -> dict:
    meta: dict = {"name": name, "namespace": NS}
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": name}}


def _deployment(name: str, wave: int = 0) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


def _job(name: str, hook: str, **annotations: str) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NS,
            "annotations": {"argocd.argoproj.io/hook": hook, **annotations},
        },
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            }
        },
    }


def _operation(cluster: rc.MemoryCluster, *objs: dict, prune: bool = False, **kwargs) -> SyncOperation:
    resources = [rc.model.Resource.from_manifest(tracking.annotate(o, "app")) for o in objs]
    targets, hooks = split_hooks(resources)
    live = {
        rc.ResourceKey.from_manifest(o): o
        for o in cluster.list()
        if tracking.is_owned_by(o, "app") and not rc.argocd.hooks.is_hook(o)
    }
    diff = ArgoDiffer().diff(targets, live, cluster=cluster)
    plan = build_plan(app="app", targets=targets, diff=diff, hooks=hooks, prune=prune, served=cluster.is_namespaced)
    return SyncOperation(cluster, plan, app="app", **kwargs)


def _key(kind: str, name: str, group: str = "") -> rc.ResourceKey:
    return rc.ResourceKey(group, kind, NS, name)


DEPLOYMENT_READY = {
    "observedGeneration": 1,
    "replicas": 1,
    "updatedReplicas": 1,
    "readyReplicas": 1,
    "availableReplicas": 1,
}
JOB_DONE = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
JOB_FAILED = {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}


def test_a_dry_run_refusal_writes_nothing():
    cluster = rc.MemoryCluster()
    cluster.fail("apply", key=_key("ConfigMap", "bad"), error=rc.errors.InvalidError('ConfigMap "bad" is invalid'))
    op = _operation(cluster, _cm("good"), _cm("bad"))

    assert op.step() is rc.OperationPhase.FAILED
    assert op.message.startswith("one or more synchronization tasks are not valid")
    assert cluster.get(_key("ConfigMap", "good")) is None
    assert {r.key.name: r.status for r in op.result.resources}["bad"] is rc.ResultCode.SYNC_FAILED


def test_a_dry_run_operation_reports_and_changes_nothing():
    cluster = rc.MemoryCluster()
    op = _operation(cluster, _cm("a"), _deployment("web"), dry_run=True)

    result = op.run()

    assert result.phase is rc.OperationPhase.SUCCEEDED
    assert result.dry_run
    assert sorted(r.message for r in result.resources) == [
        "configmap/a created (dry run)",
        "deployment.apps/web created (dry run)",
    ]
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "a")) is None


def test_each_wave_waits_until_the_one_before_is_healthy():
    cluster = rc.MemoryCluster()
    op = _operation(cluster, _cm("first", wave=0), _deployment("web", wave=1), _cm("last", wave=2))

    assert op.step() is rc.OperationPhase.RUNNING  # the dry run
    op.step()  # wave 0
    assert cluster.get(_key("ConfigMap", "first")) is not None
    op.step()  # wave 0 is healthy: wave 1
    assert cluster.get(_key("Deployment", "web", "apps")) is not None
    for _ in range(3):
        assert op.step() is rc.OperationPhase.RUNNING
    assert op.message == "waiting for healthy state of apps/Deployment/web"
    assert cluster.get(_key("ConfigMap", "last")) is None

    cluster.set_status(_key("Deployment", "web", "apps"), DEPLOYMENT_READY)
    op.step()  # healthy now
    assert op.step() is rc.OperationPhase.SUCCEEDED  # wave 2, the last, ends without waiting
    assert op.message == "successfully synced (all tasks run)"
    assert cluster.get(_key("ConfigMap", "last")) is not None


def test_a_wave_that_does_not_become_healthy_in_time_fails_the_operation():
    cluster = rc.MemoryCluster()
    clock = FakeClock()
    op = _operation(cluster, _deployment("web", wave=0), _cm("after", wave=1), clock=clock, health_timeout=60)
    op.step()
    op.step()
    assert op.step() is rc.OperationPhase.RUNNING
    clock.now = 61

    assert op.step() is rc.OperationPhase.FAILED
    assert op.message == "timed out waiting for healthy state of apps/Deployment/web (health_timeout 60 s)"
    assert cluster.get(_key("ConfigMap", "after")) is None


def test_health_checks_back_off_from_milliseconds_and_the_message_counts_the_rest():
    cluster = rc.MemoryCluster()
    op = _operation(
        cluster, _deployment("web", wave=0), _deployment("api", wave=0), _cm("after", wave=1), max_check_interval=0.05
    )
    op.step()  # dry run
    assert op.next_check_in == 0.0, "the next step has work to do"
    op.step()  # wave 0 written
    assert op.next_check_in == 0.01
    pauses = []
    for _ in range(4):
        assert op.step() is rc.OperationPhase.RUNNING
        pauses.append(op.next_check_in)
    assert pauses == [0.02, 0.04, 0.05, 0.05]
    assert op.message == "waiting for healthy state of apps/Deployment/api and 1 more resources"


def test_run_stops_at_the_deadline_of_the_context_and_says_what_it_waited_for():
    cluster = rc.MemoryCluster()
    op = _operation(cluster, _job("migrate", "PreSync"), _cm("app"))
    with bounded(0.3):
        result = op.run()
    assert result.phase is rc.OperationPhase.FAILED
    assert result.message == (
        "Operation terminated: the pass's deadline passed, while waiting for completion of hook batch/Job/migrate"
    )
    assert cluster.get(_key("Job", "migrate", "batch")) is None, "the running hook is deleted"
    assert cluster.get(_key("ConfigMap", "app")) is None, "nothing after the hook was written"


def test_hooks_run_in_their_phase_hold_a_finalizer_and_follow_their_delete_policy():
    cluster = rc.MemoryCluster()
    pre = _job("migrate", "PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"})
    post = _job("notify", "PostSync")
    op = _operation(cluster, pre, _cm("app"), post)

    op.step()  # dry run
    op.step()  # PreSync
    job = cluster.get(_key("Job", "migrate", "batch"))
    assert job is not None
    assert HOOK_FINALIZER in job["metadata"]["finalizers"]
    assert op.step() is rc.OperationPhase.RUNNING
    assert op.message == "waiting for completion of hook batch/Job/migrate"
    assert cluster.get(_key("ConfigMap", "app")) is None

    cluster.set_status(_key("Job", "migrate", "batch"), JOB_DONE)
    op.step()  # PreSync done
    op.step()  # Sync
    assert cluster.get(_key("ConfigMap", "app")) is not None
    op.step()
    op.step()  # PostSync
    cluster.set_status(_key("Job", "notify", "batch"), JOB_DONE)
    while op.step() is rc.OperationPhase.RUNNING:
        pass

    assert op.phase is rc.OperationPhase.SUCCEEDED
    assert cluster.get(_key("Job", "migrate", "batch")) is None  # HookSucceeded
    kept = cluster.get(_key("Job", "notify", "batch"))
    assert kept is not None
    assert HOOK_FINALIZER not in (kept["metadata"].get("finalizers") or [])
    messages = {(r.key.name, r.message) for r in op.result.resources}
    assert ("migrate", "job.batch/migrate completed") in messages


def test_a_failed_hook_fails_the_operation_and_runs_the_sync_fail_hooks():
    cluster = rc.MemoryCluster()
    pre = _job("migrate", "PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookFailed"})
    on_fail = _job("page-someone", "SyncFail")
    op = _operation(cluster, pre, _cm("app"), on_fail)
    op.step()
    op.step()
    cluster.set_status(_key("Job", "migrate", "batch"), JOB_FAILED)

    op.step()  # the hook failed
    assert op.phase is rc.OperationPhase.RUNNING  # the SyncFail hooks still run
    op.step()
    assert cluster.get(_key("Job", "page-someone", "batch")) is not None
    cluster.set_status(_key("Job", "page-someone", "batch"), JOB_DONE)
    while op.step() is rc.OperationPhase.RUNNING:
        pass

    assert op.phase is rc.OperationPhase.FAILED
    assert op.message.startswith("one or more synchronization tasks completed unsuccessfully: batch/Job/migrate")
    assert cluster.get(_key("ConfigMap", "app")) is None
    assert cluster.get(_key("Job", "migrate", "batch")) is None  # HookFailed


def test_terminate_deletes_running_hooks():
    cluster = rc.MemoryCluster()
    op = _operation(cluster, _job("migrate", "PreSync"), _cm("app"))
    op.step()
    op.step()
    assert cluster.get(_key("Job", "migrate", "batch")) is not None

    op.terminate()
    assert op.phase is rc.OperationPhase.TERMINATING
    assert op.step() is rc.OperationPhase.FAILED
    assert op.message == "Operation terminated while waiting for completion of hook batch/Job/migrate"
    assert cluster.get(_key("Job", "migrate", "batch")) is None
    assert cluster.get(_key("ConfigMap", "app")) is None


def test_a_prune_waiting_for_confirmation_waits_until_confirmed():
    cluster = rc.MemoryCluster()
    _operation(cluster, _cm("keep"), _cm("old", **{"argocd.argoproj.io/sync-options": "Prune=confirm"})).run()
    op = _operation(cluster, _cm("keep"), prune=True)
    op.step()
    for _ in range(2):
        assert op.step() is rc.OperationPhase.RUNNING
    assert op.message == "Waiting for pruning confirmation of v1/ConfigMap/old"
    assert cluster.get(_key("ConfigMap", "old")) is not None

    op.confirm_prune()
    assert op.run().succeeded
    assert cluster.get(_key("ConfigMap", "old")) is None


def test_an_object_tracked_by_another_app_fails_the_plan_with_fail_on_shared_resource():
    cluster = rc.MemoryCluster()
    cluster.apply(tracking.annotate(_cm("shared"), "other"))
    resources = [rc.model.Resource.from_manifest(tracking.annotate(_cm("shared"), "app"))]
    live = {_key("ConfigMap", "shared"): cluster.get(_key("ConfigMap", "shared"))}
    diff = ArgoDiffer().diff(resources, live, cluster=cluster)
    options = rc.sync.SyncOptions.parse(["FailOnSharedResource=true"])
    plan = build_plan(app="app", targets=resources, diff=diff, options=options)

    result = SyncOperation(cluster, plan, app="app").run()

    assert result.phase is rc.OperationPhase.FAILED
    assert "shared resource" in result.message
    assert tracking.owner(cluster.get(_key("ConfigMap", "shared"))) == "other"


def test_replace_writes_the_whole_object():
    cluster = rc.MemoryCluster()
    _operation(cluster, _cm("a")).run()
    cluster.patch(_key("ConfigMap", "a"), {"data": {"extra": "x"}}, field_manager="someone")
    replaced = _cm("a", **{"argocd.argoproj.io/sync-options": "Replace=true"})

    assert _operation(cluster, replaced).run().succeeded
    assert cluster.get(_key("ConfigMap", "a"))["data"] == {"k": "a"}  # an apply would have kept "extra"


def test_retry_policy_backs_off_and_reads_argo_cd_blocks():
    policy = RetryPolicy.from_argo({"limit": 4, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "15s"}})
    assert list(policy.delays()) == [5.0, 10.0, 15.0, 15.0]
    assert list(RetryPolicy().delays()) == []
    unlimited = RetryPolicy(limit=-1, backoff=1)
    delays = unlimited.delays()
    assert [next(delays) for _ in range(3)] == [1.0, 2.0, 4.0]
    with pytest.raises(rc.ConfigurationError, match=r"retry\.backoff\.duration"):
        RetryPolicy.from_argo({"backoff": {"duration": "soon"}})
    with pytest.raises(rc.ConfigurationError, match="unknown keys"):
        RetryPolicy.from_argo({"limits": 3})


def test_the_reconciler_retries_a_failed_sync(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    cluster = rc.MemoryCluster()
    app = rc.Reconciler(
        name="app",
        source=rc.DirectorySource(tmp_path),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(retry=RetryPolicy(limit=2, backoff=0)),
    )
    cluster.fail(
        "apply", key=_key("ConfigMap", "a"), error=ClusterError("etcdserver: request timed out", status=500), times=2
    )

    result = app.sync()

    assert result.succeeded
    assert cluster.get(_key("ConfigMap", "a")) is not None


def test_the_plan_is_a_readable_value(tmp_path):
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {argocd.argoproj.io/sync-wave: '1'}}\n"
        "---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-, annotations: "
        "{argocd.argoproj.io/hook: PreSync}}\nspec: {template: {spec: {restartPolicy: Never, containers: "
        "[{name: c, image: busybox}]}}}\n"
    )
    app = rc.Reconciler(
        name="app", source=rc.DirectorySource(tmp_path), renderer=rc.DirectoryRenderer(), cluster=rc.MemoryCluster()
    )

    plan = app.plan()

    assert [(t.phase, t.wave, t.key.kind) for t in plan.tasks] == [
        (SyncPhase.PRE_SYNC, 0, "Job"),
        (SyncPhase.SYNC, 1, "ConfigMap"),
    ]
    assert plan.tasks[0].key.name.startswith("migrate-")
    assert (
        str(plan).splitlines()[0] == "sync plan for app: 2 to create, 0 to update, 0 to prune, 0 unchanged, 0 skipped"
    )


def _service(ip: str, **annotations: str) -> dict:
    meta: dict = {"name": "dns", "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"clusterIP": ip, "ports": [{"port": 53, "protocol": "UDP"}]},
    }


def test_force_deletes_and_recreates_what_the_server_refuses_to_change_in_place():
    cluster = rc.MemoryCluster()
    assert _operation(cluster, _service("10.96.0.10")).run().succeeded
    uid = cluster.get(_key("Service", "dns"))["metadata"]["uid"]

    refused = _operation(cluster, _service("10.96.0.20")).run()
    assert refused.phase is rc.OperationPhase.FAILED
    assert "field is immutable" in refused.resources[0].message

    dry = _operation(cluster, _service("10.96.0.20", **{"argocd.argoproj.io/sync-options": "Force=true"}), dry_run=True)
    assert dry.run().succeeded
    assert cluster.get(_key("Service", "dns"))["metadata"]["uid"] == uid  # the dry run deleted nothing

    forced = _operation(cluster, _service("10.96.0.20", **{"argocd.argoproj.io/sync-options": "Force=true"})).run()
    assert forced.succeeded, str(forced)
    live = cluster.get(_key("Service", "dns"))
    assert live["spec"]["clusterIP"] == "10.96.0.20"
    assert live["metadata"]["uid"] != uid


def test_a_step_driven_sync_carries_the_revision(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    source = rc.DirectorySource(tmp_path)
    app = rc.Reconciler(name="app", source=source, renderer=rc.DirectoryRenderer(), cluster=rc.MemoryCluster())

    result = app.start_sync().run()

    assert result.succeeded
    assert result.revision == source.fetch().revision


def test_create_namespace_sets_and_then_adds_the_managed_labels(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    cluster = rc.MemoryCluster()
    metadata = {"labels": {"team": "grades"}, "annotations": {"owner": "platform"}}

    def app(**policy: object) -> rc.Reconciler:
        return rc.Reconciler(
            name="app",
            source=rc.DirectorySource(tmp_path),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            namespace="grades",
            policy=rc.SyncPolicy(sync_options=["CreateNamespace=true"], **policy),  # type: ignore[arg-type]
        )

    assert app().sync().succeeded
    namespace = rc.ResourceKey("", "Namespace", "", "grades")
    assert "team" not in (cluster.get(namespace)["metadata"].get("labels") or {})

    with_metadata = app(managed_namespace_metadata=metadata)
    (task,) = [t for t in with_metadata.plan().tasks if t.key == namespace]
    assert (task.action, task.reason) == (rc.SyncAction.UPDATE, "managed namespace metadata")
    assert with_metadata.sync().succeeded
    live = cluster.get(namespace)["metadata"]
    assert live["labels"]["team"] == "grades"
    assert live["annotations"]["owner"] == "platform"
    assert all(t.key != namespace for t in with_metadata.plan().tasks)  # nothing left to add
    with pytest.raises(rc.ConfigurationError, match="managed_namespace_metadata"):
        rc.SyncPolicy(managed_namespace_metadata={"finalizers": {}})


def test_a_hook_named_by_generate_name_is_tracked_by_its_name_and_deleted_with_the_app(tmp_path):
    (tmp_path / "hook.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-, annotations: "
        "{argocd.argoproj.io/hook: PreSync}}\nspec: {template: {spec: {restartPolicy: Never, containers: "
        "[{name: c, image: busybox}]}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    )
    cluster = rc.MemoryCluster(simulate_workloads=True)
    app = rc.Reconciler(
        name="demo", source=rc.DirectorySource(tmp_path), renderer=rc.DirectoryRenderer(), cluster=cluster
    )

    result = app.sync()

    assert result.succeeded, result
    jobs = [job for job in cluster.list(rc.GroupKind("batch", "Job")) if job["metadata"]["name"].startswith("migrate-")]
    assert len(jobs) == 1
    name = jobs[0]["metadata"]["name"]
    assert jobs[0]["metadata"]["annotations"]["reconcile.dev/tracking-id"] == f"demo:batch/Job:default/{name}"
    assert tracking.is_owned_by(jobs[0], "demo")
    deleted = app.delete()
    assert deleted.succeeded, deleted
    assert cluster.get(rc.ResourceKey("batch", "Job", "default", name)) is None
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "a")) is None
