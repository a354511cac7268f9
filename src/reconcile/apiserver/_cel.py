"""The adapter to ``cel-expr-python`` (Google's CEL runtime): compile and evaluate CEL as the API server does.

The API server evaluates CEL in CustomResourceDefinition rules (``x-kubernetes-validations``, with ``self`` and
``oldSelf``) and in ValidatingAdmissionPolicies (``object``, ``oldObject``, ``request``, ``params``,
``variables``...). This is the only module that imports the runtime; its errors become :class:`CelError` here.
Kubernetes' own CEL libraries (quantities, URLs, IPs, ``isSorted``...) are not part of the runtime: an expression
that calls them fails to compile, and the caller reports that as the server reports a rule it cannot compile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from cel_expr_python import cel

from reconcile.errors import ReconcileError


class CelError(ReconcileError):
    """A CEL expression that does not compile, or whose evaluation fails (a missing field, a type mismatch)."""


class CelPrograms:
    """Compiled CEL programs over a fixed set of variables, each expression compiled once.

    Args:
        variables: The names an expression may use (``self``, ``oldSelf``); all are dynamically typed, as the
            API server declares object values whose schema the expression cannot rely on.
    """

    def __init__(self, variables: Iterable[str]) -> None:
        self._env = cel.NewEnv(variables=dict.fromkeys(variables, cel.Type.DYN))
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _program(self, expression: str) -> Any:
        found = self._compiled.get(expression)
        if found is None:
            try:
                found = self._env.compile(expression)
            except RuntimeError as exc:
                raise CelError(f"compilation failed: {_first_line(exc)}") from exc
            with self._lock:
                self._compiled[expression] = found
        return found

    def check(self, expression: str) -> None:
        """Compile ``expression``; :class:`CelError` when it does not."""
        self._program(expression)

    def evaluate(self, expression: str, data: Mapping[str, Any]) -> Any:
        """The value of ``expression`` with ``data`` bound to the variables (plain Python values).

        Raises:
            CelError: It does not compile, or its evaluation fails.
        """
        program = self._program(expression)
        try:
            result = program.eval(data=dict(data))
            value = result.value()
            failed = result.type() == cel.Type.ERROR  # an evaluation error comes back as a value
        except RuntimeError as exc:
            raise CelError(_first_line(exc)) from exc
        if failed:
            raise CelError(_without_code(str(value)))
        return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(item.value() if hasattr(item, "value") else item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item.value() if hasattr(item, "value") else item) for key, item in value.items()}
    return value


def _without_code(text: str) -> str:
    """``no such key: nope`` rather than the runtime's ``NOT_FOUND: Key not found in map : "nope"``."""
    code, _, rest = text.partition(": ")
    return rest if code.isupper() and rest else text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for prefix in ("INVALID_ARGUMENT: ", "ERROR: "):
        text = text.removeprefix(prefix)
    return text.splitlines()[0] if text else type(exc).__name__
