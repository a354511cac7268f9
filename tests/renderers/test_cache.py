"""The render cache: one render per distinct input, in memory and on disk; manifest-generate-paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc
from reconcile.errors import ConfigurationError, PathEscapeError
from reconcile.renderers._cache import CachingRenderer, RenderCache


class CountingRenderer:
    """The directory renderer, counting how often it really renders."""

    def __init__(self, setting: str = "a") -> None:
        self.inner = rc.DirectoryRenderer(recurse=True)
        self.setting = setting
        self.renders = 0

    def render(self, snapshot: rc.model.Snapshot) -> tuple[rc.model.Resource, ...]:
        self.renders += 1
        return self.inner.render(snapshot)

    def fingerprint(self) -> str:
        return f"counting:{self.setting}"


def _snapshot(root: Path, sha: str, path: str = "app") -> rc.model.Snapshot:
    return rc.model.Snapshot(revision=rc.model.Revision(sha=sha, ref="main"), root=root, path=path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/README.md").write_text("hello\n")
    return tmp_path


def test_an_unchanged_revision_renders_once(repo):
    inner = CountingRenderer()
    cached = CachingRenderer(inner=inner)

    first = cached.render(_snapshot(repo, "1" * 40))
    again = cached.render(_snapshot(repo, "1" * 40))
    cached.render(_snapshot(repo, "2" * 40))

    assert inner.renders == 2
    assert again == first
    assert (cached.cache.hits, cached.cache.misses) == (1, 2)


def test_the_key_holds_the_path_the_renderer_settings_and_the_cluster_version(repo):
    cache = RenderCache()
    snapshot = _snapshot(repo, "1" * 40)
    keys = {
        CachingRenderer(inner=CountingRenderer("a"), cache=cache).key(snapshot),
        CachingRenderer(inner=CountingRenderer("b"), cache=cache).key(snapshot),
        CachingRenderer(inner=CountingRenderer("a"), cache=cache, cluster_version="1.20").key(snapshot),
        CachingRenderer(inner=CountingRenderer("a"), cache=cache).key(_snapshot(repo, "1" * 40, path=".")),
    }
    assert len(keys) == 4


def test_generate_paths_reuse_the_render_when_a_commit_touches_none_of_them(repo):
    inner = CountingRenderer()
    cached = CachingRenderer(inner=inner, generate_paths=["."])

    cached.render(_snapshot(repo, "1" * 40))
    (repo / "docs/README.md").write_text("changed outside the app\n")
    cached.render(_snapshot(repo, "2" * 40))
    assert inner.renders == 1

    (repo / "app/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n")
    (rendered,) = cached.render(_snapshot(repo, "3" * 40))
    assert inner.renders == 2
    assert rendered.manifest["data"] == {"k": "w"}


def test_a_generate_path_outside_the_repository_is_refused(repo):
    cached = CachingRenderer(inner=CountingRenderer(), generate_paths=["../../etc"])
    with pytest.raises(PathEscapeError, match="outside the repository"):
        cached.render(_snapshot(repo, "1" * 40))


def test_renders_survive_on_disk_and_the_memory_bound_evicts_the_oldest(repo, tmp_path):
    folder = tmp_path / "cache"
    inner = CountingRenderer()
    CachingRenderer(inner=inner, cache=RenderCache(directory=folder)).render(_snapshot(repo, "1" * 40))

    fresh = CachingRenderer(inner=inner, cache=RenderCache(max_entries=1, directory=folder))
    (resource,) = fresh.render(_snapshot(repo, "1" * 40))
    assert inner.renders == 1  # read back from disk
    assert str(resource.source) == "app/cm.yaml:1"

    memory_only = CachingRenderer(inner=inner, cache=RenderCache(max_entries=1))
    memory_only.render(_snapshot(repo, "1" * 40))
    memory_only.render(_snapshot(repo, "2" * 40))
    memory_only.render(_snapshot(repo, "1" * 40))
    assert inner.renders == 4  # "1" was evicted by "2"
    with pytest.raises(ConfigurationError):
        RenderCache(max_entries=0)


def test_a_reconciler_with_a_caching_renderer_renders_each_revision_once(repo):
    inner = CountingRenderer()
    source = rc.DirectorySource(repo / "app")
    shared = RenderCache()
    apps = [
        rc.Reconciler(
            name=f"app{i}",
            source=source,
            renderer=CachingRenderer(inner=inner, cache=shared),
            cluster=rc.MemoryCluster(),
        )
        for i in range(3)
    ]
    for app in apps:
        assert app.reconcile().error is None
    assert inner.renders == 1
