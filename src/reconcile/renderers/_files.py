"""File selection shared by the folder renderers: Argo CD's include and exclude globs."""

from __future__ import annotations

import fnmatch
import posixpath
from typing import Any

import attrs

from reconcile.errors import ConfigurationError


def parse_patterns(spec: str | None) -> tuple[str, ...]:
    """Split ``"*.yaml,*.yml"`` or Argo CD's ``"{*.yaml,*.yml}"`` into glob patterns (empty for ``None``).

    Braces expand anywhere in a pattern (``apps/{a,b}/*.yaml``); commas outside braces separate patterns.
    """
    if not spec:
        return ()
    patterns = (expanded for part in _split_commas(spec) for expanded in _expand_braces(part.strip()))
    return tuple(dict.fromkeys(pattern for pattern in patterns if pattern))


def _split_commas(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == "," and not depth:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _expand_braces(pattern: str) -> list[str]:
    opening = pattern.find("{")
    depth = 0
    for index in range(max(opening, 0), len(pattern) if opening >= 0 else 0):
        depth += {"{": 1, "}": -1}.get(pattern[index], 0)
        if depth == 0:
            head, body, tail = pattern[:opening], pattern[opening + 1 : index], pattern[index + 1 :]
            return [
                head + choice + rest
                for alternative in _split_commas(body)
                for choice in _expand_braces(alternative)
                for rest in _expand_braces(tail)
            ]
    return [pattern]  # no braces, or unbalanced ones: taken literally


def matches(patterns: tuple[str, ...], relative: str) -> bool:
    """Whether a pattern matches the path relative to the application folder, or the file's name."""
    name = posixpath.basename(relative)
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def validate_include(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    """An attrs validator: ``include`` must name at least one pattern (an empty one would match nothing)."""
    if not parse_patterns(value):
        raise ConfigurationError(f"include must name at least one pattern, got {value!r}")
