"""CRD validation rules and ValidatingAdmissionPolicies evaluated with CEL, worded as a 1.36 server words them."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.apiserver._cel import CelError, CelPrograms
from reconcile.apiserver._crdrules import rule_compile_errors, rule_violations
from reconcile.apiserver._policies import AdmissionRequest, PolicyEnforcer, matches

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                {"rule": "self.max <= 100"},
            ],
            "properties": {
                "min": {"type": "integer"},
                "max": {"type": "integer"},
                "name": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {"rule": "self.startsWith('q-')", "messageExpression": "'name ' + self + ' must start with q-'"}
                    ],
                },
                "mode": {
                    "type": "string",
                    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "mode is immutable"}],
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "port": {
                                "type": "integer",
                                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "port is fixed"}],
                            },
                        },
                    },
                },
            },
        }
    },
}


def quota(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Quota", "metadata": {"name": "q"}, "spec": spec}


@pytest.fixture
def programs() -> CelPrograms:
    return CelPrograms(["self", "oldSelf"])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"min": 1, "max": 5}, []),
        ({"min": 6, "max": 5}, ["spec: Invalid value: min must not exceed max"]),
        ({"min": 1, "max": 500}, ["spec: Invalid value: failed rule: self.max <= 100"]),
        ({"min": 1, "max": 5, "name": "x"}, ['spec.name: Invalid value: "x": name x must start with q-']),
        (
            {"min": 9, "max": 500, "name": "x"},
            [
                "spec: Invalid value: failed rule: self.max <= 100",
                'spec.name: Invalid value: "x": name x must start with q-',
            ],
        ),
    ],
)
def test_rules_broken_are_worded_as_the_server_words_them(programs, spec, expected):
    assert [str(v) for v in rule_violations(quota(**spec), None, SCHEMA, programs)] == expected


def test_transition_rules_run_on_updates_only(programs):
    assert rule_violations(quota(min=1, max=2, mode="b"), None, SCHEMA, programs) == []
    old = quota(min=1, max=2, mode="a")
    (violation,) = rule_violations(quota(min=1, max=2, mode="b"), old, SCHEMA, programs)
    assert str(violation) == 'spec.mode: Invalid value: "b": mode is immutable'
    assert rule_violations(quota(min=1, max=2, mode="a"), old, SCHEMA, programs) == []


def test_keyed_list_items_meet_their_old_selves_by_key(programs):
    old = quota(min=1, max=2, ports=[{"name": "a", "port": 1}, {"name": "b", "port": 2}])
    reordered = quota(
        min=1, max=2, ports=[{"name": "b", "port": 2}, {"name": "a", "port": 1}, {"name": "c", "port": 3}]
    )
    assert rule_violations(reordered, old, SCHEMA, programs) == []
    changed = quota(min=1, max=2, ports=[{"name": "b", "port": 9}])
    assert [str(v) for v in rule_violations(changed, old, SCHEMA, programs)] == [
        "spec.ports[0].port: Invalid value: 9: port is fixed"
    ]


def test_a_rule_that_fails_to_evaluate_is_a_violation(programs):
    (violation,) = rule_violations(quota(max=5), None, SCHEMA, programs)
    assert violation.field == "spec"
    assert "evaluating rule: self.min <= self.max" in violation.message


def test_rules_that_do_not_compile_are_found(programs):
    broken = {"type": "object", "x-kubernetes-validations": [{"rule": "self.x =="}, {"rule": "self.y > 1"}]}
    ((field, rule, problem),) = rule_compile_errors(broken, programs)
    assert (field, rule) == ("spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule", "self.x ==")
    assert problem.startswith("compilation failed")


def test_cel_errors_are_typed():
    programs = CelPrograms(["self"])
    with pytest.raises(CelError, match="compilation failed"):
        programs.evaluate("self.(", {"self": 1})
    with pytest.raises(CelError, match="nope"):
        programs.evaluate("self.nope > 1", {"self": {}})
    assert programs.evaluate("self.items.map(i, i * 2)", {"self": {"items": [1, 2]}}) == [2, 4]


POLICY: dict[str, Any] = {
    "metadata": {"name": "max-replicas"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["deployments"],
                    "scope": "*",
                }
            ],
        },
        "validations": [
            {"expression": "object.spec.replicas <= 5", "message": "at most 5 replicas"},
            {"expression": "object.metadata.name.size() < 20"},
        ],
    },
}
BINDING: dict[str, Any] = {
    "metadata": {"name": "max-replicas"},
    "spec": {"policyName": "max-replicas", "validationActions": ["Deny"]},
}


def request(name: str = "web", replicas: int = 1, operation: str = "CREATE", **extra: Any) -> AdmissionRequest:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"}}
    obj["spec"] = {"replicas": replicas}
    fields: dict[str, Any] = {
        "operation": operation,
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "resource": "deployments",
        "namespaced": True,
        "name": name,
        "namespace": "default",
        "obj": obj,
        "old": None,
        **extra,
    }
    return AdmissionRequest(**fields)


def test_a_bound_policy_denies_with_the_servers_words():
    enforcer = PolicyEnforcer()
    assert enforcer.denial([POLICY], [BINDING], request()) is None
    assert enforcer.denial([POLICY], [BINDING], request(replicas=9)) == (
        "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' denied request: at most 5 replicas"
    )
    assert enforcer.denial([POLICY], [BINDING], request(name="a-very-long-deployment-name")) == (
        "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' denied request: "
        "failed expression: object.metadata.name.size() < 20"
    )


def test_only_deny_bindings_of_matching_requests_refuse():
    enforcer = PolicyEnforcer()
    warn = {**BINDING, "spec": {**BINDING["spec"], "validationActions": ["Warn", "Audit"]}}
    assert enforcer.denial([POLICY], [warn], request(replicas=9)) is None
    assert enforcer.denial([POLICY], [], request(replicas=9)) is None
    assert enforcer.denial([POLICY], [BINDING], request(replicas=9, operation="DELETE")) is None
    other_group = request(replicas=9, group="batch")
    assert enforcer.denial([POLICY], [BINDING], other_group) is None


def test_selectors_and_binding_match_resources_narrow_the_match():
    labelled = {**POLICY["spec"]["matchConstraints"], "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    prod = {"metadata": {"name": "default", "labels": {"env": "prod"}}}
    assert matches(labelled, request(namespace_object=prod))
    assert not matches(labelled, request(namespace_object={"metadata": {"name": "default"}}))
    expressions = {"objectSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}
    assert not matches(expressions, request())


def test_variables_conditions_and_failure_policy():
    policy = {
        "metadata": {"name": "p"},
        "spec": {
            "matchConditions": [{"name": "big", "expression": "object.spec.replicas > 2"}],
            "variables": [{"name": "limit", "expression": "3"}],
            "validations": [
                {
                    "expression": "object.spec.replicas <= variables.limit",
                    "messageExpression": (
                        "'replicas ' + string(object.spec.replicas) + ' over ' + string(variables.limit)"
                    ),
                },
                {"expression": "object.spec.missing == 1"},
            ],
        },
    }
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": ["Deny"]}}
    enforcer = PolicyEnforcer()
    assert enforcer.denial([policy], [binding], request(replicas=1)) is None  # the condition does not hold
    assert enforcer.denial([policy], [binding], request(replicas=4)).endswith("denied request: replicas 4 over 3")
    failing = enforcer.denial([policy], [binding], request(replicas=3))
    assert "expression 'object.spec.missing == 1' resulted in error" in failing
    ignore = {**policy, "spec": {**policy["spec"], "failurePolicy": "Ignore"}}
    assert enforcer.denial([ignore], [binding], request(replicas=3)) is None
