"""Previewing a pull request in a repository of many apps: what runs, and how long it takes.

A real Git repository holds ``apps`` Applications (default 50), a third each plain YAML, Kustomize and Helm, every
one annotated with ``manifest-generate-paths: .`` (as Argo CD monorepos are). A change touches 3 of them. Printed:
the time of ``rc.preview`` cold (empty caches: clones, renders), warm (the render cache of the cold run kept, as a
CI runner's would be), the renders that ran (tool runs for Helm and Kustomize apps), and how many apps changed.
Run: ``python benchmarks/bench_preview.py [apps]`` with helm and kubectl on PATH (``scripts/test-assets.sh``).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import structlog

import reconcile as rc
from reconcile.renderers import RenderCache
from reconcile.testing import LocalRepository

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "nginx"}]}},
    },
}


def files_of(index: int, kind: str, replicas: int) -> dict[str, str]:
    folder = f"apps/app-{index:02d}"
    deployment = json.dumps({**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replicas": replicas}})
    if kind == "plain":
        return {f"{folder}/deployment.yaml": deployment}
    if kind == "kustomize":
        return {
            f"{folder}/kustomization.yaml": "resources:\n- deployment.yaml\nnamePrefix: k-\n",
            f"{folder}/deployment.yaml": deployment,
        }
    return {
        f"{folder}/Chart.yaml": f"apiVersion: v2\nname: app-{index:02d}\nversion: 1.0.0\n",
        f"{folder}/values.yaml": f"replicas: {replicas}\n",
        f"{folder}/templates/deployment.yaml": deployment.replace(
            f'"replicas": {replicas}', '"replicas": {{ .Values.replicas }}'
        ),
    }


def main(count: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    kinds = ("plain", "kustomize", "helm")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        git = LocalRepository.init(root / "repo.git")
        files: dict[str, str] = {}
        definitions = root / "definitions"
        definitions.mkdir()
        for index in range(count):
            files.update(files_of(index, kinds[index % 3], 1))
            app = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": f"app-{index:02d}",
                    "namespace": "argocd",
                    "annotations": {"argocd.argoproj.io/manifest-generate-paths": "."},
                },
                "spec": {
                    "source": {"repoURL": git.url, "path": f"apps/app-{index:02d}", "targetRevision": "main"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": f"app-{index:02d}"},
                },
            }
            (definitions / f"app-{index:02d}.yaml").write_text(json.dumps(app))
        base = git.commit(files, "base")
        touched = {}
        for index in (0, 1, 2):  # one app of each kind
            touched.update(files_of(index, kinds[index % 3], 3))
        head = git.commit(touched, "the pull request")

        cache = RenderCache(max_entries=4 * count)
        started = time.perf_counter()
        cold = rc.preview(definitions, base=base, head=head, cache_dir=root / "cache", cache=cache)
        cold_seconds = time.perf_counter() - started
        renders_cold = cache.misses
        shutil.rmtree(root / "cache")  # clones again; renders come from the kept render cache
        started = time.perf_counter()
        warm = rc.preview(definitions, base=base, head=head, cache_dir=root / "cache", cache=cache)
        warm_seconds = time.perf_counter() - started
        changed = sum(1 for app in cold.apps if app.status == "changed")
        print(f"{count} apps (plain, Kustomize, Helm), a change touching 3; apps changed: {changed}")
        print(f"{'cold (clones, every render)':<40} {cold_seconds:7.2f} s   renders run: {renders_cold}")
        print(f"{'warm (render cache kept)':<40} {warm_seconds:7.2f} s   renders run: {cache.misses - renders_cold}")
        assert warm.exit_code == cold.exit_code == 1


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
