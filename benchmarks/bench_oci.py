"""An OCI chart rendered again and again: reconcile's digest cache against ``helm pull`` + ``helm template``.

A real registry (Debian's docker-registry, with its access log on) holds the chart of ``bench_render.py``
(``components`` services, default 20, so 120 objects), pushed by the real ``helm push``. Printed, each the median
of five runs, with the requests the registry served per run (counted from its own access log):

- helm: ``helm pull oci://... --version`` then ``helm template``, what a user would otherwise script;
- reconcile, cold: ``OCISource`` with an empty cache, then the Helm renderer (a render-cache miss);
- reconcile, by tag: the chart cached, the render cached; the tag is still resolved (one manifest request);
- reconcile, by digest: pinned by ``sha256:``; nothing is asked of the registry.

Run: ``python benchmarks/bench_oci.py [components]`` with helm and docker-registry on PATH
(``scripts/test-assets.sh``; ``export PATH=$KUBEBUILDER_ASSETS:$PATH``).
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from bench_render import write_chart

import reconcile as rc
from reconcile.renderers import CachingRenderer, RenderCache
from reconcile.testing import OCIRegistry, find_binary

VERSION = "1.4.2"


def measure(registry: OCIRegistry, run: Callable[[], object], times: int = 5) -> tuple[float, float]:
    """Median seconds of ``run``, and the registry's requests per run."""
    samples = []
    before = len(registry.served())
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    time.sleep(0.2)  # the registry writes its access log after answering
    return statistics.median(samples), (len(registry.served()) - before) / times


def main(components: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    helm = str(find_binary("helm"))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        chart = write_chart(root / "src", components)
        env = {**os.environ, "HELM_CACHE_HOME": str(root / "helm-cache"), "HELM_CONFIG_HOME": str(root / "helm-cfg")}
        subprocess.run([helm, "package", str(chart), "-d", str(root)], check=True, capture_output=True, env=env)
        with OCIRegistry(root / "registry", access_log=True) as registry:
            archive = root / f"grade-api-{VERSION}.tgz"
            push = [helm, "push", str(archive), f"oci://{registry.host}/charts", "--plain-http"]
            subprocess.run(push, check=True, capture_output=True, env=env)
            url = f"oci://{registry.host}/charts/grade-api"
            digest = registry.manifest_digest("charts/grade-api", VERSION)
            values = ("environments/prod/values.yaml",)
            renderer = rc.HelmRenderer(value_files=values, namespace="grades", helm=helm)

            def helm_pull_and_template() -> None:
                pulled = root / "pulled"
                shutil.rmtree(pulled, ignore_errors=True)
                pull = [helm, "pull", url, "--version", VERSION, "--plain-http", "--untar", "-d", str(pulled)]
                subprocess.run(pull, check=True, capture_output=True, env=env)
                template = [helm, "template", "r", str(pulled / "grade-api"), "-f",
                            str(pulled / "grade-api" / values[0]), "-n", "grades"]  # fmt: skip
                subprocess.run(template, check=True, capture_output=True, env=env)

            def cold() -> None:
                cache = root / "cold-cache"
                shutil.rmtree(cache, ignore_errors=True)
                snapshot = rc.OCISource(url, VERSION, plain_http=True, cache_dir=cache).fetch()
                CachingRenderer(inner=renderer, cache=RenderCache()).render(snapshot)

            warm_cache = root / "warm-cache"
            render_cache = RenderCache()
            by_tag = rc.OCISource(url, VERSION, plain_http=True, cache_dir=warm_cache)
            by_digest = rc.OCISource(url, digest, plain_http=True, cache_dir=warm_cache)
            caching = CachingRenderer(inner=renderer, cache=render_cache)
            count = len(caching.render(by_tag.fetch()))

            rows = [
                ("helm pull + helm template", measure(registry, helm_pull_and_template)),
                ("reconcile, cold (download, render)", measure(registry, cold)),
                ("reconcile, cached, by tag", measure(registry, lambda: caching.render(by_tag.fetch()))),
                ("reconcile, cached, by digest", measure(registry, lambda: caching.render(by_digest.fetch()))),
            ]
        baseline = rows[0][1][0]
        print(f"OCI chart rendering {count} objects, median of 5 runs each; requests counted by the registry")
        for label, (seconds, requests) in rows:
            speed = f"{baseline / seconds:8.1f}x" if label.startswith("reconcile") else " " * 9
            print(f"{label:<38} {seconds * 1000:9.1f} ms {speed}   {requests:4.1f} requests")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
