"""Normalization: what both sides lose before they are compared or shown.

The server writes fields no manifest sets (``status``, ``metadata.uid``, ``resourceVersion``,
``managedFields``...); they are never drift, so they are dropped from every side. The desired side is also
brought to the form the server would store: Secret ``stringData`` folded into ``data`` and list keys filled
with their defaults. Before the comparison itself, both sides also lose the differences the API server
does not keep (:func:`comparable`), and a local prediction gains the defaults the live object shows
(:func:`with_known_defaults`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconcile.apiserver import (
    SERVER_SET_METADATA,
    APISchema,
    apply_defaults,
    fill_list_keys,
    fold_string_data,
    is_builtin_group,
)
from reconcile.diff._known_types import KnownTypeField, normalize_known_types
from reconcile.diff._quantities import QUANTITY_FIELDS, QUANTITY_MAPS, canonical, with_canonical_quantities
from reconcile.jsonvalues import deep_copy, json_equal, without_empty_lists, without_nulls
from reconcile.model import GroupKind, Manifest, split_api_version

SERVER_METADATA: tuple[str, ...] = SERVER_SET_METADATA
"""``metadata`` fields only the API server writes (:data:`reconcile.apiserver.SERVER_SET_METADATA`)."""


def normalize(obj: Manifest, *, keep_status: bool = False) -> Manifest:
    """A copy of ``obj`` without server-only fields.

    Drops ``status`` (unless ``keep_status``), the :data:`SERVER_METADATA` fields and every map entry whose value
    is ``null``: the API server reads a null field as an absent one, and Go clients write some
    (``creationTimestamp: null`` in pod templates) that mean nothing.
    """
    return _without_server_fields(without_nulls(obj), keep_status=keep_status)


def _without_server_fields(result: Manifest, *, keep_status: bool) -> Manifest:
    """``result`` (a fresh copy) without ``status`` and server-only metadata, changed in place."""
    if not keep_status:
        result.pop("status", None)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        for field in SERVER_METADATA:
            metadata.pop(field, None)
    return result


def prepare_desired(obj: Manifest) -> Manifest:
    """A copy of a desired object in the form the server would store.

    Normalized, with a Secret's ``stringData`` folded into ``data`` and list keys (such as a port's protocol)
    filled with their defaults.
    """
    return fill_list_keys(fold_string_data(normalize(obj)))


_ENDPOINTS = GroupKind("", "Endpoints")


def _group_kind(obj: Manifest) -> GroupKind:
    group, _ = split_api_version(str(obj.get("apiVersion") or ""))
    return GroupKind(group, str(obj.get("kind") or ""))


def comparable(obj: Manifest, known_types: Iterable[KnownTypeField] = (), *, keep_status: bool = False) -> Manifest:
    """:func:`normalize`, then the form in which equal objects of a built-in kind are equal.

    Built-in kinds are stored as protobuf, where an empty list and an absent one are the same thing, so empty
    lists are dropped (``rules: []`` equals ``rules: null``); custom resources keep theirs, as their JSON
    storage does, except in the ``known_types`` fields registered for their kind. An Endpoints object's
    subsets, and their addresses and ports, are sorted (the order carries no meaning and controllers write
    them in any order) and its ports' protocol defaults to TCP. Resource quantities are compared by value
    (``1000m`` is ``1``). ``status`` is dropped unless ``keep_status``.
    """
    group_kind = _group_kind(obj)
    if not is_builtin_group(group_kind.group):
        normal = normalize(obj, keep_status=keep_status)
        return normalize_known_types(normal, group_kind, known_types)  # type: ignore[no-any-return]
    # One pass instead of normalize(), then dropping empty lists, then canonical quantities: most objects
    # compared are in sync, and copying them three times cost more than parsing their YAML.
    result = _without_server_fields(
        {name: _builtin_value(value, name) for name, value in obj.items() if value is not None and value != []},
        keep_status=keep_status,
    )
    if group_kind == _ENDPOINTS and isinstance(result.get("subsets"), list):
        result["subsets"] = _sorted([_canonical_subset(subset) for subset in result["subsets"]])
    return normalize_known_types(result, group_kind, known_types)  # type: ignore[no-any-return]


def _builtin_value(value: Any, name: str) -> Any:
    """A copy of a built-in kind's field without nulls and empty lists, its resource quantities canonical."""
    if isinstance(value, dict):
        if name in QUANTITY_MAPS:
            return with_canonical_quantities(without_empty_lists(without_nulls(value)), name)
        return {
            key: canonical(item) if key in QUANTITY_FIELDS else _builtin_value(item, key)
            for key, item in value.items()
            if item is not None and item != []
        }
    if isinstance(value, list):
        return [_builtin_value(item, name) for item in value]
    return value


def _canonical_subset(subset: Any) -> Any:
    if not isinstance(subset, dict):
        return subset
    out = dict(subset)
    ports = out.get("ports")
    if isinstance(ports, list):
        out["ports"] = [
            {**port, "protocol": port.get("protocol") or "TCP"} if isinstance(port, dict) else port for port in ports
        ]
    for name in ("addresses", "notReadyAddresses", "ports"):
        if isinstance(out.get(name), list):
            out[name] = _sorted(out[name])
    return out


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))


def with_known_defaults(predicted: Manifest, live: Manifest, *, schema: APISchema | None = None) -> Manifest:
    """A copy of a locally predicted object with the server defaults of its kind that ``live`` shows.

    A local prediction has no server to default it: an atomic list the desired object replaces (a
    StatefulSet's ``volumeClaimTemplates``, a webhook's ``rules``) loses the defaults the server filled in
    its items, which would read as drift. Each default the cluster's release (``schema``; the newest modelled
    release by default) would fill in is added where the prediction lacks it and ``live`` holds that very value
    at the same place; a default ``live`` lacks or holds another value for is not, so it never hides a real
    difference.
    """
    defaulted = deep_copy(predicted)
    try:
        apply_defaults(defaulted, _group_kind(predicted), live, schema=schema)
    except (AttributeError, TypeError, KeyError):
        # A field of an unexpected shape (a string where the schema has a map): the server would refuse the
        # object, and the comparison shows it as it is.
        return predicted
    filled: Manifest = _fill_from(predicted, defaulted, live)
    return filled


def _fill_from(predicted: Any, defaulted: Any, live: Any) -> Any:
    """``predicted`` with the parts of ``defaulted`` it lacks that ``live`` has equally."""
    if isinstance(predicted, dict) and isinstance(defaulted, dict):
        live_map = live if isinstance(live, dict) else {}
        out = dict(predicted)
        for name, value in defaulted.items():
            if name in predicted:
                out[name] = _fill_from(predicted[name], value, live_map.get(name))
            elif name in live_map and json_equal(live_map[name], value):
                out[name] = deep_copy(value)
        return out
    if isinstance(predicted, list) and isinstance(defaulted, list) and len(predicted) == len(defaulted):
        live_list = live if isinstance(live, list) else []
        return [
            _fill_from(item, default, live_list[index] if index < len(live_list) else None)
            for index, (item, default) in enumerate(zip(predicted, defaulted, strict=True))
        ]
    return predicted
