"""Label selectors (``matchLabels`` and ``matchExpressions``), matched as the API server matches them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_OPERATORS: Mapping[str, Callable[[bool, Any, set[Any]], bool]] = {
    "In": lambda present, value, values: present and value in values,
    "NotIn": lambda present, value, values: not present or value not in values,
    "Exists": lambda present, _value, _values: present,
    "DoesNotExist": lambda present, _value, _values: not present,
}


def selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether ``labels`` satisfy ``selector``; an absent or empty selector selects everything.

    An unknown operator selects nothing, as the server refuses such a selector.
    """
    if not isinstance(selector, Mapping):
        return True
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or ():
        key = expression.get("key")
        operator = _OPERATORS.get(str(expression.get("operator")))
        if operator is None or not operator(key in labels, labels.get(key), set(expression.get("values") or ())):
            return False
    return True
