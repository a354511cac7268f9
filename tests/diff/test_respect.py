"""RespectIgnoreDifferences: ignored fields keep their live values in what a sync applies."""

from __future__ import annotations

import copy

from reconcile.diff._ignore import IgnoreRule, keep_live_values
from reconcile.model import ResourceKey

KEY = ResourceKey("apps", "Deployment", "default", "web")
RULE = IgnoreRule(kind="Deployment", json_pointers=("/spec/replicas", "/metadata/labels/owner"))


def deployment(**spec: object) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def test_live_values_replace_ignored_fields_and_the_target_is_not_changed():
    target = deployment(replicas=2, paused=False)
    original = copy.deepcopy(target)
    live = deployment(replicas=7, paused=True)
    live["metadata"]["labels"] = {"owner": "team-a"}

    kept = keep_live_values([RULE], KEY, target, live)

    assert kept["spec"] == {"replicas": 7, "paused": False}
    assert kept["metadata"]["labels"] == {"owner": "team-a"}
    assert target == original


def test_an_ignored_field_that_is_not_live_is_left_out():
    kept = keep_live_values([RULE], KEY, deployment(replicas=2, paused=False), deployment(paused=True))

    assert kept["spec"] == {"paused": False}


def test_rules_for_other_objects_change_nothing():
    target = deployment(replicas=2)

    kept = keep_live_values(
        [IgnoreRule(kind="StatefulSet", json_pointers=("/spec/replicas",))], KEY, target, deployment(replicas=9)
    )

    assert kept == target
