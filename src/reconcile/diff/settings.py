"""System-wide comparison settings: what every application's comparison shares.

Argo CD keeps these in its ``argocd-cm`` ConfigMap (``resource.customizations.ignoreDifferences.all``,
``knownTypeFields``, ``resource.compareoptions``, ``resource.sensitive.mask.annotations``); here one
:class:`DiffSettings` value is given to every :class:`~reconcile.diff.Differ` (or
:class:`~reconcile.Reconciler`) of a host program, and each application adds its own ``ignore_differences``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from reconcile.diff.ignore import IgnoreRule, as_rules
from reconcile.diff.known_types import KnownTypeField
from reconcile.model import GroupKind
from reconcile.schema import CRD


def _known_types(fields: Iterable[KnownTypeField]) -> tuple[KnownTypeField, ...]:
    return tuple(fields)


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(names)


@attrs.frozen(kw_only=True)
class DiffSettings:
    """Comparison settings shared by every application.

    Attributes:
        ignore_differences: Rules for every application, before each application's own (Argo CD's system-level
            ``ignoreDifferences``; a rule with ``group="*"`` and ``kind="*"`` covers all kinds).
        known_types: Fields of custom resources compared as the built-in type they hold.
        ignore_aggregated_roles: Leave out the ``rules`` of aggregated ClusterRoles (the controller fills them).
        include_mutation_webhook: Compare fields a mutating admission webhook set in a server-side prediction;
            by default they take their live values (objects can ask with the ``IncludeMutationWebhook=true``
            compare option).
        sensitive_annotations: Annotation keys whose values are masked like Secret values, on every kind.
        ignore_resource_status_field: Whose ``status`` is left out of comparisons: ``all`` objects' (the
            default: status is the server's), only CustomResourceDefinitions' (``crd``, Argo CD's default, for
            apps that keep a status in Git), or nobody's (``none``).
    """

    ignore_differences: tuple[IgnoreRule, ...] = attrs.field(default=(), converter=as_rules)
    known_types: tuple[KnownTypeField, ...] = attrs.field(default=(), converter=_known_types)
    ignore_aggregated_roles: bool = False
    include_mutation_webhook: bool = False
    sensitive_annotations: tuple[str, ...] = attrs.field(default=(), converter=_names)
    ignore_resource_status_field: Literal["all", "crd", "none"] = attrs.field(
        default="all", validator=attrs.validators.in_(("all", "crd", "none"))
    )

    def compares_status(self, group_kind: GroupKind) -> bool:
        """Whether objects of ``group_kind`` have their ``status`` compared."""
        if self.ignore_resource_status_field == "none":
            return True
        return self.ignore_resource_status_field == "crd" and group_kind != CRD

    def with_rules(self, rules: Iterable[IgnoreRule | Mapping[str, Any]]) -> tuple[IgnoreRule, ...]:
        """The system-wide rules followed by ``rules`` (one application's)."""
        return self.ignore_differences + as_rules(rules)
