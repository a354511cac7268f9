"""Sync operations on the real control plane: waves gated by health, hooks as Jobs, prune order and propagation.

The controller-manager does the real work (ReplicaSets, Pods, Job status, garbage collection); the test plays the
kubelet (:class:`~reconcile.testing._kubelet.FakeKubelet`) to make Pods run, succeed or fail, and drives each
operation one ``step()`` at a time where the gating is what is under test.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd import tracking
from reconcile.argocd.annotations import HOOK_FINALIZER
from reconcile.errors import NotFoundError
from reconcile.health import assess
from reconcile.sync import SyncOperation, SyncPhase
from support import eventually

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

RUNNING = rc.OperationPhase.RUNNING
SUCCEEDED = rc.OperationPhase.SUCCEEDED
FAILED = rc.OperationPhase.FAILED
WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD = rc.GroupKind("", "Pod")
REPLICA_SET = rc.GroupKind("apps", "ReplicaSet")


# ------------------------------------------------------------------------------------------------------------
# Manifests and helpers.


def configmap(name: str, wave: int | None = None, **annotations: str) -> dict[str, Any]:
    if wave is not None:
        annotations[WAVE] = str(wave)
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"name": name}}


def deployment(name: str, wave: int | None = None, label: str | None = None, **annotations: str) -> dict[str, Any]:
    if wave is not None:
        annotations[WAVE] = str(wave)
    labels = {"app": label or name}
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    }


def job(name: str = "", *, hook: str, generate_name: str = "", **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": generate_name}
    metadata["annotations"] = {HOOK: hook, **annotations}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
        },
    }


def write(folder: Path, name: str, *objs: dict[str, Any]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text("\n---\n".join(json.dumps(obj) for obj in objs))


def remove(folder: Path, name: str) -> None:
    (folder / f"{name}.yaml").unlink()


def make_app(cluster: rc.protocols.Cluster, folder: Path, namespace: str, **policy: Any) -> rc.Reconciler:
    folder.mkdir(exist_ok=True)
    return rc.Reconciler(
        name=f"app-{namespace}",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=rc.SyncPolicy(**policy),
    )


def step_until(op: SyncOperation, done: Callable[[SyncOperation], bool], timeout: float = 30.0) -> None:
    """Step the operation until ``done(op)``; fail if it ends first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        op.step()
        if done(op):
            return
        assert op.phase is RUNNING, f"operation ended first: {op.phase}: {op.message}"
        assert time.monotonic() < deadline, f"still {op.phase} after {timeout} s: {op.message}"
        time.sleep(0.2)


def steps(op: SyncOperation, count: int) -> None:
    """Step a few times with a pause, long enough for a wrongly ungated operation to move on."""
    for _ in range(count):
        assert op.step() is RUNNING, op.message
        time.sleep(0.2)


def results(op_or_result: SyncOperation | rc.sync.SyncResult) -> list[tuple[str, str, str, str]]:
    result = op_or_result.result if isinstance(op_or_result, SyncOperation) else op_or_result
    return [(r.key.kind, r.key.name, str(r.status), r.message) for r in result.resources]


def finalizers(obj: dict[str, Any] | None) -> list[str]:
    return list(((obj or {}).get("metadata") or {}).get("finalizers") or [])


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return str(item.get("status"))
    return None


def hook_name(op: SyncOperation, phase: SyncPhase) -> str:
    (task,) = [t for t in op.plan.tasks if t.hook and t.phase is phase]
    return task.key.name


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "app"


@pytest.fixture
def key(kube_namespace: str) -> Callable[..., rc.ResourceKey]:
    def make(group: str, kind: str, name: str, namespace: str | None = None) -> rc.ResourceKey:
        return rc.ResourceKey(group, kind, kube_namespace if namespace is None else namespace, name)

    return make


# ------------------------------------------------------------------------------------------------------------
# Waves.


def test_each_wave_waits_until_the_deployment_before_it_is_healthy(kube_cluster, kube_namespace, kubelet, folder, key):
    write(folder, "first", configmap("first", wave=0))
    write(folder, "web", deployment("web", wave=1))
    # The last wave holds a Deployment whose Pods never run: the operation ends without waiting for it.
    write(folder, "last", configmap("last", wave=2), deployment("tail", wave=2))
    app = make_app(kube_cluster, folder, kube_namespace)
    web, last = key("apps", "Deployment", "web"), key("", "ConfigMap", "last")
    op = app.start_sync()

    assert op.step() is RUNNING
    assert op.message == "dry run passed"
    assert kube_cluster.get(key("", "ConfigMap", "first")) is None  # the dry run wrote nothing
    step_until(op, lambda _: kube_cluster.get(web) is not None)
    assert op.message == "waiting for healthy state of apps/Deployment/web"
    assert kube_cluster.get(key("", "ConfigMap", "first")) is not None

    steps(op, 5)
    assert op.message == "waiting for healthy state of apps/Deployment/web"
    assert kube_cluster.get(last) is None
    assert assess(kube_cluster.get(web)).status is rc.HealthStatus.PROGRESSING

    # The controller-manager made the ReplicaSet and its Pod; the kubelet makes the Pod run.
    eventually(lambda: kubelet.run_pods(kube_namespace, selector={"app": "web"}), what="web's pod running")
    step_until(op, lambda o: o.phase is not RUNNING)

    assert op.phase is SUCCEEDED, op.message
    assert op.message == "successfully synced (all tasks run)"
    assert assess(kube_cluster.get(web)).status is rc.HealthStatus.HEALTHY
    assert kube_cluster.get(last) is not None
    assert assess(kube_cluster.get(key("apps", "Deployment", "tail"))).status is rc.HealthStatus.PROGRESSING
    assert results(op) == [
        ("ConfigMap", "first", "Synced", "configmap/first created"),
        ("Deployment", "web", "Synced", "deployment.apps/web created"),
        ("ConfigMap", "last", "Synced", "configmap/last created"),
        ("Deployment", "tail", "Synced", "deployment.apps/tail created"),
    ]


# ------------------------------------------------------------------------------------------------------------
# Hooks.


def test_pre_and_post_sync_hooks_run_as_jobs_around_the_sync_phase(kube_cluster, kube_namespace, kubelet, folder, key):
    write(folder, "pre", job("migrate", hook="PreSync"))
    write(folder, "post", job(generate_name="notify-", hook="PostSync", **{DELETE_POLICY: "HookSucceeded"}))
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace)
    settings, migrate = key("", "ConfigMap", "settings"), key("batch", "Job", "migrate")
    op = app.start_sync()
    notify_name = hook_name(op, SyncPhase.POST_SYNC)
    notify = key("batch", "Job", notify_name)
    assert notify_name.startswith("notify-")
    assert len(notify_name) > len("notify-")

    step_until(op, lambda _: kube_cluster.get(migrate) is not None)
    assert HOOK_FINALIZER in finalizers(kube_cluster.get(migrate))
    steps(op, 5)
    assert op.message == "waiting for completion of hook batch/Job/migrate"
    assert kube_cluster.get(settings) is None

    eventually(lambda: kubelet.succeed_pods(kube_namespace, selector={"job-name": "migrate"}), what="migrate's pod")
    step_until(op, lambda _: kube_cluster.get(settings) is not None)
    step_until(op, lambda _: kube_cluster.get(notify) is not None)
    assert HOOK_FINALIZER in finalizers(kube_cluster.get(notify))
    assert HOOK_FINALIZER in finalizers(kube_cluster.get(migrate))  # held until the operation ends
    steps(op, 3)
    assert op.message == f"waiting for completion of hook batch/Job/{notify_name}"

    eventually(lambda: kubelet.succeed_pods(kube_namespace, selector={"job-name": notify_name}), what="notify's pod")
    step_until(op, lambda o: o.phase is not RUNNING)

    assert op.phase is SUCCEEDED, op.message
    assert results(op) == [
        ("Job", "migrate", "Synced", "job.batch/migrate completed"),
        ("ConfigMap", "settings", "Synced", "configmap/settings created"),
        ("Job", notify_name, "Synced", f"job.batch/{notify_name} completed"),
    ]
    # BeforeHookCreation (the default) keeps the hook until the next sync, released; HookSucceeded deletes it.
    kept = kube_cluster.get(migrate)
    assert condition(kept, "Complete") == "True"
    assert HOOK_FINALIZER not in finalizers(kept)
    eventually(lambda: kube_cluster.get(notify) is None, what="notify deleted")
    # Hooks are never compared: the app is in sync with its hook Job still there.
    assert not app.diff().modified


def test_a_failed_pre_sync_hook_fails_the_operation_and_runs_the_sync_fail_hook(
    kube_cluster, kube_namespace, kubelet, folder, key
):
    write(folder, "pre", job("check", hook="PreSync"))
    write(folder, "fail", job("cleanup", hook="SyncFail"))
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace)
    check, cleanup = key("batch", "Job", "check"), key("batch", "Job", "cleanup")
    op = app.start_sync()

    step_until(op, lambda _: kube_cluster.get(check) is not None)
    steps(op, 2)
    assert kube_cluster.get(cleanup) is None  # SyncFail hooks run only when the operation fails
    eventually(lambda: kubelet.fail_pods(kube_namespace, selector={"job-name": "check"}), what="check's pod")
    step_until(op, lambda _: kube_cluster.get(cleanup) is not None)
    assert op.phase is RUNNING  # the operation waits for its SyncFail hook before it ends
    assert HOOK_FINALIZER in finalizers(kube_cluster.get(cleanup))
    steps(op, 2)
    assert op.message == "waiting for completion of hook batch/Job/cleanup"

    eventually(lambda: kubelet.succeed_pods(kube_namespace, selector={"job-name": "cleanup"}), what="cleanup's pod")
    step_until(op, lambda o: o.phase is not RUNNING)

    assert op.phase is FAILED
    assert op.message == (
        "one or more synchronization tasks completed unsuccessfully: batch/Job/check: "
        "Job has reached the specified backoff limit"
    )
    assert kube_cluster.get(key("", "ConfigMap", "settings")) is None  # the Sync phase never ran
    assert results(op) == [
        ("Job", "check", "SyncFailed", "Job has reached the specified backoff limit"),
        ("Job", "cleanup", "Synced", "job.batch/cleanup completed"),
    ]
    assert condition(kube_cluster.get(cleanup), "Complete") == "True"
    assert HOOK_FINALIZER not in finalizers(kube_cluster.get(cleanup))
    assert HOOK_FINALIZER not in finalizers(kube_cluster.get(check))


def test_a_terminated_sync_deletes_its_running_hook_and_a_new_sync_completes(
    kube_cluster, kube_namespace, kubelet, folder, key
):
    write(folder, "pre", job("migrate", hook="PreSync"))
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace)
    migrate, settings = key("batch", "Job", "migrate"), key("", "ConfigMap", "settings")
    op = app.start_sync()
    step_until(op, lambda _: kube_cluster.get(migrate) is not None)
    steps(op, 2)
    assert op.message == "waiting for completion of hook batch/Job/migrate"
    first_uid = kube_cluster.get(migrate)["metadata"]["uid"]

    op.terminate()
    assert op.phase is rc.OperationPhase.TERMINATING
    assert op.step() is FAILED

    assert op.message == "Operation terminated while waiting for completion of hook batch/Job/migrate"
    assert op.result.phase is FAILED
    eventually(lambda: kube_cluster.get(migrate) is None, what="the running hook deleted")
    assert kube_cluster.get(settings) is None

    # Resumed: a fresh sync runs the hook again (the kubelet, in a thread, completes it) and the Sync phase.
    stop = threading.Event()

    def play_kubelet() -> None:
        while not stop.wait(0.2):
            kubelet.succeed_pods(kube_namespace, selector={"job-name": "migrate"})

    thread = threading.Thread(target=play_kubelet, daemon=True)
    thread.start()
    try:
        result = app.sync()
    finally:
        stop.set()
        thread.join()

    assert result.phase is SUCCEEDED, result.message
    assert results(result) == [
        ("Job", "migrate", "Synced", "job.batch/migrate completed"),
        ("ConfigMap", "settings", "Synced", "configmap/settings created"),
    ]
    rerun = kube_cluster.get(migrate)
    assert rerun["metadata"]["uid"] != first_uid
    assert condition(rerun, "Complete") == "True"
    assert kube_cluster.get(settings) is not None


# ------------------------------------------------------------------------------------------------------------
# Prune.


def test_prunes_run_in_mirrored_wave_order_and_prune_last_after_the_last_wave(
    kube_cluster, kube_namespace, folder, key
):
    write(folder, "early", configmap("early", wave=0))
    write(folder, "late", configmap("late", wave=2))
    write(folder, "final", configmap("final", wave=0, **{SYNC_OPTIONS: "PruneLast=true"}))
    write(folder, "keep", configmap("keep", wave=3))
    app = make_app(kube_cluster, folder, kube_namespace, prune=True)
    assert app.sync().succeeded
    for name in ("early", "late", "final"):
        remove(folder, name)
    write(folder, "keep", configmap("keep", wave=3) | {"data": {"name": "changed"}})
    early, late, final, keep = (key("", "ConfigMap", n) for n in ("early", "late", "final", "keep"))

    def deleted(k: rc.ResourceKey) -> bool:
        live = kube_cluster.get(k)
        return live is None or bool(live["metadata"].get("deletionTimestamp"))

    plan = app.plan()
    assert [(t.key.name, str(t.action), t.wave) for t in plan.tasks] == [
        ("late", "prune", 0),
        ("early", "prune", 2),
        ("keep", "update", 3),
        ("final", "prune", 4),
    ]
    op = app.start_sync()
    assert op.step() is RUNNING  # the dry run
    step_until(op, lambda _: deleted(late))
    assert not deleted(early)
    assert not deleted(final)
    step_until(op, lambda _: deleted(early))
    assert kube_cluster.get(keep)["data"] == {"name": "keep"}  # wave 3 not applied yet
    assert not deleted(final)
    step_until(op, lambda _: kube_cluster.get(keep)["data"] == {"name": "changed"})
    assert not deleted(final)
    step_until(op, lambda o: o.phase is not RUNNING)

    assert op.phase is SUCCEEDED, op.message
    assert results(op) == [
        ("ConfigMap", "late", "Pruned", "pruned"),
        ("ConfigMap", "early", "Pruned", "pruned"),
        ("ConfigMap", "keep", "Synced", "configmap/keep configured"),
        ("ConfigMap", "final", "Pruned", "pruned"),
    ]
    for gone in (late, early, final):
        eventually(lambda k=gone: kube_cluster.get(k) is None, what=f"{gone} gone")


@pytest.mark.parametrize("policy", ["foreground", "background", "orphan"])
def test_prune_propagation_policy_decides_what_happens_to_the_replica_set(
    kube_cluster, kube_namespace, folder, key, policy
):
    write(folder, "web", deployment("web"))
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace, prune=True, sync_options=[f"PrunePropagationPolicy={policy}"])
    assert app.sync().succeeded
    web = key("apps", "Deployment", "web")
    replica_sets = eventually(lambda: kube_cluster.list(REPLICA_SET, namespace=kube_namespace), what="a ReplicaSet")
    replica_set = rc.ResourceKey.from_manifest(replica_sets[0])
    assert replica_sets[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    remove(folder, "web")

    result = app.sync()

    assert result.phase is SUCCEEDED, result.message
    assert results(result) == [
        ("Deployment", "web", "Pruned", "pruned"),
        ("ConfigMap", "settings", "Synced", "configmap/settings unchanged"),
    ]
    if policy == "background":
        assert kube_cluster.get(web) is None  # gone at once; the garbage collector follows
    eventually(lambda: kube_cluster.get(web) is None, what="the Deployment gone")
    if policy == "foreground":
        # Foreground: the owner goes only after its dependents.
        assert kube_cluster.get(replica_set) is None
    if policy == "orphan":
        eventually(lambda: not kube_cluster.get(replica_set)["metadata"].get("ownerReferences"), what="orphaned")
        time.sleep(1.0)  # the garbage collector had its chance
        assert kube_cluster.get(replica_set) is not None
    else:
        eventually(lambda: kube_cluster.get(replica_set) is None, what="the ReplicaSet collected")


def test_a_prune_marked_confirm_waits_for_the_confirmation(kube_cluster, kube_namespace, folder, key):
    write(folder, "old", configmap("old", **{SYNC_OPTIONS: "Prune=confirm"}))
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace, prune=True)
    assert app.sync().succeeded
    remove(folder, "old")
    old = key("", "ConfigMap", "old")
    op = app.start_sync()

    steps(op, 4)
    assert op.message == "Waiting for pruning confirmation of v1/ConfigMap/old"
    assert kube_cluster.get(old) is not None

    op.confirm_prune()
    step_until(op, lambda o: o.phase is not RUNNING)

    assert op.phase is SUCCEEDED, op.message
    assert results(op) == [
        ("ConfigMap", "old", "Pruned", "pruned"),
        ("ConfigMap", "settings", "Synced", "configmap/settings unchanged"),
    ]
    eventually(lambda: kube_cluster.get(old) is None, what="old pruned")


# ------------------------------------------------------------------------------------------------------------
# Kinds and namespaces created by the sync itself.


@pytest.fixture
def crd_group(kube_cluster, kube_namespace) -> Iterator[str]:
    """A CRD group unique to the test; its CRD is deleted afterwards."""
    group = f"{kube_namespace}.reconcile.test"
    yield group
    with contextlib.suppress(NotFoundError):
        kube_cluster.delete(rc.ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", f"widgets.{group}"))


def test_a_crd_and_its_custom_resource_sync_together(kube_cluster, kube_namespace, folder, key, crd_group):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        # A later wave than its custom resource: the plan moves the CRD ahead of the first object of its kind.
        "metadata": {"name": f"widgets.{crd_group}", "annotations": {WAVE: "1"}},
        "spec": {
            "group": crd_group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }
    widget = {"apiVersion": f"{crd_group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    write(folder, "widget", widget)
    write(folder, "crd", crd)
    app = make_app(kube_cluster, folder, kube_namespace)

    plan = app.plan()
    assert [(t.key.kind, t.wave, t.skip_dry_run) for t in plan.tasks] == [
        ("CustomResourceDefinition", 0, False),
        ("Widget", 0, True),  # its kind is not served yet: the server could not dry-run it
    ]
    result = app.sync()

    assert result.phase is SUCCEEDED, result.message
    assert results(result) == [
        (
            "CustomResourceDefinition",
            f"widgets.{crd_group}",
            "Synced",
            f"customresourcedefinition.apiextensions.k8s.io/widgets.{crd_group} created",
        ),
        ("Widget", "w", "Synced", f"widget.{crd_group}/w created"),
    ]
    live = kube_cluster.get(key(crd_group, "Widget", "w"))
    assert live["spec"] == {"size": 3}
    assert tracking.is_owned_by(live, app.name)
    assert not app.diff().modified


def test_create_namespace_creates_the_destination_untracked(kube_cluster, kube_namespace, control_plane, folder):
    destination = f"{kube_namespace}-dest"
    namespace = rc.ResourceKey("", "Namespace", "", destination)
    try:
        write(folder, "settings", configmap("settings"))
        app = make_app(kube_cluster, folder, destination, prune=True, sync_options=["CreateNamespace=true"])
        plan = app.plan()
        assert [(t.key.kind, t.reason, t.skip_dry_run) for t in plan.tasks] == [
            ("Namespace", "CreateNamespace", False),
            ("ConfigMap", "missing", True),  # its namespace does not exist yet: no dry-run
        ]

        result = app.sync()

        assert result.phase is SUCCEEDED, result.message
        assert results(result) == [
            ("Namespace", destination, "Synced", f"namespace/{destination} created"),
            ("ConfigMap", "settings", "Synced", "configmap/settings created"),
        ]
        created = kube_cluster.get(namespace)
        assert created is not None
        assert tracking.owner(created) is None  # untracked: the app never prunes its own destination
        assert kube_cluster.get(rc.ResourceKey("", "ConfigMap", destination, "settings"))["data"] == {
            "name": "settings"
        }
        # A second sync finds the namespace and neither creates nor prunes it.
        assert [t.key.kind for t in app.plan().tasks] == ["ConfigMap"]
        again = app.sync()
        assert again.succeeded
        assert kube_cluster.get(namespace)["metadata"]["uid"] == created["metadata"]["uid"]
    finally:
        with contextlib.suppress(NotFoundError):
            control_plane.request("DELETE", f"/api/v1/namespaces/{destination}")


# ------------------------------------------------------------------------------------------------------------
# Options that change how objects are written.


def test_replace_with_force_recreates_an_object_whose_immutable_field_changed(
    kube_cluster, kube_namespace, folder, key
):
    write(folder, "web", deployment("web", label="web", **{SYNC_OPTIONS: "Replace=true"}))
    app = make_app(kube_cluster, folder, kube_namespace)
    assert app.sync().succeeded
    web = key("apps", "Deployment", "web")
    before = kube_cluster.get(web)

    # spec.selector of an apps/v1 Deployment is immutable.
    write(folder, "web", deployment("web", label="web2", **{SYNC_OPTIONS: "Replace=true"}))
    refused = app.sync()

    assert refused.phase is FAILED
    assert refused.message == "one or more synchronization tasks are not valid (1 of 1 failed the dry run)"
    [(kind, name, status, message)] = results(refused)
    assert (kind, name, status) == ("Deployment", "web", "SyncFailed")
    assert "spec.selector" in message
    assert "field is immutable" in message
    assert kube_cluster.get(web)["metadata"]["uid"] == before["metadata"]["uid"]

    write(folder, "web", deployment("web", label="web2", **{SYNC_OPTIONS: "Replace=true,Force=true"}))
    rehearsal = app.sync(dry_run=True)

    assert rehearsal.phase is SUCCEEDED, rehearsal.message
    assert results(rehearsal) == [("Deployment", "web", "Synced", "deployment.apps/web configured (dry run)")]
    assert kube_cluster.get(web)["metadata"]["uid"] == before["metadata"]["uid"]  # nothing deleted

    forced = app.sync()

    assert forced.phase is SUCCEEDED, forced.message
    assert results(forced) == [("Deployment", "web", "Synced", "deployment.apps/web configured")]
    after = kube_cluster.get(web)
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["spec"]["selector"] == {"matchLabels": {"app": "web2"}}
    assert not app.diff().modified


def test_client_side_apply_writes_the_last_applied_annotation(kube_cluster, kube_namespace, folder, key):
    write(folder, "settings", configmap("settings"))
    app = make_app(kube_cluster, folder, kube_namespace, sync_options=["ServerSideApply=false"])

    result = app.sync()

    assert result.phase is SUCCEEDED, result.message
    live = kube_cluster.get(key("", "ConfigMap", "settings"))
    last_applied = json.loads(live["metadata"]["annotations"][LAST_APPLIED])
    assert last_applied["data"] == {"name": "settings"}
    assert last_applied["metadata"]["name"] == "settings"
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [("reconcile", "Update")]

    write(folder, "settings", configmap("settings") | {"data": {"name": "changed"}})
    assert app.sync().succeeded
    live = kube_cluster.get(key("", "ConfigMap", "settings"))
    assert json.loads(live["metadata"]["annotations"][LAST_APPLIED])["data"] == {"name": "changed"}
    assert live["data"] == {"name": "changed"}


# ------------------------------------------------------------------------------------------------------------
# Dry run.


def test_a_dry_run_touches_nothing(kube_cluster, kube_namespace, folder, key):
    write(folder, "changed", configmap("changed"))
    write(folder, "leftover", configmap("leftover"))
    app = make_app(kube_cluster, folder, kube_namespace, prune=True)
    assert app.sync().succeeded
    write(folder, "changed", configmap("changed") | {"data": {"name": "new"}})
    remove(folder, "leftover")
    write(folder, "web", deployment("web"))
    write(folder, "pre", job("migrate", hook="PreSync"))
    kinds = (rc.GroupKind("", "ConfigMap"), rc.GroupKind("apps", "Deployment"), rc.GroupKind("batch", "Job"), POD)

    def versions() -> dict[str, str]:
        return {
            f"{obj['kind']}/{obj['metadata']['name']}": obj["metadata"]["resourceVersion"]
            for kind in kinds
            for obj in kube_cluster.list(kind, namespace=kube_namespace)
        }

    before = versions()
    result = app.sync(dry_run=True)

    assert result.phase is SUCCEEDED, result.message
    assert result.dry_run
    assert sorted(results(result)) == [
        ("ConfigMap", "changed", "Synced", "configmap/changed configured (dry run)"),
        ("ConfigMap", "leftover", "Pruned", "pruned (dry run)"),
        ("Deployment", "web", "Synced", "deployment.apps/web created (dry run)"),
        ("Job", "migrate", "Synced", "job.batch/migrate created (dry run)"),
    ]
    time.sleep(0.5)  # a controller reacting to a write would have done so by now
    assert versions() == before
    assert kube_cluster.get(key("", "ConfigMap", "changed"))["data"] == {"name": "changed"}
    assert app.diff().modified
