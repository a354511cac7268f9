"""A deadline for the work done in the current context: how a pass bounds every wait and request beneath it.

:meth:`Reconciler.reconcile <reconcile.reconciler.Reconciler.reconcile>` runs under ``bounded(pass_timeout)``.
Whatever waits beneath it asks :func:`remaining` how long it may still take: the Kubernetes adapter shortens
its request timeout and stops retrying, a sync operation stops waiting for health and is terminated, each
saying what it was doing when time ran out. Nothing is interrupted mid-write.

The deadline lives in a :class:`contextvars.ContextVar`, so it follows the code that set it and nothing else:
two threads, or two Reconcilers, never share one. Worker threads inherit it only where the code that starts
them copies the context (:func:`carried`), as the sync operation and the Kubernetes adapter do.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

__all__ = ["bounded", "carried", "remaining"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("reconcile_deadline", default=None)


@contextlib.contextmanager
def bounded(seconds: float | None) -> Iterator[None]:
    """Run the body with at most ``seconds`` left (``None``: no bound of its own); an outer bound still holds."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (zero or less once it passed), or ``None`` when there is none."""
    end = _DEADLINE.get()
    return None if end is None else end - time.monotonic()


def carried(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """``function`` bound to a copy of the current context: for work handed to a thread pool."""
    context = contextvars.copy_context()

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return context.copy().run(function, *args, **kwargs)

    return run
