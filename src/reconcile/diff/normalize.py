"""Normalization: what both sides lose before they are compared or shown.

The server writes fields no manifest sets (``status``, ``metadata.uid``, ``resourceVersion``,
``managedFields``...); they are never drift, so they are dropped from every side. The desired side is also
brought to the form the server would store: Secret ``stringData`` folded into ``data`` and list keys filled
with their defaults.
"""

from __future__ import annotations

from reconcile.jsonvalues import without_nulls
from reconcile.model import Manifest
from reconcile.schema import fill_list_keys, fold_string_data

SERVER_METADATA: tuple[str, ...] = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
"""``metadata`` fields only the API server writes."""


def normalize(obj: Manifest) -> Manifest:
    """A copy of ``obj`` without server-only fields.

    Drops ``status``, the :data:`SERVER_METADATA` fields and every map entry whose value is ``null``: the API
    server reads a null field as an absent one, and Go clients write some (``creationTimestamp: null`` in pod
    templates) that mean nothing.
    """
    result: Manifest = without_nulls(obj)
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
