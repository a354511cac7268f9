"""Secret masking: Secret values never reach a diff, a change, a summary, HTML or a log.

Every value under a Secret's ``data`` and ``stringData`` becomes a run of ``+`` signs, as Argo CD shows them.
Masks are chosen per key across all the objects masked together: equal values get the same mask and
different values masks of different lengths (8, 12, 16... signs), so a changed value still shows as a change
without showing either value. The ``kubectl.kubernetes.io/last-applied-configuration`` annotation of a Secret
holds the values too, so it is masked whole, the same way. An empty value and ``null`` get the same mask:
the server stores an empty value as ``null``.

Annotations can hold secrets as well (a token in an ingress controller's annotation): the values of the
annotation keys listed as sensitive are masked the same way on every kind, in the object and inside its
last-applied copy (masked whole when that copy cannot be read).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from reconcile.apiserver import LAST_APPLIED
from reconcile.jsonvalues import deep_copy
from reconcile.model import Manifest, holds_secret_values

"""The annotation where ``kubectl apply`` keeps the whole applied object."""

MASK_CHAR = "+"
_FIRST = 8
_STEP = 4
_SECTIONS = ("data", "stringData")


def is_secret(obj: Manifest) -> bool:
    """Whether ``obj``'s values are masked: a Secret in any spelling, or anything with a Secret's shape.

    See :func:`reconcile.model.holds_secret_values`.
    """
    return holds_secret_values(obj)


def mask_secrets(
    objects: Sequence[Manifest | None], *, sensitive_annotations: Collection[str] = ()
) -> tuple[Manifest | None, ...]:
    """``objects`` (the same object at several stages) with every Secret value and sensitive annotation masked.

    An object with something to mask comes back as a masked copy; the others come back as they are. Masks are
    consistent across the whole sequence.
    """
    masked = tuple(
        deep_copy(obj) if obj is not None and (is_secret(obj) or _sensitive(obj, sensitive_annotations)) else obj
        for obj in objects
    )
    if sensitive_annotations:
        _mask_annotations([obj for obj in masked if obj is not None], sensitive_annotations)
    secrets = [obj for obj in masked if obj is not None and is_secret(obj)]
    if not secrets:
        return masked
    for section in _SECTIONS:
        whole = _Masks()
        for obj in secrets:
            if obj.get(section) is not None and not isinstance(obj[section], dict):
                # Malformed, but its content may still be secret: hide it whole.
                obj[section] = whole.mask(obj[section])
    names = dict.fromkeys(name for obj in secrets for section in _SECTIONS for name in _values(obj, section))
    for name in names:
        masks = _Masks()
        for obj in secrets:
            for section in _SECTIONS:
                values = _values(obj, section)
                if name in values:
                    values[name] = masks.mask(values[name])
    masks = _Masks()
    for obj in secrets:
        annotations = (obj.get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = masks.mask(annotations[LAST_APPLIED])
    return masked


def _annotations(obj: Manifest) -> dict[str, Any]:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _sensitive(obj: Manifest, names: Collection[str]) -> bool:
    annotations = _annotations(obj)
    return any(name in annotations for name in names) or (bool(names) and LAST_APPLIED in annotations)


def _mask_annotations(objects: list[Manifest], names: Collection[str]) -> None:
    """Masks the ``names`` annotations of ``objects`` in place, and in their last-applied copies."""
    applied: list[dict[str, Any] | None] = []
    whole = _Masks()
    for obj in objects:
        annotations = _annotations(obj)
        text = annotations.get(LAST_APPLIED)
        copy = None
        if isinstance(text, str) and any(name in text for name in names):
            try:
                copy = json.loads(text)
            except ValueError:
                copy = None
            if not isinstance(copy, dict):
                annotations[LAST_APPLIED] = whole.mask(text)  # cannot tell what it holds: hide it whole
                copy = None
        applied.append(copy)
    for name in names:
        masks = _Masks()
        for obj, copy in zip(objects, applied, strict=True):
            for annotations in (_annotations(obj), _annotations(copy) if copy is not None else {}):
                if name in annotations:
                    annotations[name] = masks.mask(annotations[name])
    for obj, copy in zip(objects, applied, strict=True):
        if copy is not None:
            _annotations(obj)[LAST_APPLIED] = json.dumps(copy, separators=(",", ":"))


def _values(obj: Manifest, section: str) -> dict[str, Any]:
    values = obj.get(section)
    return values if isinstance(values, dict) else {}


class _Masks:
    """Hands out one mask per distinct value, longer for each new value."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}

    def mask(self, value: Any) -> str:
        text = json.dumps("" if value is None else value, sort_keys=True, default=str)
        if text not in self._by_value:
            self._by_value[text] = MASK_CHAR * (_FIRST + _STEP * len(self._by_value))
        return self._by_value[text]
