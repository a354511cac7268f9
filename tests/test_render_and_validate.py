"""Render an Application without a cluster, and validate the objects against a Kubernetes release's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd.hooks import is_hook
from reconcile.cli import main

PDB = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}, "spec": {}}
HPA = {
    "apiVersion": "autoscaling/v2beta2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web"},
    "spec": {"maxReplicas": 3, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["color"],
                                "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "x"}]}},
            **spec,
        },
    }


def test_api_versions_a_release_no_longer_serves_are_named_with_what_it_serves():
    [pdb] = rc.validate([PDB], kube_version="1.25")
    assert (
        pdb.message
        == 'no matches for kind "PodDisruptionBudget" in version "policy/v1beta1": the server serves policy/v1'
    )
    assert rc.validate([HPA], kube_version="1.25") == ()  # autoscaling/v2beta2 is served until 1.26
    [hpa] = rc.validate([HPA], kube_version="1.26")
    assert "the server serves autoscaling/v2, autoscaling/v1" in hpa.message
    with pytest.raises(rc.ConfigurationError, match=r"Kubernetes 1.24 is not supported"):
        rc.validate([PDB], kube_version="1.24")


def test_unknown_fields_wrong_types_and_missing_required_fields_name_the_field():
    bad = _deployment(replicas="two")
    bad["spec"]["template"]["spec"]["containers"] = [{"image": "x", "bogus": 1}]
    problems = {(p.path, p.message) for p in rc.validate([bad])}
    assert problems == {
        (".spec.replicas", "expected numeric (int or float), got string"),
        (".spec.template.spec.containers[0].bogus", "field not declared in schema"),
        (".spec.template.spec.containers[0].name", "Required value"),
    }
    assert rc.validate([_deployment(replicas=2)]) == ()


def test_custom_resources_validate_against_a_crd_in_the_render_or_given():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "big"}}
    [missing] = rc.validate([widget])
    assert "install the CustomResourceDefinition for example.com/Widget" in missing.message
    with_crd = {(p.path, p.message) for p in rc.validate([CRD, widget])}
    assert with_crd == {
        (".spec.size", "expected numeric (int or float), got string"),
        (".spec.color", "Required value"),
    }
    assert {p.path for p in rc.validate([widget], crds=[CRD])} == {".spec.size", ".spec.color"}
    [version] = rc.validate([{**widget, "apiVersion": "example.com/v2"}], crds=[CRD])
    assert version.message.endswith("the server serves example.com/v1")


def _app_folder(tmp_path: Path) -> tuple[Path, Path]:
    local = tmp_path / "local"
    local.mkdir()
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "x"}]}}},
    }
    (local / "web.yaml").write_text(json.dumps(_deployment(replicas="two")) + "\n---\n" + json.dumps(hook))
    (local / "pdb.yaml").write_text(json.dumps(PDB))
    app = tmp_path / "app.yaml"
    app.write_text(
        json.dumps(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "shop", "namespace": "argocd"},
                "spec": {
                    "source": {"repoURL": "https://git.example.com/shop.git", "path": "."},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                },
            }
        )
    )
    return app, local


def test_an_application_renders_without_a_cluster_as_a_sync_would_apply(tmp_path):
    app_file, local = _app_folder(tmp_path)
    resources = rc.Application.parse(app_file).render(local=local, kube_version="1.30")
    keys = {str(r.key) for r in resources}
    assert keys == {
        "apps/Deployment/shop/web",
        "batch/Job/shop/migrate",
        "policy/PodDisruptionBudget/shop/web",
    }
    assert [is_hook(r.manifest) for r in resources if r.key.kind == "Job"] == [True]
    assert all(rc.argocd.tracking.owner(r.manifest) == "shop" for r in resources)


def test_app_manifests_prints_the_objects_and_validate_exits_1_naming_the_file(tmp_path, capsys):
    app_file, local = _app_folder(tmp_path)
    code = main(["app", "manifests", "-f", str(app_file), "--local", str(local)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert "# Hook: PreSync" in out
    assert "# Source: web.yaml:1" in out
    code = main(
        ["app", "manifests", "-f", str(app_file), "--local", str(local), "--validate", "--kube-version", "1.30"]
    )
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert any(line.startswith("invalid: web.yaml:1: ") and ".spec.replicas" in line for line in lines), lines
    assert any(line.startswith("invalid: pdb.yaml:1: ") and "policy/v1beta1" in line for line in lines), lines
    code = main(["app", "manifests", "-f", str(app_file), "--local", str(local), "-o", "json"])
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "List"
    assert len(document["items"]) == 3
