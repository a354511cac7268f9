"""The root of the error tree, below the values errors carry: ``reconcile.errors`` is its public home.

:class:`ReconcileError` and :class:`ConfigurationError` live here so that ``reconcile.model`` can refuse a
malformed value with a ``ConfigurationError`` while ``reconcile.errors`` carries model values (keys, locations,
revisions) without an import circle.
"""

from __future__ import annotations


class ReconcileError(Exception):
    """The root of every error the library raises.

    Attributes:
        retryable: Whether the same call may succeed later without any change (network, throttling, conflicts).
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class ConfigurationError(ReconcileError):
    """The host passed options that cannot work (a bad URL, conflicting settings, an argument of the wrong type).

    Attributes:
        file: The file the configuration came from (an Application manifest), when it came from one.
        line: The 1-based line in it, when known.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line

    @classmethod
    def argument(cls, argument: str, expected: str, value: object) -> ConfigurationError:
        """The error for an argument of the wrong type or an empty value, at the public API's boundary.

        It names the argument, what it must be, and the type it had (``None``, or ``''`` for an empty string):
        never the value itself, which may be a secret.
        """
        got = "None" if value is None else "an empty string" if value == "" else type(value).__name__
        return cls(f"{argument}: expected {expected}, got {got}")
