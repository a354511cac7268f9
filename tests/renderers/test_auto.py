"""AutoRenderer: the folder's files pick the tool, as Argo CD's repo-server picks it."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{from: {origin}}}\n"


@pytest.fixture
def tools(helm_binary: str, kubectl_binary: str) -> dict[str, str]:
    return {"helm": helm_binary, "kubectl": kubectl_binary}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _render(renderer: rc.AutoRenderer, root: Path, path: str) -> tuple[str, list[str]]:
    snapshot = rc.model.Snapshot(revision=rc.model.Revision(sha="a" * 40, ref="main"), root=root, path=path)
    chosen = type(renderer.choose(snapshot)).__name__
    return chosen, [str(r.manifest["data"]["from"]) for r in renderer.render(snapshot)]


def test_each_folder_renders_with_the_tool_its_files_call_for(tmp_path, tools):
    _write(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": CM.format(name="{{ .Release.Name }}", origin="{{ .Values.origin }}"),
            "chart/values.yaml": "origin: helm\n",
            "overlay/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: k-\n",
            "overlay/cm.yaml": CM.format(name="c", origin="kustomize"),
            "plain/cm.yaml": CM.format(name="c", origin="plain"),
            "jsonnet/main.jsonnet": (
                "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'j'}, data: {from: 'jsonnet'}}"
            ),
        },
    )
    renderer = rc.AutoRenderer(helm={"helm": tools["helm"]}, kustomize={"kustomize": tools["kubectl"]})

    assert _render(renderer, tmp_path, "chart") == ("HelmRenderer", ["helm"])
    assert _render(renderer, tmp_path, "overlay") == ("KustomizeRenderer", ["kustomize"])
    assert _render(renderer, tmp_path, "plain") == ("DirectoryRenderer", ["plain"])
    # A folder of *.jsonnet files is a directory source, evaluated as in Argo CD (its pattern is yaml|yml|json|jsonnet).
    assert _render(renderer, tmp_path, "jsonnet") == ("DirectoryRenderer", ["jsonnet"])
    without = rc.AutoRenderer(directory=rc.DirectoryRenderer(jsonnet=None), helm={"helm": tools["helm"]})
    assert _render(without, tmp_path, "jsonnet") == ("DirectoryRenderer", [])


def test_options_reach_the_chosen_renderer_and_change_the_fingerprint(tmp_path, tools):
    _write(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": CM.format(name="{{ .Release.Name }}", origin="{{ .Values.origin }}"),
            "chart/values.yaml": "origin: helm\n",
            "chart/values-prod.yaml": "origin: prod\n",
        },
    )
    plain = rc.AutoRenderer(helm={"helm": tools["helm"]}, kustomize={"kustomize": tools["kubectl"]})
    prod = rc.AutoRenderer(
        helm=rc.HelmRenderer(helm=tools["helm"], value_files=("values-prod.yaml",)),
        kustomize={"kustomize": tools["kubectl"]},
    )
    assert _render(prod, tmp_path, "chart") == ("HelmRenderer", ["prod"])
    assert prod.fingerprint() != plain.fingerprint()
    assert (
        prod.fingerprint()
        == rc.AutoRenderer(
            helm=rc.HelmRenderer(helm=tools["helm"], value_files=("values-prod.yaml",)),
            kustomize={"kustomize": tools["kubectl"]},
        ).fingerprint()
    )
