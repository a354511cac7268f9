"""Structural defaulting of custom resources: a CRD version's schema ``default`` values, filled as the server does.

The API server fills a field's ``default`` wherever the field is absent (or ``null`` and not ``nullable``) in an
object that exists; a default is itself defaulted inside, and the walk goes on into present maps, list items and
``additionalProperties`` values. It does so on every write and read; filling on write gives the same result for
an in-memory store.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def fill_schema_defaults(value: Any, schema: Mapping[str, Any]) -> None:
    """Fill, in place, the defaults ``schema`` declares in ``value`` (a custom resource, or any part of one)."""
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, child in properties.items():
                if not isinstance(child, Mapping):
                    continue
                absent = name not in value or (value[name] is None and not child.get("nullable"))
                if absent and "default" in child:
                    value[name] = copy.deepcopy(child["default"])
                if name in value:
                    fill_schema_defaults(value[name], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            declared = properties if isinstance(properties, Mapping) else {}
            for name, child in value.items():
                if name not in declared:
                    fill_schema_defaults(child, extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                fill_schema_defaults(item, items)
