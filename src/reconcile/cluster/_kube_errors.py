"""The API server's error responses, read into the library's typed errors; no I/O here.

A failed call answers with a ``Status`` object (``message``, ``reason``, ``details.causes``). :func:`parse_status`
reads it (or the plain text some paths return), :func:`to_error` picks the error class. Messages are the server's
own words (those ``kubectl`` shows); request bodies are never echoed, and values of a Secret being written are
blanked out of the server's words by :func:`redact`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from reconcile.errors import ClusterError, ConflictError, InvalidError, NotFoundError
from reconcile.model import Manifest, ResourceKey, holds_secret_values

_TEXT_LIMIT = 300  # characters of a non-Status body kept in a message
_SHORTEST_REDACTED = 3  # shorter Secret values are too common as substrings to blank out meaningfully
_REDACTED = "<redacted>"
_HTTP_NOT_FOUND = 404
_HTTP_CONFLICT = 409
_HTTP_INVALID = 422
_HTTP_SERVER_ERROR = 500
# The API server (1.20 to 1.36 at least) answers 500 (not 422) when a server-side apply body does not fit the
# schema or cannot be decoded (a Secret's data that is not base64): the request is at fault; retrying cannot help.
_TYPED_PATCH = re.compile(r"failed to create typed patch object[^:]*: (\.[^:\s]+)")
_UNDECODABLE = re.compile(r"failed to (create typed patch object|convert new object)")
_FIELD_MANAGER_CONFLICT = "FieldManagerConflict"


@attrs.frozen(kw_only=True)
class Status:
    """The parts of a ``Status`` response the library uses.

    Attributes:
        message: The human-readable message.
        reason: The machine-readable reason (``NotFound``, ``AlreadyExists``...), ``""`` when none.
        name: ``details.name``: set when the error is about one object (absent when the resource type is not
            served at all).
        causes: ``(reason, field, message)`` of each ``details.causes`` entry.
    """

    message: str
    reason: str = ""
    name: str = ""
    causes: tuple[tuple[str, str, str], ...] = ()

    @property
    def names_object(self) -> bool:
        """Whether the server was talking about an object (rather than an unknown URL)."""
        return bool(self.name)


def parse_status(body: bytes, http_reason: str = "") -> Status:
    """Read a ``Status`` body; a body that is not one (``404 page not found``) becomes its own message."""
    try:
        doc = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("kind") != "Status":
        text = body.decode("utf-8", "replace").strip()[:_TEXT_LIMIT] if body else ""
        return Status(message=text or http_reason or "no response body")
    found = doc.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    causes = tuple(
        (str(c.get("reason") or ""), str(c.get("field") or ""), str(c.get("message") or ""))
        for c in details.get("causes") or ()
        if isinstance(c, dict)
    )
    return Status(
        message=str(doc.get("message") or http_reason or ""),
        reason=str(doc.get("reason") or ""),
        name=str(details.get("name") or ""),
        causes=causes,
    )


def to_error(status: int, parsed: Status, *, key: ResourceKey | None) -> ClusterError:  # noqa: PLR0911 - one per class
    """The typed error for an HTTP ``status`` and its parsed body."""
    message = parsed.message
    if status == _HTTP_NOT_FOUND:
        return NotFoundError(message, key=key)
    if status == _HTTP_CONFLICT:
        manager_fields = tuple(field for reason, field, _ in parsed.causes if reason == _FIELD_MANAGER_CONFLICT)
        if manager_fields:
            # Another manager owns the fields: only force (or giving them up) helps, not trying again.
            return ConflictError(message, key=key, fields=manager_fields, retryable=False)
        if parsed.reason == "AlreadyExists":
            return ConflictError(message, key=key, reason="AlreadyExists", retryable=False)
        return ConflictError(message, key=key, reason=parsed.reason or "Conflict")
    if status == _HTTP_INVALID:
        field = next((field for _, field, _ in parsed.causes if field), "")
        return InvalidError(message, key=key, field=field)
    if status == _HTTP_SERVER_ERROR and _UNDECODABLE.search(message):
        typed = _TYPED_PATCH.search(message)
        return InvalidError(message, key=key, field=typed.group(1) if typed else "")
    return ClusterError(message, key=key, status=status, reason=parsed.reason or _default_reason(status))


def _default_reason(status: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        405: "MethodNotAllowed",
        410: "Gone",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(status, "Unknown")


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The ``Retry-After`` header in seconds, when it is a number."""
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def secret_values(obj: Manifest) -> tuple[str, ...]:
    """The values of a Secret's ``data`` (encoded and decoded) and ``stringData``, to keep out of messages.

    Any object :func:`~reconcile.model.holds_secret_values` says is one (``kind: secret`` too).
    """
    if not holds_secret_values(obj):
        return ()
    values: list[str] = []
    for field in ("data", "stringData"):
        entries = obj.get(field)
        if not isinstance(entries, dict):
            continue
        for value in entries.values():
            text = value if isinstance(value, str) else json.dumps(value)
            values.append(text)
            if field == "data" and isinstance(value, str):
                with contextlib.suppress(binascii.Error, ValueError):
                    values.append(base64.b64decode(value, validate=True).decode("utf-8"))
    return tuple(v for v in values if len(v) >= _SHORTEST_REDACTED)


def redact(message: str, values: Iterable[str]) -> str:
    """``message`` with each of ``values`` replaced by ``<redacted>`` (longest first)."""
    for value in sorted(set(values), key=len, reverse=True):
        message = message.replace(value, _REDACTED)
    return message


def error_from_response(
    status: int, body: bytes, *, key: ResourceKey | None, http_reason: str = "", hidden: Iterable[str] = ()
) -> tuple[ClusterError, Status]:
    """The typed error for a failed response, with ``hidden`` values redacted; also the parsed status."""
    parsed = parse_status(body, http_reason)
    parsed = attrs.evolve(parsed, message=redact(parsed.message, hidden))
    return to_error(status, parsed, key=key), parsed


def json_body(body: bytes) -> Any:
    """A response body as JSON (``{}`` when empty)."""
    return json.loads(body) if body else {}
