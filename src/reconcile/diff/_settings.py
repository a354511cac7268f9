"""System-wide comparison settings: what every application's comparison shares.

Argo CD keeps these in its ``argocd-cm`` ConfigMap (``resource.customizations.ignoreDifferences.all``,
``knownTypeFields``, ``resource.compareoptions``, ``resource.sensitive.mask.annotations``); here one
:class:`DiffSettings` value is given to every :class:`~reconcile.diff.ArgoDiffer` (or
:class:`~reconcile.Reconciler`) of a host program, and each application adds its own ``ignore_differences``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, Literal, TypeVar

import attrs

from reconcile.apiserver import CRD
from reconcile.diff._ignore import IgnoreRule, as_rules
from reconcile.diff._known_types import KnownTypeField
from reconcile.errors import ConfigurationError, ManifestError
from reconcile.manifests import load_value
from reconcile.model import GroupKind

_T = TypeVar("_T")


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
    ignore_resource_status_field: Literal["all", "crd", "none"] = attrs.field(default="all")

    @ignore_resource_status_field.validator
    def _check_status_field(self, _: object, value: str) -> None:
        if value not in ("all", "crd", "none"):
            raise ConfigurationError(f"ignore_resource_status_field must be 'all', 'crd' or 'none', not {value!r}")

    def compares_status(self, group_kind: GroupKind) -> bool:
        """Whether objects of ``group_kind`` have their ``status`` compared."""
        if self.ignore_resource_status_field == "none":
            return True
        return self.ignore_resource_status_field == "crd" and group_kind != CRD

    def with_rules(self, rules: Iterable[IgnoreRule | Mapping[str, Any]]) -> tuple[IgnoreRule, ...]:
        """The system-wide rules followed by ``rules`` (one application's)."""
        return self.ignore_differences + as_rules(rules)

    @classmethod
    def from_argocd_cm(cls, data: Mapping[str, str]) -> DiffSettings:
        """Settings from the ``data`` of Argo CD's ``argocd-cm`` ConfigMap.

        Reads ``resource.customizations.ignoreDifferences.all`` and ``.<group>_<Kind>`` (``<Kind>`` alone for
        the core group), ``resource.customizations.knownTypeFields.<group>_<Kind>``, ``resource.compareoptions``
        (``ignoreAggregatedRoles``, ``ignoreResourceStatusField``) and ``resource.sensitive.mask.annotations``;
        other keys are not about comparing and are left alone.

        Raises:
            ConfigurationError: A value is malformed; the message names the key.
        """
        rules: list[IgnoreRule] = []
        known: list[KnownTypeField] = []
        options: dict[str, Any] = {}
        for key, text in sorted(data.items()):
            if key.startswith(_IGNORE):
                group, kind = _group_kind(key.removeprefix(_IGNORE))
                value = _mapping(_value(key, text), key)
                rules.append(_wrap(key, partial(_rule, value, group, kind)))
            elif key.startswith(_KNOWN):
                group_kind = "/".join(_group_kind(key.removeprefix(_KNOWN))).lstrip("/")
                entries = _value(key, text) or []
                if not isinstance(entries, list):
                    raise ConfigurationError(f"{key}: expected a list of {{field, type}}, got {entries!r}")
                known += [_wrap(key, partial(KnownTypeField.from_argo, group_kind, entry)) for entry in entries]
            elif key == "resource.compareoptions":
                compare = _mapping(_value(key, text), key)
                if "ignoreAggregatedRoles" in compare:
                    options["ignore_aggregated_roles"] = bool(compare["ignoreAggregatedRoles"])
                if "ignoreResourceStatusField" in compare:
                    options["ignore_resource_status_field"] = str(compare["ignoreResourceStatusField"]).lower()
            elif key == "resource.sensitive.mask.annotations":
                options["sensitive_annotations"] = tuple(n.strip() for n in text.split(",") if n.strip())
        return _wrap("argocd-cm", lambda: cls(ignore_differences=rules, known_types=known, **options))


_IGNORE = "resource.customizations.ignoreDifferences."
_KNOWN = "resource.customizations.knownTypeFields."
_RULE_KEYS = ("jsonPointers", "jqPathExpressions", "managedFieldsManagers")


def _group_kind(suffix: str) -> tuple[str, str]:
    """``apps_Deployment`` -> (``apps``, ``Deployment``); ``Service`` -> core; ``all`` -> every kind."""
    if suffix == "all":
        return "*", "*"
    group, _, kind = suffix.rpartition("_")
    return group, kind


def _value(key: str, text: str) -> Any:
    try:
        return load_value(text, file=key)  # its errors name the key and the line
    except ManifestError as exc:
        raise ConfigurationError(str(exc), file=exc.file, line=exc.line) from exc


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key}: expected a mapping, got {value!r}")
    return value


def _rule(value: Mapping[str, Any], group: str, kind: str) -> IgnoreRule:
    unknown = sorted(set(value) - set(_RULE_KEYS))
    if unknown:
        raise ConfigurationError(f"unknown keys {unknown} (known: {', '.join(_RULE_KEYS)})")
    return IgnoreRule.from_argo({"group": group, "kind": kind, **value})


def _wrap(key: str, build: Callable[[], _T]) -> _T:
    """Run ``build``; a configuration or manifest error names ``key``."""
    try:
        return build()
    except (ConfigurationError, ManifestError) as exc:
        raise ConfigurationError(f"{key}: {exc}") from exc
