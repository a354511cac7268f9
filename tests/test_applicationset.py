"""ApplicationSets as generators of Applications: Argo CD's documented examples, in a real Git repository."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd.applicationset import RESOURCES_FINALIZER, ApplicationSet
from reconcile.cli import main
from reconcile.testing import LocalRepository

FILES = "applicationset/examples/git-generator-files-discovery"


def _appset(generators: list[dict[str, Any]], template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "guestbook", "namespace": "argocd"},
        "spec": {"generators": generators, "template": template, **spec},
    }


def _template(name: str, path: str, namespace: str, server: str = "https://kubernetes.default.svc") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/argoproj/argo-cd.git", "targetRevision": "HEAD", "path": path},
            "destination": {"server": server, "namespace": namespace},
        },
    }


@pytest.fixture
def addons(tmp_path) -> LocalRepository:
    """The cluster-addons layout of Argo CD's Git generator examples."""
    git = LocalRepository.init(tmp_path / "addons.git")
    git.commit(
        {
            "applicationset/examples/git-generator-directory/cluster-addons/argo-workflows/kustomization.yaml": "",
            "applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/Chart.yaml": "",
            "applicationset/examples/git-generator-directory/cluster-addons/exclude-me/README.md": "",
            f"{FILES}/cluster-config/engineering/dev/config.json": json.dumps(
                {
                    "aws_account": "123456",
                    "asset_id": "11223344",
                    "cluster": {
                        "owner": "cluster-admin@company.com",
                        "name": "engineering-dev",
                        "address": "https://1.2.3.4",
                    },
                }
            ),
            f"{FILES}/cluster-config/engineering/prod/config.json": json.dumps(
                {
                    "aws_account": "123456",
                    "asset_id": "11223344",
                    "cluster": {
                        "owner": "cluster-admin@company.com",
                        "name": "engineering-prod",
                        "address": "https://2.4.6.8",
                    },
                }
            ),
        },
        "the examples' layout",
    )
    return git


def test_the_list_generator_makes_one_application_per_element_with_argo_cds_finalizer():
    appset = ApplicationSet.from_manifest(
        _appset(
            [
                {
                    "list": {
                        "elements": [
                            {"cluster": "engineering-dev", "url": "https://1.2.3.4"},
                            {"cluster": "engineering-prod", "url": "https://2.4.6.8"},
                        ]
                    }
                }
            ],
            _template(
                "{{cluster}}-guestbook",
                "applicationset/examples/list-generator/guestbook/{{cluster}}",
                "guestbook",
                "{{url}}",
            ),
        )
    )
    apps = appset.generate()
    assert [(a.name, a.destination_server, a.sources[0].path) for a in apps] == [
        (
            "engineering-dev-guestbook",
            "https://1.2.3.4",
            "applicationset/examples/list-generator/guestbook/engineering-dev",
        ),
        (
            "engineering-prod-guestbook",
            "https://2.4.6.8",
            "applicationset/examples/list-generator/guestbook/engineering-prod",
        ),
    ]
    assert all(RESOURCES_FINALIZER in a.manifest["metadata"]["finalizers"] for a in apps)
    kept = ApplicationSet.from_manifest(
        _appset(
            [{"list": {"elements": [{"cluster": "a", "url": "https://a"}]}}],
            _template("{{cluster}}", "p", "ns", "{{url}}"),
            syncPolicy={"preserveResourcesOnDeletion": True},
        )
    )
    assert "finalizers" not in kept.generate()[0].manifest["metadata"]


def test_the_git_directory_generator_with_an_exclusion(addons, tmp_path):
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    appset = ApplicationSet.from_manifest(
        _appset(
            [
                {
                    "git": {
                        "repoURL": addons.url,
                        "revision": "HEAD",
                        "directories": [{"path": f"{base}/*"}, {"path": f"{base}/exclude-me", "exclude": True}],
                    }
                }
            ],
            _template("{{path.basename}}", "{{path}}", "{{path.basename}}"),
        )
    )
    apps = appset.generate(cache_dir=tmp_path / "cache")
    assert [(a.name, a.sources[0].path, a.destination_namespace) for a in apps] == [
        ("argo-workflows", f"{base}/argo-workflows", "argo-workflows"),
        ("prometheus-operator", f"{base}/prometheus-operator", "prometheus-operator"),
    ]
    params = appset.parameters(cache_dir=tmp_path / "cache")
    assert params[0]["path"]["segments"][0] == "applicationset"
    assert params[0]["path"]["basenameNormalized"] == "argo-workflows"


def test_the_git_files_generator_flattens_each_config(addons, tmp_path):
    appset = ApplicationSet.from_manifest(
        _appset(
            [
                {
                    "git": {
                        "repoURL": addons.url,
                        "revision": "HEAD",
                        "files": [{"path": f"{FILES}/cluster-config/**/config.json"}],
                    }
                }
            ],
            _template(
                "{{cluster.name}}-guestbook",
                "applicationset/examples/git-generator-files-discovery/apps/guestbook",
                "guestbook",
                "{{cluster.address}}",
            ),
        )
    )
    apps = appset.generate(cache_dir=tmp_path / "cache")
    assert [(a.name, a.destination_server) for a in apps] == [
        ("engineering-dev-guestbook", "https://1.2.3.4"),
        ("engineering-prod-guestbook", "https://2.4.6.8"),
    ]
    params = appset.parameters(cache_dir=tmp_path / "cache")
    assert params[0]["path"]["basename"] == "dev"
    assert params[0]["path"]["filename"] == "config.json"
    assert params[0]["cluster"]["name"] == "engineering-dev"


def test_matrix_and_merge_generators(addons, tmp_path):
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    directories = {
        "git": {
            "repoURL": addons.url,
            "revision": "HEAD",
            "directories": [{"path": f"{base}/*"}, {"path": f"{base}/exclude-me", "exclude": True}],
        }
    }
    clusters = {
        "list": {
            "elements": [{"cluster": "staging", "url": "https://staging"}, {"cluster": "prod", "url": "https://prod"}]
        }
    }
    matrix = ApplicationSet.from_manifest(
        _appset(
            [{"matrix": {"generators": [directories, clusters]}}],
            _template("{{path.basename}}-{{cluster}}", "{{path}}", "{{path.basename}}", "{{url}}"),
        )
    )
    assert [a.name for a in matrix.generate(cache_dir=tmp_path / "cache")] == [
        "argo-workflows-staging",
        "argo-workflows-prod",
        "prometheus-operator-staging",
        "prometheus-operator-prod",
    ]
    merge = ApplicationSet.from_manifest(
        _appset(
            [
                {
                    "merge": {
                        "mergeKeys": ["cluster"],
                        "generators": [
                            {
                                "list": {
                                    "elements": [
                                        {"cluster": "staging", "url": "https://staging", "replicas": "1"},
                                        {"cluster": "prod", "url": "https://prod", "replicas": "1"},
                                    ]
                                }
                            },
                            {"list": {"elements": [{"cluster": "prod", "replicas": "3"}]}},
                        ],
                    }
                }
            ],
            _template("web-{{cluster}}-{{replicas}}", "web", "web", "{{url}}"),
        )
    )
    assert [a.name for a in merge.generate()] == ["web-staging-1", "web-prod-3"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"templatePatch": "spec: {}"}, r"spec.templatePatch needs goTemplate: true"),
        ({"generators": [{"clusters": {}}]}, r"the clusters generator needs a cluster"),
        ({"generators": [{"matrix": {"generators": [{"list": {"elements": []}}]}}]}, r"a matrix needs two generators"),
    ],
)
def test_what_reconcile_cannot_render_as_argo_cd_does_is_refused_by_name(spec, expected):
    manifest = _appset([{"list": {"elements": []}}], _template("x", "p", "ns"))
    manifest["spec"].update(spec)
    with pytest.raises(rc.ConfigurationError, match=expected):
        ApplicationSet.from_manifest(manifest)


def test_two_elements_that_generate_one_name_are_refused_and_the_cli_generates(tmp_path, capsys):
    clash = ApplicationSet.from_manifest(
        _appset([{"list": {"elements": [{"a": "1"}, {"a": "2"}]}}], _template("same", "p", "ns"))
    )
    with pytest.raises(rc.ConfigurationError, match=r"two parameter sets generate Application 'same'"):
        clash.generate()
    file = tmp_path / "appset.yaml"
    file.write_text(
        json.dumps(
            _appset(
                [{"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}}],
                _template("web-{{env}}", "envs/{{env}}", "web-{{env}}"),
            )
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["appset", "generate", "-f", str(file), "-o", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    items = json.loads(captured.out)["items"]
    assert [(i["metadata"]["name"], i["spec"]["source"]["path"]) for i in items] == [
        ("web-dev", "envs/dev"),
        ("web-prod", "envs/prod"),
    ]
    assert Path(file).is_file()


def test_go_templates_with_sprig_and_argo_cds_functions_and_a_template_patch(addons, tmp_path):
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    template = _template("{{ .path.basename | normalize }}", "{{ .path.path }}", "{{ index .path.segments 3 }}")
    patch = """
{{- if eq .path.basename "prometheus-operator" }}
spec:
  syncPolicy:
    automated:
      prune: true
{{- end }}
"""
    appset = ApplicationSet.from_manifest(
        _appset(
            [
                {
                    "git": {
                        "repoURL": addons.url,
                        "revision": "HEAD",
                        "directories": [{"path": f"{base}/*"}, {"path": f"{base}/exclude-me", "exclude": True}],
                    }
                }
            ],
            template,
            goTemplate=True,
            goTemplateOptions=["missingkey=error"],
            templatePatch=patch,
        )
    )
    apps = {app.name: app for app in appset.generate(cache_dir=tmp_path / "cache")}
    assert set(apps) == {"argo-workflows", "prometheus-operator"}
    assert apps["argo-workflows"].destination_namespace == "cluster-addons"
    assert apps["argo-workflows"].sync_policy.prune is False
    assert apps["prometheus-operator"].sync_policy.automated is True
    assert apps["prometheus-operator"].sync_policy.prune is True
    missing = _appset(
        [{"list": {"elements": [{"env": "dev"}]}}],
        _template("{{ .cluster }}", "p", "ns"),
        goTemplate=True,
        goTemplateOptions=["missingkey=error"],
    )
    with pytest.raises(rc.ConfigurationError, match=r'map has no entry for key "cluster"'):
        ApplicationSet.from_manifest(missing).generate()
    unknown = _appset(
        [{"list": {"elements": [{"env": "dev"}]}}], _template('{{ env "HOME" }}', "p", "ns"), goTemplate=True
    )
    with pytest.raises(rc.ConfigurationError, match=r'function "env" not defined'):
        ApplicationSet.from_manifest(unknown).generate()
