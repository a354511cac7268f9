"""The example controller on the real control plane: Applications in, objects and Argo CD-shaped status out.

Each controller gets its own client (as a separate process would) and short durations: a 2-second Lease, passes
every second, so the whole module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import controller
import leader
import pytest
import sharding

import reconcile as rc
from reconcile.cluster._kubernetes import KubernetesCluster
from reconcile.manifests import load_manifests
from reconcile.testing import ControlPlane
from reconcile.testing.pytest_plugin import namespace_name
from support import eventually

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "controller"
LEASE_SECONDS = 2
CRD_NAME = "applications.argoproj.io"

ControllerFactory = Callable[..., controller.Controller]


@pytest.fixture(scope="module")
def crd(kube_cluster: KubernetesCluster) -> Iterator[None]:
    """The Application CRD from the example, installed for this module and removed afterwards."""
    [(manifest, _)] = load_manifests((EXAMPLE / "crd.yaml").read_text(), file="crd.yaml")
    kube_cluster.apply(manifest)
    kube_cluster.wait_established(CRD_NAME)
    yield
    key = rc.ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", CRD_NAME)
    with contextlib.suppress(rc.errors.NotFoundError):
        kube_cluster.delete(key)
    eventually(lambda: kube_cluster.get(key) is None, what="the CRD to be deleted")


@pytest.fixture
def repo(tmp_path: Path) -> rc.testing.LocalRepository:
    return rc.testing.LocalRepository.init(tmp_path / "apps.git")


@pytest.fixture
def make_controller(control_plane: ControlPlane, tmp_path: Path) -> Iterator[ControllerFactory]:
    """Starts controllers in threads, each with its own client; stops and closes them all at the end."""
    started: list[tuple[controller.Controller, KubernetesCluster]] = []

    def make(namespace: str, **options: Any) -> controller.Controller:
        cluster = KubernetesCluster.from_kubeconfig(control_plane.kubeconfig)
        options.setdefault("interval", 1.0)
        options.setdefault("lease_duration", LEASE_SECONDS)
        options.setdefault("watch_timeout", 5.0)
        options.setdefault("cache_dir", tmp_path / f"cache-{len(started)}")
        made = controller.Controller(cluster, namespace=namespace, **options).start()
        started.append((made, cluster))
        return made

    yield make
    for made, cluster in started:
        made.stop()
        cluster.close()


def configmap(name: str, namespace: str, **data: str) -> str:
    lines = "".join(f"  {k}: {v!r}\n" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n{lines}"


def service(name: str, namespace: str) -> str:
    return (
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"spec:\n  ports:\n  - port: 80\n    targetPort: 8080\n  selector:\n    app: {name}\n"
    )


def application(name: str, namespace: str, repo: rc.testing.LocalRepository) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo.url, "targetRevision": "main", "path": f"apps/{name}"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def app_key(namespace: str, name: str) -> rc.ResourceKey:
    return rc.ResourceKey("argoproj.io", "Application", namespace, name)


def status_of(cluster: KubernetesCluster, namespace: str, name: str) -> dict[str, Any]:
    obj = cluster.get(app_key(namespace, name)) or {}
    return dict(obj.get("status") or {})


def synced_at(cluster: KubernetesCluster, namespace: str, name: str, sha: str) -> dict[str, Any] | None:
    """The status once it reports a successful sync of ``sha``, else ``None``."""
    status = status_of(cluster, namespace, name)
    phase = (status.get("operationState") or {}).get("phase")
    if status.get("sync", {}).get("status") == "Synced" and status["sync"].get("revision") == sha and phase:
        return status
    return None


def lease_holder(cluster: KubernetesCluster, namespace: str, name: str) -> str | None:
    lease = cluster.get(rc.ResourceKey("coordination.k8s.io", "Lease", namespace, name))
    return ((lease or {}).get("spec") or {}).get("holderIdentity") if lease is not None else None


def add_app(cluster: KubernetesCluster, repo: rc.testing.LocalRepository, namespace: str, name: str) -> str:
    sha = repo.commit(
        {
            f"apps/{name}/configmap.yaml": configmap(f"{name}-settings", namespace, color="blue"),
            f"apps/{name}/service.yaml": service(name, namespace),
        },
        f"add {name}",
    )
    cluster.create(application(name, namespace, repo))
    return sha


@pytest.mark.usefixtures("crd")
def test_controller_syncs_the_app_and_writes_argo_cd_status(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    first = add_app(kube_cluster, repo, ns, "web")
    ctl = make_controller(ns, identity="solo")

    status = eventually(lambda: synced_at(kube_cluster, ns, "web", first), what="the first sync's status")
    cm = kube_cluster.get(rc.ResourceKey("", "ConfigMap", ns, "web-settings"))
    assert cm is not None
    assert cm["data"] == {"color": "blue"}
    assert kube_cluster.get(rc.ResourceKey("", "Service", ns, "web")) is not None
    assert status["health"]["status"] in ("Healthy", "Progressing")
    assert status["sync"]["comparedTo"]["source"]["repoURL"] == repo.url
    operation = status["operationState"]
    assert operation["phase"] == "Succeeded"
    assert operation["operation"]["sync"]["revision"] == first
    assert operation["startedAt"] <= operation["finishedAt"]
    results = {(r["kind"], r["name"]): r for r in operation["syncResult"]["resources"]}
    assert set(results) == {("ConfigMap", "web-settings"), ("Service", "web")}
    assert results["ConfigMap", "web-settings"]["status"] == "Synced"
    assert results["ConfigMap", "web-settings"]["namespace"] == ns
    assert results["ConfigMap", "web-settings"]["version"] == "v1"
    assert "created" in results["ConfigMap", "web-settings"]["message"]
    resources = {(r["kind"], r["name"]): r for r in status["resources"]}
    assert resources["Service", "web"]["status"] == "Synced"
    assert resources["Service", "web"]["health"]["status"] == "Healthy"
    assert status["reconciledAt"].endswith("Z")
    assert ctl.elector.holder() == "solo"

    # Settled: passes go on every second, but an unchanged status is not written again (no hot loop).
    writes, passes = sum(ctl.stats.status_writes.values()), ctl.stats.passes["web"]
    eventually(lambda: ctl.stats.passes["web"] >= passes + 2, what="two more passes")
    assert sum(ctl.stats.status_writes.values()) == writes

    # A commit changes the app; the next pass syncs it and the status follows.
    second = repo.commit({"apps/web/configmap.yaml": configmap("web-settings", ns, color="green")}, "green")
    status = eventually(lambda: synced_at(kube_cluster, ns, "web", second), what="the status of the second commit")
    assert status["operationState"]["operation"]["sync"]["revision"] == second
    changed = {r["name"]: r for r in status["operationState"]["syncResult"]["resources"]}
    assert "configured" in changed["web-settings"]["message"]
    cm = kube_cluster.get(rc.ResourceKey("", "ConfigMap", ns, "web-settings"))
    assert cm is not None
    assert cm["data"] == {"color": "green"}


@pytest.mark.usefixtures("crd")
def test_controller_follows_refresh_requests_spec_changes_and_deletion(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    second = add_app(kube_cluster, repo, ns, "web")
    ctl = make_controller(ns, identity="solo", interval=30.0)  # no pass from the interval in this test
    eventually(lambda: synced_at(kube_cluster, ns, "web", second), what="the first sync's status")

    # The refresh annotation asks for a pass now; the controller removes it once the pass ran.
    passes = ctl.stats.passes["web"]
    kube_cluster.patch(app_key(ns, "web"), {"metadata": {"annotations": {controller.REFRESH_ANNOTATION: "normal"}}})
    eventually(
        lambda: not ((kube_cluster.get(app_key(ns, "web")) or {})["metadata"].get("annotations") or {}),
        timeout=5,
        what="the refresh annotation to be removed",
    )
    assert ctl.stats.passes["web"] > passes

    # A spec change is seen through the watch, not at the next interval: point the app at a missing folder.
    kube_cluster.patch(app_key(ns, "web"), {"spec": {"source": {"path": "apps/nowhere"}}})
    status = eventually(
        lambda: (s := status_of(kube_cluster, ns, "web")).get("conditions") and s,
        timeout=10,
        what="the error condition",
    )
    assert status["conditions"][0]["type"] == "ComparisonError"
    assert "nowhere" in status["conditions"][0]["message"]
    assert status["sync"]["status"] == "Unknown"
    assert status["operationState"]["operation"]["sync"]["revision"] == second  # the last operation stays

    # Deleted: the controller forgets it (no more passes); its objects stay, as without Argo CD's finalizer.
    kube_cluster.delete(app_key(ns, "web"))
    eventually(lambda: app_key(ns, "web") not in ctl.queue, timeout=5, what="the app to leave the queue")
    passes = ctl.stats.passes["web"]
    time.sleep(0.5)
    assert app_key(ns, "web") not in ctl.queue  # a known app is always queued for its next pass
    assert ctl.stats.passes["web"] == passes
    assert kube_cluster.get(rc.ResourceKey("", "ConfigMap", ns, "web-settings")) is not None


@pytest.mark.usefixtures("crd")
def test_a_live_edit_is_healed_within_seconds_not_at_the_next_interval(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    first = add_app(kube_cluster, repo, ns, "web")
    ctl = make_controller(ns, identity="solo", interval=3600.0)  # no pass from the interval in this test
    eventually(lambda: synced_at(kube_cluster, ns, "web", first), what="the first sync's status")
    key = rc.ResourceKey("", "ConfigMap", ns, "web-settings")
    eventually(lambda: key.group_kind in ctl.live.cached_kinds, what="the app's kinds to be watched")
    syncs = ctl.stats.syncs[f"{ns}_web"]

    kube_cluster.patch(key, {"data": {"color": "red"}}, field_manager="kubectl-edit")
    started = time.monotonic()
    eventually(lambda: kube_cluster.get(key)["data"] == {"color": "blue"}, timeout=20, what="the heal")
    assert time.monotonic() - started < 10  # the interval is an hour: only the live change can have done it
    assert ctl.stats.live_triggers[f"{ns}_web"] >= 1
    # Counted from the passes' SyncFinished events, emitted once the operation ends: after the write seen above.
    eventually(lambda: ctl.stats.syncs[f"{ns}_web"] > syncs, timeout=10, what="the heal's SyncFinished event")


@pytest.mark.usefixtures("crd")
def test_two_replicas_one_leader_and_takeover_when_it_dies(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    sha = add_app(kube_cluster, repo, ns, "web")
    a = make_controller(ns, identity="replica-a")
    eventually(lambda: lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == "replica-a", what="a to lead")
    b = make_controller(ns, identity="replica-b")
    eventually(lambda: synced_at(kube_cluster, ns, "web", sha), what="the sync")
    eventually(lambda: a.stats.passes["web"] >= 3, what="a few passes")  # b has had time to try
    assert not b.stats.passes
    assert not b.stats.status_writes
    assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == "replica-a"
    assert a.elector.is_leader()
    assert not b.elector.is_leader()

    # a dies without releasing its Lease: b takes over once the Lease ran out, and reconciles.
    a.stop(release=False)
    stopped = time.monotonic()
    assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == "replica-a"
    eventually(lambda: b.stats.passes["web"] >= 1, timeout=LEASE_SECONDS + 5, what="b to take over")
    assert time.monotonic() - stopped < LEASE_SECONDS + 2  # the Lease's duration, a renew period, and the pass
    assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == "replica-b"

    # b stops cleanly: it releases the Lease, so a next replica need not wait.
    b.stop()
    assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == ""
    lease = kube_cluster.get(rc.ResourceKey("coordination.k8s.io", "Lease", ns, controller.DEFAULT_LEASE))
    assert lease is not None
    assert lease["spec"]["leaseTransitions"] == 1


@pytest.mark.usefixtures("crd")
def test_two_shards_split_two_apps_by_hash(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    names = [f"app-{i}" for i in range(20)]
    first = next(n for n in names if sharding.shard_of(ns, n, 2) == 0)
    second = next(n for n in names if sharding.shard_of(ns, n, 2) == 1)
    shas = {name: add_app(kube_cluster, repo, ns, name) for name in (first, second)}
    # Both apps read the same repository: each is synced at its last commit, the second app's.
    zero = make_controller(ns, identity="zero", shard=sharding.Shard(0, 2))
    one = make_controller(ns, identity="one", shard=sharding.Shard(1, 2))
    eventually(lambda: synced_at(kube_cluster, ns, first, shas[second]), what=f"{first} synced")
    eventually(lambda: synced_at(kube_cluster, ns, second, shas[second]), what=f"{second} synced")
    assert set(zero.stats.passes) == {first}
    assert set(one.stats.passes) == {second}
    assert lease_holder(kube_cluster, ns, f"{controller.DEFAULT_LEASE}-shard-0-of-2") == "zero"
    assert lease_holder(kube_cluster, ns, f"{controller.DEFAULT_LEASE}-shard-1-of-2") == "one"


@pytest.mark.usefixtures("crd")
def test_cli_runs_and_sigterm_releases_the_lease(
    control_plane: ControlPlane,
    kube_cluster: KubernetesCluster,
    kube_namespace: str,
    repo: rc.testing.LocalRepository,
    tmp_path: Path,
) -> None:
    ns = kube_namespace
    sha = add_app(kube_cluster, repo, ns, "web")
    command = [
        sys.executable,
        str(EXAMPLE / "controller.py"),
        *("--kubeconfig", str(control_plane.kubeconfig), "--namespace", ns, "--interval", "1"),
        *("--identity", "cli", "--lease-duration", "10", "--watch-timeout", "5"),
        *("--cache-dir", str(tmp_path / "cache")),
    ]
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as process:
        try:
            eventually(lambda: synced_at(kube_cluster, ns, "web", sha), timeout=30, what="the CLI's sync")
            assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == "cli"
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]
    # Released at once, not left to run out for 10 seconds.
    assert lease_holder(kube_cluster, ns, controller.DEFAULT_LEASE) == ""
    assert b"reconcile.controller.lease.released" in output


def test_leader_election_refuses_a_stale_resource_version(kube_cluster: KubernetesCluster, kube_namespace: str) -> None:
    a = leader.LeaderElector(kube_cluster, name="lock", namespace=kube_namespace, identity="a", lease_duration=2)
    b = leader.LeaderElector(kube_cluster, name="lock", namespace=kube_namespace, identity="b", lease_duration=2)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # held and fresh
    key = rc.ResourceKey("coordination.k8s.io", "Lease", kube_namespace, "lock")
    stale = kube_cluster.get(key)
    assert stale is not None
    assert a.try_acquire_or_renew()  # a renews: the resourceVersion moves on
    stale["spec"]["holderIdentity"] = "b"
    with pytest.raises(rc.errors.ConflictError):
        kube_cluster.replace(stale)  # the precondition every write of the elector carries
    assert a.holder() == "a"
    assert a.release()
    assert a.holder() is None
    assert b.try_acquire_or_renew()  # released: no need to wait for it to run out
    assert b.holder() == "b"


@pytest.mark.usefixtures("crd")
def test_a_sync_requested_through_the_operation_field_runs_and_is_cleared(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    sha = repo.commit({"apps/manual/configmap.yaml": configmap("manual-settings", ns, color="red")}, "add manual")
    manual = application("manual", ns, repo)
    manual["spec"]["syncPolicy"] = {}  # no automated sync: only a request syncs it
    kube_cluster.create(manual)
    make_controller(ns, identity="solo", interval=30.0)
    settings = rc.ResourceKey("", "ConfigMap", ns, "manual-settings")
    eventually(
        lambda: status_of(kube_cluster, ns, "manual").get("sync", {}).get("status") == "OutOfSync",
        what="the manual app to be compared",
    )
    assert kube_cluster.get(settings) is None

    kube_cluster.patch(app_key(ns, "manual"), {"operation": {"sync": {"prune": True}}})

    synced = eventually(lambda: synced_at(kube_cluster, ns, "manual", sha), what="the requested sync")
    assert synced["operationState"]["phase"] == "Succeeded"
    assert kube_cluster.get(settings) is not None
    eventually(lambda: "operation" not in (kube_cluster.get(app_key(ns, "manual")) or {}), what="the request to clear")


@pytest.mark.usefixtures("crd")
def test_deleting_an_application_with_the_resources_finalizer_deletes_its_objects_first(
    kube_cluster: KubernetesCluster, kube_namespace: str, repo: rc.testing.LocalRepository, make_controller: Any
) -> None:
    ns = kube_namespace
    sha = add_app(kube_cluster, repo, ns, "doomed")
    kube_cluster.patch(app_key(ns, "doomed"), {"metadata": {"finalizers": ["resources-finalizer.argocd.argoproj.io"]}})
    make_controller(ns, identity="solo", interval=30.0)
    eventually(lambda: synced_at(kube_cluster, ns, "doomed", sha), what="the first sync")
    settings = rc.ResourceKey("", "ConfigMap", ns, "doomed-settings")
    assert kube_cluster.get(settings) is not None

    kube_cluster.delete(app_key(ns, "doomed"))

    eventually(lambda: kube_cluster.get(app_key(ns, "doomed")) is None, what="the Application to go")
    assert kube_cluster.get(settings) is None
    assert kube_cluster.get(rc.ResourceKey("", "Service", ns, "doomed")) is None


@pytest.mark.usefixtures("crd")
def test_two_controllers_with_an_app_of_one_name_never_prune_each_others_objects(
    kube_cluster: KubernetesCluster,
    kube_namespace: str,
    control_plane: ControlPlane,
    repo: rc.testing.LocalRepository,
    make_controller: Any,
) -> None:
    # Two controllers, each watching its own namespace, each with an Application named "web" (its own folder).
    first_ns = kube_namespace
    second_ns = namespace_name("second-controller")
    control_plane.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": second_ns}})  # fmt: skip
    try:
        first = add_app(kube_cluster, repo, first_ns, "web")
        make_controller(first_ns, identity="first", interval=0.5)
        eventually(lambda: synced_at(kube_cluster, first_ns, "web", first), what="the first app's sync")
        second = repo.commit({"apps/web-b/configmap.yaml": configmap("web-settings", second_ns, color="green")}, "b")
        app = application("web", second_ns, repo)
        app["spec"]["source"]["path"] = "apps/web-b"
        kube_cluster.create(app)
        make_controller(second_ns, identity="second", interval=0.5)
        eventually(lambda: synced_at(kube_cluster, second_ns, "web", second), what="the second app's sync")
        time.sleep(2)  # several passes of both controllers
        mine = kube_cluster.get(rc.ResourceKey("", "ConfigMap", first_ns, "web-settings"))
        theirs = kube_cluster.get(rc.ResourceKey("", "ConfigMap", second_ns, "web-settings"))
        assert mine is not None, "the second controller pruned the first app's objects"
        assert theirs is not None, "the first controller pruned the second app's objects"
        tracking = rc.argocd.tracking.TRACKING_ANNOTATION
        assert theirs["metadata"]["annotations"][tracking].startswith(f"{second_ns}_web:")
    finally:
        control_plane.request("DELETE", f"/api/v1/namespaces/{second_ns}")
