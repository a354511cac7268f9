"""Client-side apply as ``kubectl apply`` does it, with JSON merge patches; no I/O here.

``kubectl`` keeps the manifest it applied last in the ``kubectl.kubernetes.io/last-applied-configuration``
annotation and sends a three-way patch: fields that left the manifest since then are deleted, fields the manifest
sets are written, and fields set by anybody else are left alone. ``kubectl`` builds a strategic merge patch for
built-in kinds (lists merged by key); this module builds an RFC 7386 JSON merge patch for every kind, the one
``kubectl`` uses for custom resources, so a list is always replaced whole.
"""

from __future__ import annotations

import json
from typing import Any

from reconcile.apiserver import LAST_APPLIED
from reconcile.jsonvalues import deep_copy, json_equal
from reconcile.model import Manifest

"""The annotation ``kubectl apply`` reads and writes."""


def last_applied_text(obj: Manifest) -> str:
    """The annotation's value for ``obj``, byte for byte as ``kubectl`` writes it.

    That is the object without the annotation itself, its ``metadata.annotations`` present (``{}`` when empty),
    as compact JSON with sorted keys and a final newline (Go's encoder output).
    """
    config = deep_copy(obj)
    metadata = config.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    metadata["annotations"] = annotations
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def with_last_applied(obj: Manifest) -> Manifest:
    """A copy of ``obj`` carrying its own last-applied annotation (what ``kubectl apply`` sends)."""
    text = last_applied_text(obj)
    out = deep_copy(obj)
    metadata = out.setdefault("metadata", {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), LAST_APPLIED: text}
    return out


def read_last_applied(live: Manifest) -> Manifest | None:
    """The configuration last applied to ``live``, or ``None`` when it carries none (or an unreadable one)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def merge_diff(source: Any, target: Any) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns the map ``source`` into the map ``target``."""
    patch: dict[str, Any] = {}
    for name, wanted in target.items():
        if name not in source:
            patch[name] = deep_copy(wanted)
            continue
        have = source[name]
        if isinstance(wanted, dict) and isinstance(have, dict):
            nested = merge_diff(have, wanted)
            if nested:
                patch[name] = nested
        elif not json_equal(have, wanted):
            patch[name] = deep_copy(wanted)
    for name in source:
        if name not in target:
            patch[name] = None
    return patch


def _deletions(patch: dict[str, Any], current: Any) -> dict[str, Any]:
    """Only the ``null`` entries of a merge patch (and the maps leading to them) that ``current`` still has."""
    out: dict[str, Any] = {}
    for name, value in patch.items():
        if not isinstance(current, dict) or name not in current:
            continue
        if value is None:
            out[name] = None
        elif isinstance(value, dict):
            nested = _deletions(value, current[name])
            if nested:
                out[name] = nested
    return out


def _without_deletions(patch: dict[str, Any], source: Any) -> dict[str, Any]:
    """A merge patch (made against ``source``) without its ``null`` entries.

    A map that only held deletions disappears, but a map the patch sets whole (absent from ``source``) is kept
    even when empty.
    """
    out: dict[str, Any] = {}
    for name, value in patch.items():
        if value is None:
            continue
        have = source.get(name) if isinstance(source, dict) else None
        if isinstance(value, dict) and isinstance(have, dict):
            nested = _without_deletions(value, have)
            if nested:
                out[name] = nested
        else:
            out[name] = value
    return out


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(name), dict):
            out[name] = _merge(out[name], value)
        else:
            out[name] = value
    return out


def three_way_patch(original: Manifest | None, modified: Manifest, current: Manifest) -> dict[str, Any]:
    """The JSON merge patch ``kubectl apply`` sends: from ``current`` towards ``modified``, keeping others' fields.

    Args:
        original: The configuration applied last (the annotation), or ``None`` when unknown.
        modified: The configuration being applied now (with its new annotation).
        current: The live object.

    Returns:
        Deletions of the fields ``original`` had and ``modified`` dropped, plus every field of ``modified`` that
        differs from ``current``; ``{}`` when nothing would change.
    """
    deletions = _deletions(merge_diff(original or {}, modified), current)
    changes = _without_deletions(merge_diff(current, modified), current)
    return _merge(deletions, changes)
