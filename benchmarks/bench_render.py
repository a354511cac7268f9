"""A render-cache hit against a miss, on a realistic Helm chart rendered by the real helm.

The chart has the templates a typical service chart has (Deployment, Service, Ingress, ConfigMap, HPA,
ServiceAccount, helpers) times ``components`` (default 20, so 120 objects), and per-environment value files.
Prints the time of a first render (a miss: helm runs), of the same revision again (a hit), and of a new commit
that touches no generate path (a hit through manifest-generate-paths), each the median of five.
Run: ``python benchmarks/bench_render.py [components]`` with helm on PATH (``scripts/test-assets.sh``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import reconcile as rc
from reconcile.renderers import CachingRenderer, RenderCache

CHART = """apiVersion: v2
name: grade-api
version: 1.4.2
appVersion: "2.3.0"
"""
HELPERS = """{{- define "app.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end -}}
"""
TEMPLATE = """{{- range $name := .Values.components }}
{{- $ctx := dict "name" $name "root" $ }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels: {{- include "app.labels" $ctx | nindent 4 }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}-config
  labels: {{- include "app.labels" $ctx | nindent 4 }}
data:
  LOG_LEVEL: {{ $.Values.logLevel | quote }}
  FEATURES: {{ join "," $.Values.features | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels: {{- include "app.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ $.Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ $name }}}
  template:
    metadata:
      labels: {{- include "app.labels" $ctx | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      containers:
        - name: app
          image: "{{ $.Values.image.repository }}:{{ $.Values.image.tag }}"
          ports: [{containerPort: 8080, name: http}]
          envFrom: [{configMapRef: {name: {{ $name }}-config}}]
          resources: {{- toYaml $.Values.resources | nindent 12 }}
          readinessProbe: {httpGet: {path: /healthz, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels: {{- include "app.labels" $ctx | nindent 4 }}
spec:
  selector: {app.kubernetes.io/name: {{ $name }}}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  labels: {{- include "app.labels" $ctx | nindent 4 }}
spec:
  rules:
    - host: {{ $name }}.{{ $.Values.domain }}
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: {{ $name }}, port: {name: http}}}}]
---
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels: {{- include "app.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ $name }}}
  minReplicas: {{ $.Values.replicas }}
  maxReplicas: {{ mul $.Values.replicas 4 }}
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]
{{- end }}
"""
VALUES = """replicas: 2
logLevel: info
features: [search, export]
domain: example.com
image: {repository: registry.example.com/grade-api, tag: "2.3.0"}
resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 256Mi}}
components: []
"""


def write_chart(root: Path, components: int) -> Path:
    chart = root / "helm/grade-api"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART)
    (chart / "values.yaml").write_text(VALUES)
    (chart / "templates/_helpers.tpl").write_text(HELPERS)
    (chart / "templates/app.yaml").write_text(TEMPLATE)
    prod = chart / "environments/prod"
    prod.mkdir(parents=True)
    names = ", ".join(f"svc-{i}" for i in range(components))
    (prod / "values.yaml").write_text(f"replicas: 3\nlogLevel: warn\ncomponents: [{names}]\n")
    (root / "README.md").write_text("docs\n")
    return chart


def median_time(run: object, times: int = 5) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(components: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_chart(root, components)
        helm = rc.HelmRenderer(value_files=("environments/prod/values.yaml",), namespace="grades")

        def snapshot(sha: str) -> rc.model.Snapshot:
            return rc.model.Snapshot(revision=rc.model.Revision(sha=sha, ref="main"), root=root, path="helm/grade-api")

        count = len(helm.render(snapshot("0" * 40)))
        miss = median_time(lambda: CachingRenderer(inner=helm).render(snapshot("1" * 40)))
        warm = CachingRenderer(inner=helm, cache=RenderCache(), generate_paths=["."])
        warm.render(snapshot("2" * 40))
        hit = median_time(lambda: warm.render(snapshot("2" * 40)))
        commits = iter(f"{n:040d}" for n in range(3, 100))
        other_commit = median_time(lambda: warm.render(snapshot(next(commits))))
        print(f"chart rendering {count} objects, median of 5 runs each")
        print(f"{'miss: helm template + parse':<44} {miss * 1000:9.1f} ms")
        hits = (("hit: same revision", hit), ("hit: new commit, generate paths unchanged", other_commit))
        for label, seconds in hits:
            print(f"{label:<44} {seconds * 1000:9.1f} ms   {miss / seconds:8.0f}x faster")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
