"""Retrying a failed sync operation, as Argo CD's ``retry`` block does: a limit and an exponential backoff."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from reconcile.apiserver import duration_nanoseconds
from reconcile.errors import ConfigurationError


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often, and how long apart, a failed sync operation is tried again.

    Attributes:
        limit: How many retries after the first attempt (0: none; negative: no limit, as in Argo CD).
        backoff: Seconds before the first retry.
        factor: Each later wait is the one before times this.
        max_backoff: No wait is longer than this many seconds.
    """

    limit: int = 0
    backoff: float = 5.0
    factor: float = 2.0
    max_backoff: float = 180.0

    def __attrs_post_init__(self) -> None:
        if self.backoff < 0 or self.factor < 1 or self.max_backoff < 0:
            raise ConfigurationError(
                f"retry: backoff and max_backoff must be >= 0 and factor >= 1 (got {self.backoff}, "
                f"{self.max_backoff}, {self.factor})"
            )

    def delays(self) -> Iterator[float]:
        """The waits before each retry, in seconds; as many as :attr:`limit` allows."""
        delay = self.backoff
        attempt = 0
        while self.limit < 0 or attempt < self.limit:
            yield min(delay, self.max_backoff)
            delay *= self.factor
            attempt += 1

    @classmethod
    def from_argo(cls, retry: Mapping[str, Any]) -> RetryPolicy:
        """A policy from Argo CD's ``syncPolicy.retry``: ``{limit, backoff: {duration, factor, maxDuration}}``.

        Durations are Go duration strings (``5s``, ``3m``) or plain seconds.

        Raises:
            ConfigurationError: An unknown key or a value of the wrong type.
        """
        unknown = set(retry) - {"limit", "backoff"}
        backoff = retry.get("backoff") or {}
        unknown |= {f"backoff.{name}" for name in set(backoff) - {"duration", "factor", "maxDuration"}}
        if unknown:
            raise ConfigurationError(f"retry: unknown keys {sorted(unknown)}")
        limit = retry.get("limit", 0)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise ConfigurationError(f"retry.limit must be an integer, not {limit!r}")
        factor = backoff.get("factor", 2)
        if not isinstance(factor, int | float) or isinstance(factor, bool):
            raise ConfigurationError(f"retry.backoff.factor must be a number, not {factor!r}")
        return cls(
            limit=limit,
            backoff=_seconds(backoff.get("duration", "5s"), "retry.backoff.duration"),
            factor=float(factor),
            max_backoff=_seconds(backoff.get("maxDuration", "3m"), "retry.backoff.maxDuration"),
        )


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    nanoseconds = duration_nanoseconds(str(value)) if isinstance(value, str) else None
    if nanoseconds is None:
        # Argo CD also accepts a bare number of seconds as a string.
        try:
            return float(str(value))
        except ValueError:
            raise ConfigurationError(f"{where} must be a duration such as '5s' or '3m', not {value!r}") from None
    return nanoseconds / 1e9
