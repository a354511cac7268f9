"""ValidatingAdmissionPolicies and their bindings, enforced on writes as the API server enforces them.

A policy (``admissionregistration.k8s.io/v1``) matches requests by ``matchConstraints`` (resource rules, namespace
and object selectors, exclusions) and ``matchConditions``; a binding names the policy, may narrow the match
(``matchResources``) and says what a failed validation does (``validationActions``: only ``Deny`` refuses the
request; ``Warn`` and ``Audit`` let it through). Each validation is a CEL expression over ``object``,
``oldObject``, ``request``, ``namespaceObject`` and ``variables``; a false one denies the request with the
validation's message, a failing one as ``failurePolicy`` says. Policies with parameters (``paramKind``) are not
enforced: the in-memory cluster does not resolve parameter objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from reconcile.apiserver._cel import CelError, CelPrograms
from reconcile.apiserver._selectors import selects

VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "variables")
"""What a policy's expressions may name."""


@attrs.frozen(kw_only=True)
class AdmissionRequest:
    """One write as a policy sees it.

    Attributes:
        operation: ``CREATE``, ``UPDATE`` or ``DELETE``.
        group: The object's API group.
        version: The version it was written in.
        kind: Its kind.
        resource: Its resource name (``deployments``).
        namespaced: Whether the kind is namespaced.
        name: The object's name.
        namespace: Its namespace (``""`` for cluster-scoped objects).
        obj: The object after the write (``None`` for a delete).
        old: The object before (``None`` for a create).
        namespace_object: The object's namespace, for ``namespaceSelector`` and ``namespaceObject``.
        dry_run: Whether the write is a dry run.
    """

    operation: str
    group: str
    version: str
    kind: str
    resource: str
    namespaced: bool
    name: str
    namespace: str
    obj: Mapping[str, Any] | None
    old: Mapping[str, Any] | None
    namespace_object: Mapping[str, Any] | None = None
    dry_run: bool = False

    def as_cel(self) -> dict[str, Any]:
        """The ``request`` variable."""
        return {
            "operation": self.operation,
            "name": self.name,
            "namespace": self.namespace,
            "kind": {"group": self.group, "version": self.version, "kind": self.kind},
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "dryRun": self.dry_run,
            "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
        }


def _rule_matches(rule: Mapping[str, Any], request: AdmissionRequest) -> bool:
    def allows(field: str, value: str) -> bool:
        listed = [str(v) for v in rule.get(field) or ()]
        return "*" in listed or value in listed

    scope = str(rule.get("scope") or "*")
    in_scope = scope == "*" or (scope == "Namespaced") == request.namespaced
    resources = [str(r) for r in rule.get("resources") or ()]
    return (
        allows("apiGroups", request.group)
        and allows("apiVersions", request.version)
        and ("*" in resources or request.resource in resources)
        and allows("operations", request.operation)
        and in_scope
    )


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _selected(resources: Mapping[str, Any], request: AdmissionRequest) -> bool:
    """Whether the object and namespace selectors select ``request``."""
    subject = request.obj if request.obj is not None else request.old
    if not selects(resources.get("objectSelector"), _labels(subject)):
        return False
    if request.kind == "Namespace" and not request.group:
        return selects(resources.get("namespaceSelector"), _labels(subject))
    if request.namespaced:
        return selects(resources.get("namespaceSelector"), _labels(request.namespace_object))
    return True  # other cluster-scoped objects are never skipped by a namespace selector


def matches(resources: Mapping[str, Any] | None, request: AdmissionRequest) -> bool:
    """Whether ``matchConstraints`` (or a binding's ``matchResources``) select ``request``; absent: everything."""
    if not isinstance(resources, Mapping):
        return True
    rules = resources.get("resourceRules")
    if rules is not None and not any(_rule_matches(rule, request) for rule in rules):
        return False
    if any(_rule_matches(rule, request) for rule in resources.get("excludeResourceRules") or ()):
        return False
    return _selected(resources, request)


class PolicyEnforcer:
    """Evaluates the policies bound by bindings against writes; one per cluster (it keeps compiled programs)."""

    def __init__(self) -> None:
        self._programs = CelPrograms(VARIABLES)

    def denial(
        self, policies: Iterable[Mapping[str, Any]], bindings: Iterable[Mapping[str, Any]], request: AdmissionRequest
    ) -> str | None:
        """Why ``request`` is denied (the server's words after ``... is forbidden: ``), or ``None``."""
        by_name = {str((p.get("metadata") or {}).get("name")): p for p in policies}
        for binding in sorted(bindings, key=lambda b: str((b.get("metadata") or {}).get("name"))):
            spec = binding.get("spec") or {}
            policy = by_name.get(str(spec.get("policyName")))
            if policy is None or "Deny" not in (spec.get("validationActions") or ()):
                continue
            policy_spec = policy.get("spec") or {}
            if policy_spec.get("paramKind") or not matches(policy_spec.get("matchConstraints"), request):
                continue
            if not matches(spec.get("matchResources"), request):
                continue
            reason = self._evaluate(policy_spec, request)
            if reason is not None:
                names = f"'{policy['metadata']['name']}' with binding '{binding['metadata']['name']}'"
                return f"ValidatingAdmissionPolicy {names} denied request: {reason}"
        return None

    def _evaluate(self, policy: Mapping[str, Any], request: AdmissionRequest) -> str | None:
        fail = str(policy.get("failurePolicy") or "Fail") == "Fail"
        data: dict[str, Any] = {
            "object": request.obj,
            "oldObject": request.old,
            "request": request.as_cel(),
            "params": None,
            "namespaceObject": request.namespace_object,
            "variables": {},
        }
        try:
            for condition in policy.get("matchConditions") or ():
                if self._programs.evaluate(str(condition.get("expression")), data) is not True:
                    return None
            for variable in policy.get("variables") or ():
                value = self._programs.evaluate(str(variable.get("expression")), data)
                data["variables"] = {**data["variables"], str(variable.get("name")): value}
        except CelError as exc:
            return f"{exc}" if fail else None
        for validation in policy.get("validations") or ():
            expression = str(validation.get("expression"))
            try:
                if self._programs.evaluate(expression, data) is True:
                    continue
            except CelError as exc:
                if not fail:
                    continue
                return f"expression '{expression}' resulted in error: {exc}"
            return self._message(validation, data, expression)
        return None

    def _message(self, validation: Mapping[str, Any], data: Mapping[str, Any], expression: str) -> str:
        dynamic = validation.get("messageExpression")
        if dynamic:
            try:
                found = self._programs.evaluate(str(dynamic), data)
                if isinstance(found, str) and found.strip():
                    return found
            except CelError:
                pass  # the static message, then the expression, as the server falls back
        return str(validation.get("message") or f"failed expression: {expression}")
