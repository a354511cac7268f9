"""DiffSettings: what every application's comparison shares."""

import json

import pytest

from reconcile.apiserver import LAST_APPLIED
from reconcile.diff import ArgoDiffer, DiffSettings, IgnoreRule, compare
from reconcile.errors import ConfigurationError
from reconcile.model import Resource, ResourceKey

TOKEN = "s3cr3t-t0ken"


def _ingress(token: str, host: str = "web.example.com") -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {"auth.example.com/token": token, "team": "web"},
        },
        "spec": {"rules": [{"host": host}]},
    }


def test_system_wide_rules_come_before_the_application_rules():
    settings = DiffSettings(ignore_differences=[IgnoreRule(json_pointers=["/spec/rules"])])
    desired, live = _ingress("a", host="new.example.com"), _ingress("a")
    live["metadata"]["annotations"]["team"] = "ops"

    assert settings.with_rules(
        [{"group": "networking.k8s.io", "kind": "Ingress", "jsonPointers": ["/metadata/annotations/team"]}]
    ) == (
        IgnoreRule(json_pointers=("/spec/rules",)),
        IgnoreRule(group="networking.k8s.io", kind="Ingress", json_pointers=("/metadata/annotations/team",)),
    )
    assert [c.path for c in compare(desired, live, predicted_live=desired).changes] == [
        "/metadata/annotations/team",
        "/spec/rules/0/host",
    ]
    assert [c.path for c in compare(desired, live, predicted_live=desired, settings=settings).changes] == [
        "/metadata/annotations/team"
    ]
    differ = ArgoDiffer(
        ignore_differences=[
            {"group": "networking.k8s.io", "kind": "Ingress", "jsonPointers": ["/metadata/annotations/team"]}
        ],
        settings=settings,
    )
    result = differ.diff([Resource.from_manifest(desired)], {ResourceKey.from_manifest(live): live})
    assert not result.modified_resources


def test_sensitive_annotations_are_masked_on_every_kind_and_in_the_last_applied_copy():
    settings = DiffSettings(sensitive_annotations=["auth.example.com/token"])
    live = _ingress("old-" + TOKEN)
    live["metadata"]["annotations"][LAST_APPLIED] = json.dumps(_ingress("old-" + TOKEN))
    desired = _ingress(TOKEN)
    answer = _ingress(TOKEN)  # the server keeps kubectl's annotation, which our apply does not name
    answer["metadata"]["annotations"][LAST_APPLIED] = live["metadata"]["annotations"][LAST_APPLIED]

    diff = compare(desired, live, predicted_live=answer, settings=settings)

    shown = "\n".join([str(diff), diff.unified(), repr(diff), json.dumps([diff.desired, diff.live, diff.predicted])])
    assert TOKEN not in shown
    assert [(c.path, c.old, c.new) for c in diff.changes] == [
        ("/metadata/annotations/auth.example.com~1token", "+" * 12, "+" * 8)
    ]
    assert diff.live is not None
    last_applied = json.loads(diff.live["metadata"]["annotations"][LAST_APPLIED])
    assert last_applied["metadata"]["annotations"] == {"auth.example.com/token": "+" * 12, "team": "web"}
    assert live["metadata"]["annotations"]["auth.example.com/token"] == "old-" + TOKEN  # the caller's copy


def test_an_unreadable_last_applied_copy_holding_a_sensitive_annotation_is_masked_whole():
    settings = DiffSettings(sensitive_annotations=["auth.example.com/token"])
    live = _ingress(TOKEN)
    live["metadata"]["annotations"][LAST_APPLIED] = '{"auth.example.com/token": "' + TOKEN
    diff = compare(_ingress(TOKEN), live, settings=settings)
    assert diff.live is not None
    assert diff.live["metadata"]["annotations"][LAST_APPLIED] == "+" * 8
    assert TOKEN not in json.dumps(diff.live)


def test_aggregated_roles_can_be_ignored_system_wide():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "view-all"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate": "true"}}]},
    }
    live = {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    assert compare(role, live, predicted_live=role).modified
    assert not compare(role, live, predicted_live=role, settings=DiffSettings(ignore_aggregated_roles=True)).modified


def test_status_is_compared_only_where_asked():
    desired = {
        "apiVersion": "example.com/v1",
        "kind": "Gauge",
        "metadata": {"name": "g", "namespace": "default"},
        "spec": {"size": 1},
        "status": {"level": "green"},
    }
    live = {**desired, "status": {"level": "red"}}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gauges.example.com"},
        "spec": {"group": "example.com"},
        "status": {"acceptedNames": {"kind": "Gauge"}},
    }
    crd_live = {**crd, "status": {"acceptedNames": {"kind": "Gauge", "plural": "gauges"}}}

    def changed(want: dict, have: dict, setting: str) -> list[str]:
        settings = DiffSettings(ignore_resource_status_field=setting)  # type: ignore[arg-type]
        return [c.path for c in compare(want, have, predicted_live=want, settings=settings).changes]

    assert changed(desired, live, "all") == []
    assert changed(desired, live, "crd") == ["/status/level"]
    assert changed(crd, crd_live, "crd") == []
    assert changed(crd, crd_live, "none") == ["/status/acceptedNames/plural"]


ARGOCD_CM = {
    "resource.customizations.ignoreDifferences.all": "managedFieldsManagers:\n- kube-controller-manager\n",
    "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
    "resource.customizations.ignoreDifferences.Service": "jqPathExpressions:\n- .spec.clusterIP\n",
    "resource.customizations.knownTypeFields.argoproj.io_Rollout": (
        "- field: spec.template.spec\n  type: core/v1/PodSpec\n"
    ),
    "resource.compareoptions": "ignoreAggregatedRoles: true\nignoreResourceStatusField: crd\n",
    "resource.sensitive.mask.annotations": "auth.example.com/token, vault.example.com/secret",
    "url": "https://argocd.example.com",
}


def test_settings_read_from_argocd_cm():
    settings = DiffSettings.from_argocd_cm(ARGOCD_CM)

    assert settings.ignore_differences == (
        IgnoreRule(group="", kind="Service", jq_path_expressions=(".spec.clusterIP",)),
        IgnoreRule(managed_fields_managers=("kube-controller-manager",)),
        IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
    )
    assert [(k.group, k.kind, k.field, k.type) for k in settings.known_types] == [
        ("argoproj.io", "Rollout", "spec.template.spec", "core/v1/PodSpec")
    ]
    assert settings.ignore_aggregated_roles
    assert settings.ignore_resource_status_field == "crd"
    assert settings.sensitive_annotations == ("auth.example.com/token", "vault.example.com/secret")
    assert DiffSettings.from_argocd_cm({}) == DiffSettings()


def test_a_malformed_argocd_cm_value_names_its_key():
    bad = {"resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointer:\n- /spec/replicas\n"}
    with pytest.raises(ConfigurationError, match=r"ignoreDifferences\.apps_Deployment: unknown keys \['jsonPointer'\]"):
        DiffSettings.from_argocd_cm(bad)
    bad = {"resource.customizations.knownTypeFields.argoproj.io_Rollout": "field: spec\n"}
    with pytest.raises(ConfigurationError, match=r"knownTypeFields\.argoproj\.io_Rollout: expected a list"):
        DiffSettings.from_argocd_cm(bad)
    bad = {"resource.compareoptions": "ignoreResourceStatusField: sometimes\n"}
    with pytest.raises(ConfigurationError, match="argocd-cm: ignore_resource_status_field must be"):
        DiffSettings.from_argocd_cm(bad)
    with pytest.raises(ConfigurationError, match=r"resource\.compareoptions:2: invalid YAML"):
        DiffSettings.from_argocd_cm({"resource.compareoptions": "a: [\n"})
