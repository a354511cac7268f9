"""Previewing a change: every Application of a real Git repository rendered at two revisions and compared."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.cli import main
from reconcile.testing import LocalRepository

pytestmark = pytest.mark.integration  # real Git repositories, the real helm and kustomize

CHART = {
    "shop/chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
    "shop/chart/values.yaml": "replicas: 1\n",
    "shop/chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n"
    ),
}
KUSTOMIZE = {
    "web/base/kustomization.yaml": "resources:\n- deployment.yaml\n",
    "web/base/deployment.yaml": json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "w", "image": "nginx:1.25"}]},
                },
            },
        }
    ),
    "web/prod/kustomization.yaml": "resources:\n- ../base\nnamePrefix: prod-\n",
}
PLAIN = {
    "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
    "plain/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: old-pass-1\n"
    ),
}


def _app(name: str, url: str, path: str, **extra: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "source": {"repoURL": url, "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }
    manifest["spec"].update(extra.pop("spec", {}))
    manifest["metadata"].update(extra)
    return manifest


@pytest.fixture
def repository(tmp_path, helm_binary, kubectl_binary, monkeypatch) -> tuple[LocalRepository, str, str, Path]:
    """Three apps; ``main`` and a change that touches two of them (and breaks none)."""
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}:{Path(kubectl_binary).parent}:/usr/bin:/bin")
    git = LocalRepository.init(tmp_path / "apps.git")
    apps = [
        _app("shop", git.url, "shop/chart", annotations={"argocd.argoproj.io/manifest-generate-paths": "."}),
        _app("web", git.url, "web/prod"),
        _app(
            "plain",
            git.url,
            "plain",
            spec={"ignoreDifferences": [{"kind": "ConfigMap", "jsonPointers": ["/data/mode"]}]},
        ),
    ]
    files = {**CHART, **KUSTOMIZE, **PLAIN, **{f"apps/{a['metadata']['name']}.yaml": json.dumps(a) for a in apps}}
    base = git.commit(files, "base")
    head = git.commit(
        {
            "web/base/deployment.yaml": KUSTOMIZE["web/base/deployment.yaml"].replace('"replicas": 1', '"replicas": 3'),
            "plain/secret.yaml": PLAIN["plain/secret.yaml"].replace("old-pass-1", "new-pass-22"),
            "plain/cm.yaml": PLAIN["plain/cm.yaml"].replace("fast", "slow"),  # ignored by the app
            "plain/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
        },
        "the change",
    )
    folder = tmp_path / "checkout-apps"
    folder.mkdir()
    for app in apps:
        (folder / f"{app['metadata']['name']}.yaml").write_text(json.dumps(app))
    return git, base, head, folder


def test_a_change_is_previewed_per_app_with_secrets_masked_and_ignored_fields_left_out(repository, tmp_path):
    _, base, head, folder = repository
    result = rc.preview(folder, base=base, head=head, cache_dir=tmp_path / "cache")
    apps = {app.name: app for app in result.apps}
    assert apps["shop"].status == "unchanged"
    web = apps["web"]
    assert [(c.key.name, c.change) for c in web.changes] == [("prod-web", "changed")]
    assert "-  replicas: 1\n+  replicas: 3\n" in web.changes[0].diff
    plain = {(c.key.name, c.change): c for c in apps["plain"].changes}
    assert set(plain) == {("extra", "added"), ("creds", "changed")}  # settings' only change is ignored
    secret_diff = plain[("creds", "changed")].diff
    assert "old-pass-1" not in secret_diff
    assert "new-pass-22" not in secret_diff
    assert f"--- {base}/" in secret_diff
    assert result.exit_code == 1
    # shop's generate paths are untouched: its head render came from the cache, so 5 renders ran, not 6.
    assert result.renders == 5
    markdown = result.markdown()
    assert "| web | changed | 0 | 0 | 1 |" in markdown
    assert "<details><summary>plain (changed)</summary>" in markdown
    assert "new-pass-22" not in markdown + result.html() + json.dumps(result.to_json())


def test_an_app_that_fails_to_render_at_head_is_an_error_not_an_exception(repository, tmp_path):
    git, base, _, folder = repository
    broken = git.commit({"web/prod/kustomization.yaml": "resources:\n- ../missing\n"}, "broken")
    result = rc.preview(folder, base=base, head=broken, cache_dir=tmp_path / "cache")
    web = next(app for app in result.apps if app.name == "web")
    assert web.status == "error"
    assert web.error is not None
    assert web.error.startswith(f"at {broken}: ")
    assert result.exit_code == 2
    unchanged = rc.preview(folder, base=base, head=base, cache_dir=tmp_path / "cache")
    assert unchanged.exit_code == 0
    assert unchanged.unified() == ""


def test_the_cli_diff_writes_markdown_for_a_pull_request_from_a_ci_checkout(repository, tmp_path, capsys):
    git, base, head, folder = repository
    checkout = tmp_path / "checkout"  # as CI has it: origin's branches as origin/*, the change checked out detached
    subprocess.run(["git", "clone", "-q", git.url, str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "checkout", "-q", "--detach", head], check=True)
    subprocess.run(["git", "-C", str(checkout), "branch", "-q", "-f", "main", base], check=True)
    code = main(
        ["diff", "-f", str(folder), "--base", "main", "--head", "HEAD", "--repo", str(checkout), "-o", "markdown",
         "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert captured.out.startswith("### reconcile preview: `main` → `HEAD`")
    assert "| shop | unchanged | 0 | 0 | 0 |" in captured.out
    code = main(["diff", "-f", str(folder), "--base", base, "--head", base, "--cache-dir", str(tmp_path / "cache")])
    assert code == 0


def test_an_app_of_apps_is_followed_to_its_children_in_expand_and_in_preview(tmp_path):
    git = LocalRepository.init(tmp_path / "apps.git")

    def child(name: str, path: str) -> str:
        return json.dumps(_app(name, git.url, path))

    root = _app("root", git.url, "children")
    base = git.commit(
        {
            "children/frontend.yaml": child("frontend", "frontend"),
            "children/root.yaml": json.dumps(root),  # names itself: followed once
            "frontend/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui\ndata:\n  theme: light\n",
            "backend/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\n",
        },
        "base",
    )
    head = git.commit(
        {
            "children/backend.yaml": child("backend", "backend"),
            "frontend/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui\ndata:\n  theme: dark\n",
        },
        "a new child app, a changed one",
    )
    parent = rc.Application.parse(root)
    expanded = rc.Application.expand([parent], cache_dir=tmp_path / "cache", revision=head)
    assert [app.name for app in expanded] == ["root", "backend", "frontend"]
    result = rc.preview([parent], base=base, head=head, cache_dir=tmp_path / "cache")
    statuses = {app.name: app.status for app in result.apps}
    assert statuses == {"root": "changed", "backend": "changed", "frontend": "changed"}
    # backend is an app only head has: every object of it is new, though its folder was there at base
    backend = next(app for app in result.apps if app.name == "backend")
    assert [(c.key.name, c.change) for c in backend.changes] == [("api", "added")]
    root_changes = {(c.key.name, c.change) for c in next(a for a in result.apps if a.name == "root").changes}
    assert root_changes == {("backend", "added")}
    with pytest.raises(rc.ConfigurationError, match=r"nest deeper than 0 levels"):
        rc.Application.expand([parent], depth=0, cache_dir=tmp_path / "cache", revision=head)


def test_with_a_cluster_head_is_compared_with_what_runs(tmp_path, kube_cluster, kube_namespace):
    git = LocalRepository.init(tmp_path / "apps.git")
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {mode}\n"
    base = git.commit({"app/cm.yaml": config.format(mode="fast")}, "base")
    head = git.commit({"app/cm.yaml": config.format(mode="slow")}, "head")
    manifest = _app("settings", git.url, "app")
    manifest["spec"]["destination"]["namespace"] = kube_namespace
    app = rc.Application.parse(manifest)
    deployed = app.reconciler({"in-cluster": kube_cluster}, cache_dir=tmp_path / "cache", revision=base).sync()
    assert deployed.succeeded, deployed
    result = rc.preview([app], base=base, head=head, cache_dir=tmp_path / "cache", cluster=kube_cluster)
    [found] = result.apps
    assert [(c.key.name, c.change) for c in found.changes] == [("settings", "changed")]
    assert [(c.key.name, c.change) for c in found.live] == [("settings", "changed")]
    assert "-  mode: fast\n+  mode: slow\n" in found.live[0].diff
    assert kube_cluster.get(rc.ResourceKey("", "ConfigMap", kube_namespace, "settings"))["data"] == {"mode": "fast"}
    assert "head against the cluster" in result.unified()


def test_app_list_expand_lists_an_app_of_apps_children(tmp_path, capsys):
    git = LocalRepository.init(tmp_path / "apps.git")
    git.commit(
        {
            "children/web.yaml": json.dumps(_app("web", git.url, "web")),
            "web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui\n",
        },
        "an app of apps",
    )
    root = tmp_path / "root.yaml"
    root.write_text(json.dumps(_app("root", git.url, "children")))
    code = main(["app", "list", "-f", str(root), "--expand", "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [line.split()[0] for line in captured.out.strip().splitlines()[1:]] == ["root", "web"]
