"""Helpers the test modules share (``pythonpath = ["tests"]`` puts this module on the path as ``support``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def eventually(check: Callable[[], _T], timeout: float = 30.0, what: str = "the condition", pause: float = 0.05) -> _T:
    """Poll ``check`` until it returns something truthy, and return that; fail naming ``what`` after ``timeout`` s.

    For state that other processes (the API server's controllers, a watch, a worker thread) bring about in their
    own time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(pause)
