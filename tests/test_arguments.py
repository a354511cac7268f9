"""Wrong types and empty values at the public API's boundary: a ConfigurationError naming the argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.cluster._kubernetes import KubernetesCluster


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(rc.ConfigurationError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    return tmp_path


@pytest.fixture
def unreachable(tmp_path: Path) -> KubernetesCluster:
    # Nothing listens there: the checks must refuse before anything is sent.
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return KubernetesCluster.from_kubeconfig(config, max_retries=0)


def test_a_reconciler_checks_its_parts_when_it_is_built(folder):
    parts = {
        "name": "app",
        "source": rc.DirectorySource(folder),
        "renderer": rc.DirectoryRenderer(),
        "cluster": rc.MemoryCluster(),
    }
    assert _error(rc.Reconciler, **{**parts, "source": "a string"}) == (
        "Reconciler(source): expected a Source (an object with fetch()), got str"
    )
    assert _error(rc.Reconciler, **{**parts, "cluster": None}).startswith("Reconciler(cluster): expected a Cluster")
    assert _error(rc.Reconciler, **{**parts, "renderer": {}}).startswith("Reconciler(renderer): expected a Renderer")
    assert _error(rc.Reconciler, **{**parts, "namespace": ""}) == (
        "Reconciler(namespace): expected a namespace's name, got an empty string"
    )
    assert _error(rc.Reconciler, **{**parts, "name": 5}) == "Reconciler(name): expected a non-empty string, got int"


def test_sources_and_keys_check_their_arguments():
    assert _error(rc.DirectorySource, None) == (
        "DirectorySource(path): expected a folder's path (str or os.PathLike), got None"
    )
    assert _error(rc.DirectorySource, "") == (
        "DirectorySource(path): expected a folder's path (str or os.PathLike), got an empty string"
    )
    assert _error(rc.GitSource, None) == "GitSource(url): expected a repository URL, got None"
    assert _error(rc.GitSource, 5) == "GitSource(url): expected a repository URL, got int"
    assert _error(rc.GitSource, "https://h/r.git", None) == (
        "GitSource(https://h/r.git).revision: expected a revision, got None"
    )
    assert _error(rc.HelmRepositorySource, 5, "web") == "HelmRepositorySource(url): expected a repository URL, got int"
    assert _error(rc.ResourceKey, "", None, "ns", "a") == "ResourceKey.kind: expected a string, got None"
    assert _error(rc.ResourceKey, "", "ConfigMap", "ns", 7) == "ResourceKey.name: expected a string, got int"


@pytest.mark.parametrize("cluster_name", ["memory", "kubernetes"])
def test_both_clusters_refuse_wrong_arguments_before_sending_anything(cluster_name, unreachable):
    cluster = rc.MemoryCluster() if cluster_name == "memory" else unreachable
    unnamed = rc.ResourceKey("", "ConfigMap", "default", "")
    assert _error(cluster.apply, None) == "apply(obj): expected a manifest (a mapping), got None"
    assert _error(cluster.create, "kind: ConfigMap") == "create(obj): expected a manifest (a mapping), got str"
    # On a real server an empty name would have listed the whole kind (GET .../configmaps/).
    assert _error(cluster.get, unnamed) == "get(key).name: expected the object's name, got an empty string"
    assert _error(cluster.delete, unnamed) == "delete(key).name: expected the object's name, got an empty string"
    assert _error(cluster.get, ("", "ConfigMap", "default", "a")) == "get(key): expected a ResourceKey, got tuple"
    key = rc.ResourceKey("", "ConfigMap", "default", "a")
    assert _error(cluster.patch, key, None) == "patch(patch): expected a merge patch (a mapping), got None"
    assert _error(cluster.list, "ConfigMap") == "list(group_kind): expected a GroupKind, got str"
    if cluster_name == "kubernetes":
        assert unreachable.stats.retries == 0
        unreachable.close()


def test_a_kubeconfig_that_is_not_yaml_names_the_file_and_line(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text('apiVersion: v1\nkind: Config\nclusters:\n  - name: a\n    cluster: {server: "x"\n  users: [\n')
    assert _error(KubernetesCluster.from_kubeconfig, config) == (
        f"{config}:6: the kubeconfig is not valid YAML: expected ',' or '}}', but got '<scalar>'"
    )
