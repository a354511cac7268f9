"""Zero false OutOfSync on common workloads, and every real change reported at its path, on both clusters."""

from __future__ import annotations

from pathlib import Path

import reconcile as rc

CORPUS = (Path(__file__).parent / "corpus" / "workloads.yaml").read_text()


def paths(diff: rc.diff.DiffResult, key: rc.ResourceKey) -> list[str]:
    return [f"{c.symbol} {c.path}" for c in diff[key].changes]


def test_common_workloads_are_synced_after_a_sync_and_each_change_is_found(env):
    env.write("workloads.yaml", CORPUS)
    app = env.app(automated=True)
    first = app.reconcile()
    assert first.error is None
    assert first.sync.succeeded, str(first.sync)

    # Nothing changed: server defaults, quantities spelled differently, HPA and controllers are not drift.
    quiet = app.diff()
    assert not quiet.modified, quiet.unified()

    deployment = env.key("apps", "Deployment", "web")
    service = env.key("", "Service", "web")
    cronjob = env.key("batch", "CronJob", "tick")
    # One field changed, one added and one removed in Git; one changed live.
    edited = (
        CORPUS.replace("value: fast", "value: safe")
        .replace("  selector: {app: web}\n", "  selector: {app: web}\n  sessionAffinity: ClientIP\n")
        .replace(
            "          containers: [{name: tick, image: busybox, args: [date]}]",
            "          containers: [{name: tick, image: busybox}]",
        )
    )
    env.write("workloads.yaml", edited)
    env.cluster.patch(
        env.key("networking.k8s.io", "Ingress", "web"),
        {"metadata": {"annotations": {"x": "y"}}},
        field_manager="kubectl-patch",
    )
    hpa = env.key("autoscaling", "HorizontalPodAutoscaler", "web")
    env.cluster.patch(hpa, {"spec": {"maxReplicas": 9}}, field_manager="kubectl-patch")

    diff = app.diff()

    assert paths(diff, deployment) == ["~ /spec/template/spec/containers/0/env/0/value"]
    # The server would also fill in the affinity's timeout; no apply owns that default, so, as with a webhook's
    # field, the diff keeps its live state (absent), as the reference engine does.
    assert paths(diff, service) == ["~ /spec/sessionAffinity"]
    assert paths(diff, cronjob) == ["- /spec/jobTemplate/spec/template/spec/containers/0/args"]
    assert paths(diff, hpa) == ["~ /spec/maxReplicas"]
    assert not diff[env.key("networking.k8s.io", "Ingress", "web")].modified  # someone else's annotation
    assert {str(d.key) for d in diff.modified_resources} == {
        str(deployment),
        str(service),
        str(cronjob),
        str(hpa),
    }


def _gadget_crd(group: str) -> str:
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {{type: integer}}
                speed: {{type: integer}}
                label: {{type: string}}
                color: {{type: string}}
                mode: {{type: string, default: standard}}
                timeout: {{type: string}}
                resources:
                  type: object
                  properties:
                    limits: {{type: object, additionalProperties: {{type: string}}}}
"""


GADGET = """apiVersion: {group}/v1
kind: Gadget
metadata:
  name: gear
spec:
  size: 3
  speed: 5
  label: shiny
  timeout: 90m
  resources: {{limits: {{cpu: 1000m}}}}
"""


def test_a_custom_resource_is_synced_after_a_sync_and_each_change_is_found(env):
    group = f"{env.namespace}.example.com"
    env.write("crd.yaml", _gadget_crd(group))
    env.write("gadget.yaml", GADGET.format(group=group))
    env.cleanups.append(
        lambda: env.cluster.delete(
            rc.ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", f"gadgets.{group}")
        )
    )
    settings = rc.diff.DiffSettings(
        known_types=[
            rc.diff.KnownTypeField(group=group, kind="Gadget", field="spec.timeout", type="meta/v1/Duration"),
            rc.diff.KnownTypeField(
                group=group, kind="Gadget", field="spec.resources", type="core/v1/ResourceRequirements"
            ),
        ]
    )
    app = env.app(automated=True, diff_settings=settings)
    first = app.reconcile()
    assert first.error is None
    assert first.sync.succeeded, str(first.sync)
    gadget = env.key(group, "Gadget", "gear")

    # The schema's default (mode: standard, filled in by a real API server) is not drift.
    assert not app.diff().modified, app.diff().unified()
    # Its controller writes the duration and the quantity back in Go's spelling: not drift either.
    env.cluster.patch(
        gadget,
        {"spec": {"timeout": "1h30m0s", "resources": {"limits": {"cpu": "1"}}}},
        field_manager="gadget-controller",
    )
    assert not app.diff().modified, app.diff().unified()

    # One field changed, one added and one removed in Git; one changed live.
    env.write(
        "gadget.yaml",
        GADGET.format(group=group).replace("size: 3", "size: 4").replace("label: shiny\n", "color: red\n"),
    )
    env.cluster.patch(gadget, {"spec": {"speed": 7}}, field_manager="kubectl-edit")

    diff = app.diff()

    assert paths(diff, gadget) == ["+ /spec/color", "- /spec/label", "~ /spec/size", "~ /spec/speed"]
    assert [str(d.key) for d in diff.modified_resources] == [str(gadget)]
