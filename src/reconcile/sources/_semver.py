"""Semantic versions and version constraints, as Helm (Masterminds/semver) reads a chart's ``version``.

::

    Constraint.parse("^1.2").best(["1.1.0", "1.2.5", "1.9.0", "2.0.0"])  # "1.9.0"

Constraint grammar: comparisons joined by ``,`` or spaces must all hold; groups joined by ``||`` are
alternatives. A comparison is an optional operator (``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~``, ``~>``,
``^``) and a version in which missing or ``x``/``X``/``*`` parts are wildcards; ``1.2 - 1.4.5`` is a range.

======================  =========================================
``*`` or empty          any release
``1.2.3`` / ``=1.2.3``  exactly that version (build metadata ignored)
``1.2`` / ``1.2.x``     ``>=1.2.0 <1.3.0``
``~1.2.3``              ``>=1.2.3 <1.3.0``
``^1.2``                ``>=1.2.0 <2.0.0`` (``^0.2.3``: ``<0.3.0``; ``^0.0.3``: ``<0.0.4``)
``>=1.0.0 <2.0.0``      both
======================  =========================================

Prereleases (``1.3.0-rc.1``) are only chosen when asked for: a prerelease version can match a group only when
one of the group's comparisons names a prerelease itself (``1.3.0-rc.1``, ``>=1.3.0-0``, or Helm's
``--devel`` equivalent ``>=0.0.0-0``). Upper bounds that a wildcard, ``~`` or ``^`` implies exclude the next
version's prereleases too, and so does ``<2.0.0``: ``>=1.2.0-0 <2.0.0`` never picks ``2.0.0-rc.1``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs

__all__ = ["Constraint", "Version"]

_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = re.compile(
    rf"v?(?P<major>0|[1-9][0-9]*)(?:\.(?P<minor>0|[1-9][0-9]*))?(?:\.(?P<patch>0|[1-9][0-9]*))?"
    rf"(?:-(?P<pre>{_IDENT}))?(?:\+(?P<build>{_IDENT}))?"
)
_WILD = r"(?:0|[1-9][0-9]*|[xX*])"
_PARTIAL = rf"v?{_WILD}(?:\.{_WILD})?(?:\.{_WILD})?(?:-{_IDENT})?(?:\+{_IDENT})?"
_PARTIAL_PARTS = re.compile(
    rf"v?(?P<major>{_WILD})(?:\.(?P<minor>{_WILD}))?(?:\.(?P<patch>{_WILD}))?"
    rf"(?:-(?P<pre>{_IDENT}))?(?:\+{_IDENT})?"
)
_COMPARISON = re.compile(rf"\s*(?P<op>!=|>=|=>|<=|=<|~>|[=<>~^])?\s*(?P<version>{_PARTIAL})\s*")
_HYPHEN = re.compile(rf"\s*(?P<low>{_PARTIAL})\s+-\s+(?P<high>{_PARTIAL})\s*")
_OPERATOR_ALIASES = {"=>": ">=", "=<": "<=", "~>": "~", "": "="}


def _identifier(part: str) -> int | str:
    return int(part) if part.isdigit() else part


@attrs.frozen(order=False)
class Version:
    """A semantic version; compares by SemVer 2.0 precedence (build metadata ignored).

    Attributes:
        major: The major number.
        minor: The minor number.
        patch: The patch number.
        prerelease: The prerelease identifiers (``("rc", 1)`` for ``-rc.1``); empty for a release.
        build: The build metadata after ``+``, kept for display only.
    """

    major: int
    minor: int = 0
    patch: int = 0
    prerelease: tuple[int | str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Read ``1.2.3``, ``v1.2.3-rc.1+build`` or a shortened ``1.2`` (``1.2.0``), as Helm does.

        Raises:
            ValueError: ``text`` is not a version.
        """
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a semantic version")
        pre = match["pre"]
        return cls(
            int(match["major"]),
            int(match["minor"] or 0),
            int(match["patch"] or 0),
            tuple(_identifier(p) for p in pre.split(".")) if pre else (),
            match["build"] or "",
        )

    @property
    def is_prerelease(self) -> bool:
        """Whether this is a prerelease (``1.0.0-beta``)."""
        return bool(self.prerelease)

    def _key(self) -> tuple[int, int, int, tuple[object, ...]]:
        if not self.prerelease:
            return (self.major, self.minor, self.patch, (1,))
        # Numeric identifiers sort before alphanumeric ones; a shorter list of equal identifiers sorts first.
        ids = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, (0, ids))

    def same_as(self, other: Version) -> bool:
        """Equal precedence: the same version apart from build metadata."""
        return self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        return f"{text}+{self.build}" if self.build else text


@attrs.frozen
class _Range:
    """Versions between ``low`` and ``high`` (``None``: unbounded), or outside them when ``negate``."""

    low: Version | None = None
    low_inclusive: bool = True
    high: Version | None = None
    high_inclusive: bool = False
    negate: bool = False
    names_prerelease: bool = False

    def allows(self, version: Version) -> bool:
        inside = True
        if self.low is not None:
            inside = version >= self.low if self.low_inclusive else version > self.low
        if inside and self.high is not None:
            inside = version <= self.high if self.high_inclusive else version < self.high
        return inside != self.negate


_NOTHING = _Range(low=Version(0), high=Version(0), low_inclusive=False)


@attrs.frozen
class _Partial:
    """A version in a constraint: ``None`` parts are wildcards."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: tuple[int | str, ...]

    @classmethod
    def parse(cls, text: str) -> _Partial:
        match = _PARTIAL_PARTS.fullmatch(text)
        if match is None:  # pragma: no cover - the callers' patterns only pass what this one accepts
            raise ValueError(f"{text!r} is not a version")
        parts: list[int | None] = []
        for name in ("major", "minor", "patch"):
            value = match[name]
            wild = value is None or value in ("x", "X", "*") or (parts and parts[-1] is None)
            parts.append(None if wild else int(value))
        pre = tuple(_identifier(p) for p in match["pre"].split(".")) if match["pre"] else ()
        if pre and parts[2] is None:
            raise ValueError(f"{text!r}: a prerelease needs a full major.minor.patch version")
        return cls(parts[0], parts[1], parts[2], pre)

    @property
    def exact(self) -> bool:
        return self.patch is not None

    def lower(self) -> Version:
        """The lowest version this partial covers."""
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.prerelease)

    def upper(self) -> Version:
        """The first version above everything a wildcard partial covers (its lowest prerelease)."""
        if self.minor is None:
            return Version((self.major or 0) + 1, 0, 0, (0,))
        return Version(self.major or 0, self.minor + 1, 0, (0,))


def _comparison(op: str, text: str) -> _Range:
    """One comparison as a range of versions."""
    partial = _Partial.parse(text)
    op = _OPERATOR_ALIASES.get(op, op)
    if partial.major is None:  # "*", "x": every version, or none at all for a strict comparison
        return _Range() if op in ("=", ">=", "<=", "~", "^") else _NOTHING
    return _COMPARISONS[op](partial, partial.lower(), bool(partial.prerelease))


def _equal(partial: _Partial, low: Version, named: bool) -> _Range:
    if partial.exact:
        return _Range(low=low, high=low, high_inclusive=True, names_prerelease=named)
    return _Range(low=low, high=partial.upper())


def _not_equal(partial: _Partial, low: Version, named: bool) -> _Range:
    return attrs.evolve(_equal(partial, low, named), negate=True)


def _greater(partial: _Partial, low: Version, named: bool) -> _Range:
    if partial.exact:
        return _Range(low=low, low_inclusive=False, names_prerelease=named)
    return _Range(low=partial.upper())  # ">1.2": above every 1.2.x


def _at_least(partial: _Partial, low: Version, named: bool) -> _Range:
    return _Range(low=low, names_prerelease=named)


def _less(partial: _Partial, low: Version, named: bool) -> _Range:
    # "<2.0.0" means "before 2": its prereleases are excluded as well (they sort below 2.0.0).
    return _Range(high=low if named else attrs.evolve(low, prerelease=(0,)), names_prerelease=named)


def _at_most(partial: _Partial, low: Version, named: bool) -> _Range:
    if partial.exact:
        return _Range(high=low, high_inclusive=True, names_prerelease=named)
    return _Range(high=partial.upper())  # "<=1.2": up to every 1.2.x


def _tilde(partial: _Partial, low: Version, named: bool) -> _Range:
    if partial.minor is None:
        return _Range(low=low, high=Version(low.major + 1, 0, 0, (0,)), names_prerelease=named)
    return _Range(low=low, high=Version(low.major, low.minor + 1, 0, (0,)), names_prerelease=named)


def _caret(partial: _Partial, low: Version, named: bool) -> _Range:
    # The left-most non-zero part may not change; what was not written counts as a wildcard.
    if low.major > 0 or partial.minor is None:
        high = Version(low.major + 1, 0, 0, (0,))
    elif low.minor > 0 or partial.patch is None:
        high = Version(0, low.minor + 1, 0, (0,))
    else:
        high = Version(0, 0, low.patch + 1, (0,))
    return _Range(low=low, high=high, names_prerelease=named)


_COMPARISONS: dict[str, Callable[[_Partial, Version, bool], _Range]] = {
    "=": _equal,
    "!=": _not_equal,
    ">": _greater,
    ">=": _at_least,
    "<": _less,
    "<=": _at_most,
    "~": _tilde,
    "^": _caret,
}


def _group(text: str) -> tuple[_Range, ...]:
    """Comparisons that must all hold (``>=1.0 <2``, ``>=1.0, <2``, ``1.0 - 2``)."""
    hyphen = _HYPHEN.fullmatch(text)
    if hyphen is not None:
        return (_comparison(">=", hyphen["low"]), _comparison("<=", hyphen["high"]))
    text = text.replace(",", " ").strip()
    if not text:
        return (_Range(),)
    ranges: list[_Range] = []
    position = 0
    while position < len(text):
        match = _COMPARISON.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read {text[position:]!r}")
        end = match.end()
        if end < len(text) and not text[end - 1].isspace():
            raise ValueError(f"cannot read {text[position:]!r}")  # "1.2.3foo": no separator after a version
        ranges.append(_comparison(match["op"] or "", match["version"]))
        position = end
    return tuple(ranges)


@attrs.frozen
class Constraint:
    """A version constraint such as ``^1.2``, ``>=1.0.0 <2.0.0`` or ``1.2.x || 2.x``.

    Attributes:
        text: The constraint as written.
    """

    text: str
    _groups: tuple[tuple[_Range, ...], ...] = attrs.field(repr=False, eq=False)

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read a constraint (see the module documentation for the grammar).

        Raises:
            ValueError: ``text`` is not a constraint; the message names the part that is not.
        """
        try:
            groups = tuple(_group(part) for part in text.split("||"))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a version constraint: {exc}") from None
        return cls(text, groups)

    def allows(self, version: Version | str) -> bool:
        """Whether ``version`` satisfies the constraint (an unreadable version string never does)."""
        if isinstance(version, str):
            try:
                version = Version.parse(version)
            except ValueError:
                return False
        for group in self._groups:
            if version.is_prerelease and not any(r.names_prerelease for r in group):
                continue  # prereleases only when the group asks for one
            if all(r.allows(version) for r in group):
                return True
        return False

    def best(self, versions: Iterable[str]) -> str | None:
        """The highest of ``versions`` the constraint allows (the first one written, among equals).

        Strings that are not versions are skipped; ``None`` when nothing matches.
        """
        chosen: tuple[Version, str] | None = None
        for text in versions:
            try:
                version = Version.parse(text)
            except ValueError:
                continue
            if self.allows(version) and (chosen is None or version > chosen[0]):
                chosen = (version, text)
        return None if chosen is None else chosen[1]

    def __str__(self) -> str:
        return self.text
