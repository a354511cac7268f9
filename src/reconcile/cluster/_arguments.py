"""The clusters' arguments checked at their boundary, one rule for the in-memory and the real cluster.

A wrong type or an empty name is a :class:`~reconcile.errors.ConfigurationError` naming the verb and the
argument, before anything is sent: ``get`` with an empty name would otherwise list the whole kind on a real
server (``GET .../configmaps/``), and ``apply(None)`` fail deep inside with an ``AttributeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.errors import ConfigurationError
from reconcile.model import GroupKind, ResourceKey


def manifest(verb: str, obj: Any) -> None:
    """``obj`` must be a manifest: a mapping."""
    if not isinstance(obj, Mapping):
        raise ConfigurationError.argument(f"{verb}(obj)", "a manifest (a mapping)", obj)


def named_key(verb: str, key: Any) -> None:
    """``key`` must be a :class:`ResourceKey` with a kind and a name."""
    if not isinstance(key, ResourceKey):
        raise ConfigurationError.argument(f"{verb}(key)", "a ResourceKey", key)
    if not key.kind:
        raise ConfigurationError.argument(f"{verb}(key).kind", "the kind's name", key.kind)
    if not key.name:
        raise ConfigurationError.argument(f"{verb}(key).name", "the object's name", key.name)


def merge_patch(patch: Any) -> None:
    """A merge patch must be a mapping."""
    if not isinstance(patch, Mapping):
        raise ConfigurationError.argument("patch(patch)", "a merge patch (a mapping)", patch)


def group_kind(verb: str, value: Any, *, optional: bool = False) -> None:
    """``value`` must be a :class:`GroupKind` (or ``None`` where every kind is meant)."""
    if value is None and optional:
        return
    if not isinstance(value, GroupKind):
        raise ConfigurationError.argument(f"{verb}(group_kind)", "a GroupKind", value)
