"""Sync options, spelled as Argo CD spells them: app-level :class:`SyncOptions`, per-object :class:`ObjectOptions`.

App options come from the host (``["PruneLast=true", "ServerSideApply=false"]``) and are parsed strictly: an
unknown or malformed string is a :class:`~reconcile.errors.ConfigurationError`. Per-object options come from the
object's ``argocd.argoproj.io/sync-options`` annotation and override the app's; there, as in the reference,
strings the library does not know are ignored, since a chart may carry options meant for another tool version.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs

from reconcile.argocd.annotations import DEFAULT_CLIENT_SIDE_APPLY_MANAGER, object_options
from reconcile.errors import ConfigurationError
from reconcile.model import Manifest, PropagationPolicy

_PROPAGATION: dict[str, PropagationPolicy] = {
    "foreground": "Foreground",
    "background": "Background",
    "orphan": "Orphan",
}


class Permission(enum.StrEnum):
    """Whether an object may be pruned (``Prune=``) or deleted (``Delete=``): yes, never, or after a confirmation."""

    ALLOW = "true"
    DENY = "false"
    CONFIRM = "confirm"


# Argo CD's boolean option names and the SyncOptions field each sets.
_BOOLEAN_OPTIONS: dict[str, str] = {
    "PruneLast": "prune_last",
    "ApplyOutOfSyncOnly": "apply_out_of_sync_only",
    "ServerSideApply": "server_side_apply",
    "Replace": "replace",
    "Force": "force",
    "Validate": "validate",
    "SkipDryRunOnMissingResource": "skip_dry_run_on_missing_resource",
    "CreateNamespace": "create_namespace",
    "RespectIgnoreDifferences": "respect_ignore_differences",
    "FailOnSharedResource": "fail_on_shared_resource",
    "ClientSideApplyMigration": "client_side_apply_migration",
}

# The boolean options the reference honours on a single object's annotation.
_OBJECT_BOOLEANS = (
    "PruneLast",
    "ApplyOutOfSyncOnly",
    "ServerSideApply",
    "Replace",
    "Force",
    "Validate",
    "SkipDryRunOnMissingResource",
)


@attrs.frozen(kw_only=True)
class SyncOptions:
    """App-level sync options; build from Argo CD's strings with :meth:`parse`.

    Attributes:
        prune_last: ``PruneLast=true``: prune after the last wave of the Sync phase.
        apply_out_of_sync_only: ``ApplyOutOfSyncOnly=true``: objects found in sync are not applied.
        server_side_apply: ``ServerSideApply=true|false``; ``false`` applies client-side with last-applied.
        replace: ``Replace=true``: replace instead of apply.
        force: ``Force=true``: delete and recreate when a replace is refused.
        validate: ``Validate=false`` turns server-side validation off.
        skip_dry_run_on_missing_resource: ``SkipDryRunOnMissingResource=true``.
        prune_propagation: ``PrunePropagationPolicy=foreground|background|orphan`` (default foreground).
        create_namespace: ``CreateNamespace=true``: create the destination namespace.
        respect_ignore_differences: ``RespectIgnoreDifferences=true``: keep ignored fields' live values.
        fail_on_shared_resource: ``FailOnSharedResource=true``: an object another app tracks fails the sync.
        client_side_apply_migration: ``ClientSideApplyMigration=false`` turns off the takeover of fields that
            ``migration_manager`` (``kubectl apply``) owns, before a server-side apply (on by default, as in
            Argo CD).
        migration_manager: The client-side manager taken over (the Application's
            ``argocd.argoproj.io/client-side-apply-migration-manager``, default ``kubectl-client-side-apply``).
    """

    prune_last: bool = False
    apply_out_of_sync_only: bool = False
    server_side_apply: bool = True
    replace: bool = False
    force: bool = False
    validate: bool = True
    skip_dry_run_on_missing_resource: bool = False
    prune_propagation: PropagationPolicy = "Foreground"
    create_namespace: bool = False
    respect_ignore_differences: bool = False
    fail_on_shared_resource: bool = False
    client_side_apply_migration: bool = True
    migration_manager: str = DEFAULT_CLIENT_SIDE_APPLY_MANAGER
    # ObjectOptions by the object's own option strings: a plan of 10,000 objects with no annotation builds one.
    _per_object: dict[frozenset[str], ObjectOptions] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )

    @classmethod
    def parse(cls, strings: Iterable[str]) -> SyncOptions:
        """Options from Argo CD's strings (``["PruneLast=true", "PrunePropagationPolicy=background"]``).

        Raises:
            ConfigurationError: Naming the first string that is unknown or malformed.
        """
        values: dict[str, Any] = {}
        for raw in strings:
            text = raw.strip() if isinstance(raw, str) else raw
            if not isinstance(text, str):
                raise ConfigurationError(f"sync option {text!r} is not a string")
            name, sep, value = text.partition("=")
            if not sep:
                raise ConfigurationError(f"sync option {text!r} is not of the form Name=value")
            if name == "PrunePropagationPolicy":
                if value not in _PROPAGATION:
                    raise ConfigurationError(
                        f"sync option {text!r}: PrunePropagationPolicy must be foreground, background or orphan"
                    )
                values["prune_propagation"] = _PROPAGATION[value]
            elif name in _BOOLEAN_OPTIONS:
                if value not in ("true", "false"):
                    raise ConfigurationError(f"sync option {text!r}: {name} must be true or false")
                values[_BOOLEAN_OPTIONS[name]] = value == "true"
            else:
                raise ConfigurationError(f"unknown sync option {text!r}")
        return cls(**values)

    def for_object(self, obj: Manifest | None) -> ObjectOptions:
        """The options in force for ``obj``: these, overridden by its ``argocd.argoproj.io/sync-options``."""
        own = object_options(obj)
        found = self._per_object.get(own)
        if found is None:
            found = self._per_object[own] = self._for_options(own)
        return found

    def _for_options(self, own: frozenset[str]) -> ObjectOptions:
        values: dict[str, Any] = attrs.asdict(self, recurse=False, filter=lambda field, _: field.init)
        for name in _OBJECT_BOOLEANS:
            if f"{name}=true" in own:
                values[_field(name)] = True
            elif f"{name}=false" in own:
                values[_field(name)] = False
        for own_only in ("prune", "delete"):  # when called on an ObjectOptions: the object decides those anew
            values.pop(own_only, None)
        return ObjectOptions(prune=_permission(own, "Prune"), delete=_permission(own, "Delete"), **values)


@attrs.frozen(kw_only=True)
class ObjectOptions(SyncOptions):
    """The options in force for one object: the app's :class:`SyncOptions`, overridden by the object's annotation.

    Built by :meth:`SyncOptions.for_object`. Besides the app's options it holds the two only an object has:

    Attributes:
        prune: ``Prune=false`` never prunes the object; ``Prune=confirm`` waits for an explicit confirmation.
        delete: ``Delete=false`` keeps the object when the application is deleted; ``Delete=confirm`` waits.
    """

    prune: Permission = Permission.ALLOW
    delete: Permission = Permission.ALLOW


def _field(name: str) -> str:
    return _BOOLEAN_OPTIONS[name]


def _permission(own: frozenset[str], name: str) -> Permission:
    # Deny wins over confirm when an annotation (oddly) carries both: keeping an object is the safe reading.
    for permission in (Permission.DENY, Permission.CONFIRM):
        if f"{name}={permission.value}" in own:
            return permission
    return Permission.ALLOW
