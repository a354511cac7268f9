"""Credentials out of text: the one rule every output channel (repr, log, error, CLI) applies to URLs.

A repository URL may carry a credential in two places: the userinfo (``https://ci:TOKEN@host/``, or a token
alone as the user name, ``https://TOKEN@host/``) and the query string (``?access_token=TOKEN``). Neither is
ever shown. For HTTP-like schemes the whole userinfo goes, because a lone user name there is often a token;
for SSH and git:// the user name (``git@``) is kept, as it is part of the address and not a secret, and only a
password goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["MASK", "is_sensitive_parameter", "query_secrets", "redact_text", "redact_url"]

MASK = "***"
"""What stands where a credential was."""

# Query parameter and ``name=value`` names that hold credentials: access_token, private_token, password,
# client_secret, api_key, X-Amz-Signature, sig (Azure SAS), key, auth, credentials.
_SENSITIVE_NAME = re.compile(
    r"(?i)(token|passw(or)?d|secret|api[_-]?key|signature|credential|authorization|^auth$|^sig$|^key$)"
)
_KEEPS_USER = frozenset({"ssh", "git", "git+ssh", "ssh+git", "sftp"})
# A URL in free text: scheme://authority[/path][?query][#fragment], up to whitespace or a closing quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# ``password=...``, ``token: ...`` in messages and command lines (not inside URLs, handled above).
_ASSIGNMENT = re.compile(r"(?i)\b([\w.-]*(?:token|passw(?:or)?d|secret|api[_-]?key)[\w.-]*\s*[=:]\s*)([^\s&'\"]+)")


def is_sensitive_parameter(name: str) -> bool:
    """Whether a query parameter or setting of this name holds a credential (``access_token``, ``password``)."""
    return bool(_SENSITIVE_NAME.search(name))


def query_secrets(url: str) -> tuple[str, ...]:
    """The values of ``url``'s sensitive query parameters, as written and decoded: to mask in others' messages."""
    query = url.partition("?")[2].partition("#")[0]
    found: set[str] = set()
    for item in query.split("&"):
        _, eq, raw = item.partition("=")
        pairs = parse_qsl(item, keep_blank_values=True)
        if eq and raw and pairs and is_sensitive_parameter(pairs[0][0]):
            found.update((raw, pairs[0][1]))
    return tuple(sorted(found))


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced: userinfo removed (SSH keeps the user), sensitive query values masked.

    Text that is not a ``scheme://`` URL (a path, scp-like ``git@host:repo``) comes back as it was, except that
    a password before ``@`` in scp-like form is removed.
    """
    if "://" not in url:
        head, at, tail = url.partition("@")
        if at and ":" in head and "/" not in head:  # user:password@host:path is not valid scp-like syntax
            return f"{head.partition(':')[0]}@{tail}"
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port, which the fallback below handles
    except ValueError:
        return _redact_authority(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hostport}" if parts.scheme.lower() in _KEEPS_USER and user else hostport
    query = _redact_query(parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, _redact_query(parts.fragment)))


def redact_text(text: str, secrets: Iterable[str | None] = (), *, assignments: bool = True) -> str:
    """``text`` with every URL in it redacted, ``password=...``-style values masked, and each of ``secrets`` too.

    For messages built from other programs' words (libgit2, helm, the API server), where credentials may
    appear anywhere.

    Args:
        text: The text.
        secrets: Values to mask wherever they appear (longest first, so a secret's prefix does not leave a tail).
        assignments: Also mask ``password=...``, ``token: ...`` values. Off for documents (a command's YAML
            output) whose keys mean something else there, where only URLs are redacted.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    if not assignments:
        return text
    return _ASSIGNMENT.sub(lambda match: match.group(1) + (match.group(2) if match.group(2) == MASK else MASK), text)


def _redact_query(query: str) -> str:
    if not query or "=" not in query:
        return query
    pairs = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        decoded = next(iter(parse_qsl(item, keep_blank_values=True)), (name, value))[0]
        pairs.append(f"{name}={MASK}" if eq and value and is_sensitive_parameter(decoded) else item)
    return "&".join(pairs)


def _redact_authority(url: str) -> str:
    """The fallback for URLs ``urlsplit`` refuses: drop everything before ``@`` in the authority."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{_redact_query_in_tail(tail)}"


def _redact_query_in_tail(tail: str) -> str:
    path, q, query = tail.partition("?")
    return f"{path}{q}{_redact_query(query)}" if q else tail
