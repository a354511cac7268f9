"""The watcher on the in-memory cluster: heal on a live change, echoes of its own writes, webhooks, shutdown."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.watching import Watcher, repository_key, watch
from support import eventually

GUESTBOOK = Path(__file__).parents[1] / "examples" / "guestbook"


def make_app(folder: Path, cluster: Any, name: str, namespace: str, **options: Any) -> rc.Reconciler:
    return rc.Reconciler(
        name=name,
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=rc.SyncPolicy(automated=True, self_heal=True, sync_options=("CreateNamespace=true",)),
        **options,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(GUESTBOOK, app)
    return app


def test_a_live_edit_is_healed_by_one_pass_of_its_app_only(folder):
    cluster = rc.MemoryCluster()
    one, two = make_app(folder, cluster, "one", "one"), make_app(folder, cluster, "two", "two")
    with watch([one, two], interval=3600, debounce=0.05) as watcher:
        assert watcher.wait_idle(10)
        assert watcher.passes == {"one": 1, "two": 1}  # its own writes came back as events and started nothing
        key = rc.ResourceKey("apps", "Deployment", "one", "guestbook-ui")
        cluster.edit(key, lambda d: d["spec"].update(replicas=7))
        eventually(lambda: cluster.get(key)["spec"]["replicas"] == 2, timeout=10, what="the heal")
        assert watcher.wait_idle(10)
        assert watcher.passes == {"one": 2, "two": 1}
        result = watcher.results["one"]
        assert result.sync is not None
        assert result.sync.succeeded


def test_a_burst_of_changes_makes_one_pass(folder):
    cluster = rc.MemoryCluster()
    app = make_app(folder, cluster, "burst", "burst")
    with Watcher([app], interval=3600, debounce=0.3) as watcher:
        assert watcher.wait_idle(10)
        key = rc.ResourceKey("", "ConfigMap", "burst", "guestbook-banner")
        for value in range(5):
            cluster.edit(key, lambda c, v=value: c.setdefault("data", {}).update(extra=str(v)))
        eventually(lambda: watcher.passes["burst"] == 2, timeout=10, what="the pass the burst triggers")
        time.sleep(0.6)  # twice the debounce: no second pass comes
        assert watcher.wait_idle(10)
        assert watcher.passes == {"burst": 2}


def test_a_deleted_object_is_recreated(folder):
    cluster = rc.MemoryCluster()
    app = make_app(folder, cluster, "gone", "gone")
    with Watcher([app], interval=3600, debounce=0.05) as watcher:
        assert watcher.wait_idle(10)
        key = rc.ResourceKey("", "Service", "gone", "guestbook-ui")
        cluster.delete(key)
        eventually(lambda: cluster.get(key) is not None, timeout=10, what="the Service back")


def test_stop_lets_a_running_pass_end_and_starts_no_other(folder):
    cluster = rc.MemoryCluster()
    entered, release = threading.Event(), threading.Event()
    finished: list[rc.ReconcileResult] = []

    def slow(result: rc.ReconcileResult) -> None:
        entered.set()
        release.wait(5)
        finished.append(result)

    app = make_app(folder, cluster, "slow", "slow")
    watcher = Watcher([app], interval=0.01, on_result=slow).start()
    assert entered.wait(10)
    stopper = threading.Thread(target=watcher.stop)
    stopper.start()
    time.sleep(0.1)
    release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    count = len(finished)
    time.sleep(0.2)
    assert len(finished) == count == 1
    assert watcher.passes == {"slow": 1}


def test_the_watcher_refuses_what_it_cannot_watch(folder):
    class Plain:
        """A cluster that tells of no changes."""

        def __getattr__(self, name: str) -> Any:
            return getattr(cluster, name)

    cluster = rc.MemoryCluster()
    plain = rc.Reconciler(
        name="plain",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=rc.cluster.CachedCluster.__new__(rc.cluster.CachedCluster),
    )
    plain.cluster = Plain()  # type: ignore[assignment]
    with pytest.raises(rc.ConfigurationError, match="tells of no changes; give it a CachedCluster"):
        Watcher([plain])
    app = make_app(folder, cluster, "a", "a")
    with pytest.raises(rc.ConfigurationError, match="two apps share a name"):
        Watcher([app, app])
    with pytest.raises(rc.ConfigurationError, match="debounce"):
        Watcher([app], debounce=-1)
    with Watcher([app], interval=3600) as watcher, pytest.raises(rc.ConfigurationError, match="no app named 'b'"):
        watcher.refresh("b")


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Org/Repo.git",
        "https://github.com/org/repo",
        "https://token@github.com/org/repo/",
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo",
        "ssh://git@github.com:22/org/repo.git",
        "http://github.com:80/org/repo",
    ],
)
def test_repository_urls_are_compared_as_argo_cds_webhook_compares_them(url):
    assert repository_key(url) == "github.com/org/repo"


def test_a_webhook_push_triggers_only_the_apps_that_follow_the_pushed_branch(tmp_path):
    cluster = rc.MemoryCluster()
    repository = rc.testing.LocalRepository.init(tmp_path / "repo.git")
    files = {"app/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}
    repository.commit(files, "one")
    repository.commit(files, "release", branch="release")

    def app(name: str, revision: str, namespace: str) -> rc.Reconciler:
        return rc.Reconciler(
            name=name,
            source=rc.GitSource(repository.url, revision=revision, path="app", cache_dir=tmp_path / "cache"),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            namespace=namespace,
        )

    apps = [app("main", "main", "default"), app("head", "HEAD", "kube-public"), app("other", "release", "kube-system")]
    with Watcher(apps, interval=3600) as watcher:
        assert watcher.wait_idle(30)
        push = {"ref": "refs/heads/main", "repository": {"clone_url": repository.url, "default_branch": "main"}}
        assert watcher.refresh_from_webhook(push) == ("main", "head")
        assert watcher.wait_idle(30)
        assert watcher.passes == {"main": 2, "head": 2, "other": 1}
        gitlab = {
            "ref": "refs/heads/release",
            "project": {"git_http_url": repository.url + "/", "default_branch": "main"},
        }
        assert watcher.refresh_from_webhook(gitlab) == ("other",)
        # Without the default branch, an app following HEAD is refreshed too: a pass too many, never one too few.
        unknown = {"ref": "refs/heads/release", "repository": {"url": repository.url}}
        assert watcher.refresh_from_webhook(unknown) == ("head", "other")
        assert watcher.refresh_from_webhook({"ref": "refs/tags/v1", "repository": {"url": repository.url}}) == ()
        assert watcher.refresh_from_webhook(b'{"zen": "ping"}') == ()
        with pytest.raises(rc.ConfigurationError, match="not JSON"):
            watcher.refresh_from_webhook("{")


def test_a_pass_that_crashes_is_logged_and_the_app_is_not_stuck(folder):
    cluster = rc.MemoryCluster()
    app = make_app(folder, cluster, "crash", "crash")
    calls = []

    def broken() -> rc.ReconcileResult:
        calls.append(1)
        raise RuntimeError("a bug")

    app.reconcile = broken  # type: ignore[method-assign]
    with Watcher([app], interval=0.05) as watcher:
        eventually(lambda: len(calls) >= 3, timeout=10, what="passes after a crash")
        assert watcher.passes == {"crash": 0}
