"""MultiSource: several sources, each with its renderer, as one application."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc
from reconcile.errors import ConfigurationError, DuplicateResourceError, RenderError
from reconcile.sources._multi import MultiSource

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n"


def _folder(root: Path, *names: str) -> Path:
    root.mkdir(parents=True)
    for name in names:
        (root / f"{name}.yaml").write_text(CM.format(name=name))
    return root


def test_parts_render_each_with_its_renderer_and_join(tmp_path):
    first = rc.DirectorySource(_folder(tmp_path / "a", "one", "two"))
    second = rc.DirectorySource(_folder(tmp_path / "b", "three"))
    both = MultiSource(
        parts=[(first, rc.DirectoryRenderer()), (second, rc.DirectoryRenderer())], cache_dir=tmp_path / "c"
    )

    snapshot = both.fetch()
    resources = both.render(snapshot)

    assert [r.key.name for r in resources] == ["one", "three", "two"]
    assert both.fetch() == snapshot  # unchanged parts: the same revision and folder
    (tmp_path / "b/four.yaml").write_text(CM.format(name="four"))
    changed = both.fetch()
    assert changed.revision.sha != snapshot.revision.sha
    assert [r.key.name for r in both.render(changed)] == ["four", "one", "three", "two"]


def test_two_parts_naming_one_object_is_a_duplicate(tmp_path):
    first = rc.DirectorySource(_folder(tmp_path / "a", "same"))
    second = rc.DirectorySource(_folder(tmp_path / "b", "same"))
    both = MultiSource(
        parts=[(first, rc.DirectoryRenderer()), (second, rc.DirectoryRenderer())], cache_dir=tmp_path / "c"
    )
    with pytest.raises(DuplicateResourceError):
        both.render(both.fetch())


def test_a_reconciler_syncs_a_multi_source_app(tmp_path):
    first = rc.DirectorySource(_folder(tmp_path / "a", "one"))
    second = rc.DirectorySource(_folder(tmp_path / "b", "two"))
    both = MultiSource(
        parts=[(first, rc.DirectoryRenderer()), (second, rc.DirectoryRenderer())], cache_dir=tmp_path / "c"
    )
    cluster = rc.MemoryCluster()
    app = rc.Reconciler(name="app", source=both, renderer=both, cluster=cluster, policy=rc.SyncPolicy(automated=True))

    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED
    names = {o["metadata"]["name"] for o in cluster.list(rc.GroupKind("", "ConfigMap"))}
    assert names == {"one", "two", "kube-root-ca.crt"}  # the last is every namespace's CA, as on a real cluster
    # A cluster-aware renderer in a part is set up for the cluster, the others stay as they are.
    bound = both.for_cluster(cluster.capabilities())
    assert [renderer for _, renderer in bound.parts] == [renderer for _, renderer in both.parts]


def test_bad_parts_and_foreign_snapshots_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="at least one"):
        MultiSource(parts=[])
    with pytest.raises(ConfigurationError, match="a Source and a Renderer"):
        MultiSource(parts=[(rc.DirectoryRenderer(), rc.DirectoryRenderer())])  # type: ignore[list-item]
    both = MultiSource(parts=[(rc.DirectorySource(_folder(tmp_path / "a", "one")), rc.DirectoryRenderer())])
    with pytest.raises(RenderError, match="is not a MultiSource snapshot"):
        both.render(rc.model.Snapshot(revision=rc.model.Revision(sha="a" * 40), root=tmp_path))
