"""Helpers the test modules share (``pythonpath = ["tests"]`` puts this module on the path as ``support``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

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


def read_yaml_leniently(text: str) -> Any:
    """The first YAML document the way Go's YAML readers see it (Argo CD's test data): a repeated key's last value
    wins, and timestamps stay text. reconcile's own loader refuses duplicate keys, as kubectl does."""

    class Lenient(yaml.SafeLoader):
        pass

    Lenient.yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return next(yaml.load_all(text, Lenient))
