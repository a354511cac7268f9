"""ignoreDifferences: rules, their matching, and the fields they leave out of a comparison."""

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.diff import ArgoDiffer, IgnoreRule, compare
from reconcile.diff._changes import pointer
from reconcile.diff._ignore import apply_rules
from reconcile.errors import ConfigurationError, DiffError
from reconcile.manifests import load_manifests
from reconcile.model import Resource, ResourceKey

WEB = ResourceKey("apps", "Deployment", "default", "web")


def _deployment(replicas: int = 2, images: dict[str, str] | None = None) -> dict[str, Any]:
    images = images or {"web": "web:1", "sidecar": "proxy:1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app.kubernetes.io/name": "web", "tier": "a"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": name, "image": image} for name, image in images.items()]},
            },
        },
    }


def _paths(diff: Any) -> list[str]:
    return [change.path for change in diff.changes]


# Matching -------------------------------------------------------------------------------------------


def test_default_rule_matches_everything():
    rule = IgnoreRule()
    assert rule.matches(WEB)
    assert rule.matches(ResourceKey("", "Namespace", "", "team-a"))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (IgnoreRule(group="apps", kind="Deployment"), True),
        (IgnoreRule(group="apps", kind="StatefulSet"), False),
        (IgnoreRule(kind="Deploy*"), True),
        (IgnoreRule(name="w?b"), True),
        (IgnoreRule(name="api-*"), False),
        (IgnoreRule(namespace="def*"), True),
        (IgnoreRule(namespace="kube-system"), False),
        (IgnoreRule(group="", kind="Deployment"), False),
        (IgnoreRule(kind="deployment"), False),  # case-sensitive, as kinds are
        (IgnoreRule(group="[a]pps"), True),
    ],
)
def test_wildcard_matching(rule: IgnoreRule, expected: bool):
    assert rule.matches(WEB) is expected


def test_core_group_and_cluster_scope_match_empty_strings():
    namespace = ResourceKey("", "Namespace", "", "team-a")
    assert IgnoreRule(group="", kind="Namespace", namespace="").matches(namespace)
    assert not IgnoreRule(namespace="?*").matches(namespace)


# Parsing ---------------------------------------------------------------------------------------------


def test_from_argo_reads_every_key():
    rule = IgnoreRule.from_argo(
        {
            "group": "apps",
            "kind": "Deployment",
            "name": "web",
            "namespace": "default",
            "jsonPointers": ["/spec/replicas"],
            "jqPathExpressions": [".spec.template.spec.containers[].image"],
            "managedFieldsManagers": ["kube-controller-manager"],
        }
    )
    assert rule == IgnoreRule(
        group="apps",
        kind="Deployment",
        name="web",
        namespace="default",
        json_pointers=("/spec/replicas",),
        jq_path_expressions=(".spec.template.spec.containers[].image",),
        managed_fields_managers=("kube-controller-manager",),
    )


def test_from_argo_reads_an_omitted_group_as_the_core_group_and_the_rest_as_wildcards():
    # As Argo CD does: a rule without a group never matches apps/Deployment.
    rule = IgnoreRule.from_argo({"kind": "Deployment", "jsonPointers": ["/spec/replicas"]})
    assert (rule.group, rule.name, rule.namespace) == ("", "*", "*")
    assert not rule.matches(ResourceKey("apps", "Deployment", "default", "web"))
    assert IgnoreRule.from_argo({"kind": "ConfigMap"}).matches(ResourceKey("", "ConfigMap", "default", "c"))
    assert rule.jq_path_expressions == ()
    assert rule.managed_fields_managers == ()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"kinds": "Deployment"}, "unknown key 'kinds'"),
        ({"kind": 3}, "kind must be a string, not 3"),
        ({"jsonPointers": "/spec/replicas"}, "jsonPointers must be a list of strings"),
        ({"jsonPointers": [1]}, "jsonPointers must be a list of strings, not \\[1\\]"),
        ({"managedFieldsManagers": [None]}, "managedFieldsManagers must be a list of strings"),
        ({"jsonPointers": ["spec/replicas"]}, "invalid JSON pointer 'spec/replicas'"),
        ({"jsonPointers": ["/a~2b"]}, "invalid JSON pointer '/a~2b'"),
        ({"jqPathExpressions": [".spec | ]"]}, "invalid jq path expression '.spec \\| \\]'"),
    ],
)
def test_from_argo_names_the_bad_key_or_value(mapping: dict[str, Any], message: str):
    with pytest.raises(ConfigurationError, match=message):
        IgnoreRule.from_argo(mapping)


def test_from_argo_refuses_a_non_mapping():
    with pytest.raises(ConfigurationError, match="must be a mapping, not list"):
        IgnoreRule.from_argo(["/spec/replicas"])  # type: ignore[arg-type]


def test_typed_rules_validate_too():
    with pytest.raises(ConfigurationError, match="invalid JSON pointer 'replicas'"):
        IgnoreRule(json_pointers=("replicas",))


# JSON pointers -----------------------------------------------------------------------------------------


def test_a_json_pointer_ignores_exactly_that_field():
    live = _deployment(replicas=5, images={"web": "web:1", "sidecar": "proxy:1"})
    desired = _deployment(replicas=2, images={"web": "web:2", "sidecar": "proxy:1"})
    assert _paths(compare(desired, live)) == ["/spec/replicas", "/spec/template/spec/containers/0/image"]
    rule = {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
    diff = compare(desired, live, ignore_differences=[rule])
    assert _paths(diff) == ["/spec/template/spec/containers/0/image"]
    assert diff.changes[0].new == "web:2"
    # The objects kept in the diff are whole: ignoring leaves what is shown untouched.
    assert diff.live is not None
    assert diff.live["spec"]["replicas"] == 5


def test_only_matching_rules_apply():
    live, desired = _deployment(replicas=5), _deployment(replicas=2)
    rules = [IgnoreRule(kind="StatefulSet", json_pointers=("/spec/replicas",)), IgnoreRule(name="api")]
    assert _paths(compare(desired, live, ignore_differences=rules)) == ["/spec/replicas"]


def test_a_pointer_with_escapes_ignores_a_label_with_a_slash():
    live = _deployment()
    live["metadata"]["labels"]["app.kubernetes.io/name"] = "old"
    live["metadata"]["labels"]["tier"] = "b"
    desired = _deployment()
    assert _paths(compare(desired, live)) == ["/metadata/labels/app.kubernetes.io~1name", "/metadata/labels/tier"]
    rule = IgnoreRule(json_pointers=("/metadata/labels/app.kubernetes.io~1name",))
    assert _paths(compare(desired, live, ignore_differences=[rule])) == ["/metadata/labels/tier"]


def test_a_pointer_that_does_not_resolve_ignores_nothing():
    live, desired = _deployment(replicas=5), _deployment(replicas=2)
    rule = IgnoreRule(json_pointers=("/spec/paused", "/spec/template/spec/containers/7/image", "/spec/replicas/x"))
    assert _paths(compare(desired, live, ignore_differences=[rule])) == ["/spec/replicas"]


def test_a_pointer_to_a_list_item_ignores_that_item_on_both_sides():
    live = _deployment(images={"web": "web:1", "sidecar": "proxy:1"})
    desired = _deployment(images={"web": "web:1", "sidecar": "proxy:2"})
    rule = IgnoreRule(json_pointers=("/spec/template/spec/containers/1",))
    assert compare(desired, live, ignore_differences=[rule]).modified is False


def test_ignoring_a_field_only_one_side_has_hides_it():
    live = _deployment()
    live["spec"]["paused"] = True
    predicted = copy.deepcopy(live)
    del predicted["spec"]["paused"]
    assert _paths(compare(_deployment(), live, predicted_live=predicted)) == ["/spec/paused"]
    rule = IgnoreRule(json_pointers=("/spec/paused",))
    assert compare(_deployment(), live, predicted_live=predicted, ignore_differences=[rule]).modified is False


def test_rules_never_modify_the_callers_objects():
    live, desired = _deployment(replicas=5), _deployment(replicas=2)
    before = copy.deepcopy((live, desired))
    compare(desired, live, ignore_differences=[IgnoreRule(json_pointers=("/spec/replicas",))])
    assert (live, desired) == before


# jq ----------------------------------------------------------------------------------------------------


def test_jq_ignores_only_the_selected_containers_image():
    live = _deployment(images={"web": "web:1", "sidecar": "proxy:1"})
    desired = _deployment(images={"web": "web:2", "sidecar": "proxy:2"})
    expression = '.spec.template.spec.containers[] | select(.name == "web") | .image'
    diff = compare(
        desired, live, ignore_differences=[{"group": "apps", "kind": "Deployment", "jqPathExpressions": [expression]}]
    )
    assert [(c.path, c.old, c.new) for c in diff.changes] == [
        ("/spec/template/spec/containers/1/image", "proxy:1", "proxy:2")
    ]


def test_jq_paths_are_found_on_each_side():
    # The container sits at another index on each side: each side's own path is removed.
    live = {"spec": {"containers": [{"name": "web", "image": "a"}, {"name": "db", "image": "x"}]}}
    predicted = {"spec": {"containers": [{"name": "db", "image": "x"}, {"name": "web", "image": "b"}]}}
    rule = IgnoreRule(jq_path_expressions=('.spec.containers[] | select(.name == "web") | .image',))
    left, right = apply_rules([rule], WEB, live, predicted)
    assert left == {"spec": {"containers": [{"name": "web"}, {"name": "db", "image": "x"}]}}
    assert right == {"spec": {"containers": [{"name": "db", "image": "x"}, {"name": "web"}]}}
    assert live["spec"]["containers"][0]["image"] == "a"  # not modified


def test_jq_path_to_a_missing_field_ignores_nothing():
    live, desired = _deployment(replicas=5), _deployment(replicas=2)
    rule = IgnoreRule(jq_path_expressions=(".spec.strategy.rollingUpdate",))
    assert _paths(compare(desired, live, ignore_differences=[rule])) == ["/spec/replicas"]


def test_a_failing_jq_expression_is_a_diff_error_naming_it():
    rule = IgnoreRule(jq_path_expressions=('.spec | error("boom")',))
    with pytest.raises(
        DiffError, match=re.escape("""jq path expression '.spec | error("boom")' failed: boom""")
    ) as info:
        compare(_deployment(replicas=2), _deployment(replicas=5), ignore_differences=[rule])
    assert info.value.key == WEB


@pytest.mark.parametrize("expression", ["def f: f; f", "last(range(1e18))"])
def test_a_hostile_jq_expression_runs_out_of_time(expression: str):
    rule = IgnoreRule(jq_path_expressions=(expression,))
    started = time.monotonic()
    with pytest.raises(DiffError, match=re.escape("ran longer than 0.3s")) as info:
        apply_rules([rule], WEB, _deployment(), _deployment(), timeout=0.3)
    assert expression in str(info.value)
    assert time.monotonic() - started < 10


# managedFieldsManagers -----------------------------------------------------------------------------------


def _managed(live: dict[str, Any], manager: str, fields: dict[str, Any], operation: str = "Update") -> None:
    entry = {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}
    live["metadata"].setdefault("managedFields", []).append({**entry, "fieldsV1": fields})


@pytest.mark.parametrize("manager", ["kube-controller-manager", "horizontal-pod-autoscaler"])
def test_managed_fields_managers_ignore_what_they_own(manager: str):
    live = _deployment(replicas=7, images={"web": "web:1", "sidecar": "proxy:1"})
    _managed(live, manager, {"f:spec": {"f:replicas": {}}})
    desired = _deployment(replicas=2, images={"web": "web:2", "sidecar": "proxy:1"})
    both = ["/spec/replicas", "/spec/template/spec/containers/0/image"]
    assert _paths(compare(desired, live)) == both
    rule = {"group": "apps", "kind": "Deployment", "managedFieldsManagers": [manager]}
    assert _paths(compare(desired, live, ignore_differences=[rule])) == both[1:]
    other = {"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["someone-else"]}
    assert _paths(compare(desired, live, ignore_differences=[other])) == both


def test_managed_fields_keyed_items_are_matched_by_their_keys():
    live = _deployment(images={"sidecar": "proxy:1", "web": "web:1"})
    _managed(
        live,
        "injector",
        {
            "f:metadata": {"f:labels": {".": {}, "f:tier": {}}},
            "f:spec": {
                "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}},
            },
        },
    )
    live["metadata"]["labels"]["tier"] = "z"
    desired = _deployment(images={"sidecar": "proxy:2", "web": "web:2"})
    assert len(compare(desired, live).changes) == 3
    diff = compare(desired, live, ignore_differences=[IgnoreRule(managed_fields_managers=("injector",))])
    # The web container is item 1 live: only its image is ignored; the labels map itself is not.
    assert [(c.path, c.new) for c in diff.changes] == [("/spec/template/spec/containers/0/image", "proxy:2")]


def test_a_manager_that_applied_string_data_owns_those_keys_of_data():
    # A Secret applied with stringData records ownership under f:stringData; the values live in data.
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "data": {"user": "cm9vdA==", "token": "b2xk"},
    }
    entry = {"manager": "vault-injector", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1"}
    live["metadata"]["managedFields"] = [{**entry, "fieldsV1": {"f:stringData": {"f:user": {}}}}]
    desired = {
        **live,
        "metadata": {"name": "creds", "namespace": "default"},
        "data": {"user": "YWRtaW4=", "token": "bmV3"},
    }
    rule = IgnoreRule(kind="Secret", managed_fields_managers=("vault-injector",))
    assert _paths(compare(desired, live)) == ["/data/token", "/data/user"]
    assert _paths(compare(desired, live, ignore_differences=[rule])) == ["/data/token"]


# Aggregated ClusterRoles -----------------------------------------------------------------------------------


def _conformance_pair(corpus: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    config = json.loads((corpus / "fixtures" / "aggr-clusterrole-config.json").read_text())
    live = json.loads((corpus / "fixtures" / "aggr-clusterrole-live.json").read_text())
    # These are live-compare cases: the reference applies with kubectl's last-applied annotation, which names
    # `rules`, so the apply drops them; the predicted object stands in for that answer.
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    predicted = copy.deepcopy(live)
    for field in set(last) - set(config):
        predicted.pop(field, None)
    return config, live, predicted


@pytest.mark.parametrize(
    ("case", "ignore", "modified"),
    [("aggregated-clusterrole-ignored", True, False), ("aggregated-clusterrole-compared", False, True)],
)
def test_aggregated_cluster_role_rules(case: str, ignore: bool, modified: bool, conformance_diff: Path):
    config, live, predicted = _conformance_pair(conformance_diff)
    diff = compare(config, live, predicted_live=predicted, ignore_aggregated_roles=ignore)
    assert diff.modified is modified, case
    assert _paths(diff) == ([] if ignore else ["/rules"])


def _own_pair() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    # The project's own aggregated ClusterRole (tests/diff/fixtures), predicted as _conformance_pair does.
    fixtures = Path(__file__).parent / "fixtures"
    ((config, _),) = load_manifests((fixtures / "aggregated-clusterrole-config.yaml").read_text(), file="config")
    ((live, _),) = load_manifests((fixtures / "aggregated-clusterrole-live.yaml").read_text(), file="live")
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    predicted = copy.deepcopy(live)
    for field in set(last) - set(config):
        predicted.pop(field, None)
    return config, live, predicted


@pytest.mark.parametrize(("ignore", "modified"), [(True, False), (False, True)])
def test_aggregated_cluster_role_rules_the_controller_wrote(ignore: bool, modified: bool):
    config, live, predicted = _own_pair()
    assert "rules" in live
    assert "rules" not in predicted
    diff = compare(config, live, predicted_live=predicted, ignore_aggregated_roles=ignore)
    assert diff.modified is modified
    assert _paths(diff) == ([] if ignore else ["/rules"])
    # The local prediction (from the last-applied annotation) reaches the same verdict.
    local = compare(config, live, ignore_aggregated_roles=ignore)
    assert _paths(local) == _paths(diff)


def test_rules_of_a_plain_cluster_role_are_still_compared():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}
    live = {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    desired = {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}
    assert _paths(compare(desired, live, ignore_aggregated_roles=True)) == ["/rules/0/verbs/0"]


# ArgoDiffer ----------------------------------------------------------------------------------------------------


def test_differ_passes_its_rules_to_every_comparison():
    differ = ArgoDiffer(
        ignore_differences=[{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    )
    assert differ.ignore_differences == (
        IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
    )
    target = Resource(key=WEB, manifest=_deployment(replicas=2))
    result = ArgoDiffer().diff([target], {WEB: _deployment(replicas=5)})
    assert [_paths(diff) for diff in result.resources] == [["/spec/replicas"]]
    result = differ.diff([target], {WEB: _deployment(replicas=5)})
    assert [diff.modified for diff in result.resources] == [False]


def test_differ_refuses_malformed_rules():
    with pytest.raises(ConfigurationError, match="unknown key 'pointers'"):
        ArgoDiffer(ignore_differences=[{"pointers": ["/spec"]}])


# Property: ignoring a path never adds a difference ---------------------------------------------------------

_names = st.sampled_from(["a", "b", "c", "x/y", "m~n"])
_leaves = st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["p", "q"]), st.lists(st.integers(0, 2)))
_trees = st.recursive(_leaves, lambda inner: st.dictionaries(_names, inner, max_size=4), max_leaves=12)
_specs = st.dictionaries(_names, _trees, max_size=4)


def _map_paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for name, child in value.items():
            out += _map_paths(child, (*prefix, name))
    return out


def _thing(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t", "namespace": "n"}, "spec": spec}


@settings(max_examples=150, deadline=None)
@given(live=_specs, predicted=_specs, data=st.data())
def test_ignoring_paths_never_adds_a_difference(live: dict[str, Any], predicted: dict[str, Any], data: Any):
    candidates = sorted({p for p in _map_paths(live) + _map_paths(predicted) if p} | {("zz",), ("a", "zz")})
    chosen = data.draw(st.lists(st.sampled_from(candidates), max_size=4))
    pointers = tuple(pointer(("spec", *path)) for path in chosen)
    live_obj, predicted_obj = _thing(live), _thing(predicted)
    plain = compare(_thing({}), live_obj, predicted_live=predicted_obj)
    ignored = compare(
        _thing({}), live_obj, predicted_live=predicted_obj, ignore_differences=[IgnoreRule(json_pointers=pointers)]
    )
    # Values under a kept path may shrink (an ignored field inside an added map), but no path is new.
    assert {c.path for c in ignored.changes} <= {c.path for c in plain.changes}
    assert ignored.modified <= plain.modified
    for change in ignored.changes:
        assert not any(change.path == p or change.path.startswith(p + "/") for p in pointers)


def test_jq_slices_and_negative_indices_ignore_nothing():
    obj = {"spec": {"items": [1, 2, 3]}}
    rule = IgnoreRule(jq_path_expressions=(".spec.items[1:2]", ".spec.items[-1]"))
    left, right = apply_rules([rule], WEB, obj, {"spec": {"items": [1, 2, 4]}})
    assert (left, right) == ({"spec": {"items": [1, 2, 3]}}, {"spec": {"items": [1, 2, 4]}})
