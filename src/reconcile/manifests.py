"""Load and dump Kubernetes manifests: multi-document YAML and JSON, with ``file:line`` in every error.

This is the only module that imports ruamel.yaml. ruamel builds the node tree; values are resolved here the
way kubectl resolves them (sigs.k8s.io/yaml on go-yaml v2, then a JSON round trip), because ruamel's own
YAML 1.1 rules differ in places that change what gets applied:

==============  =========================  ==============================
plain scalar    kubectl and this module    ruamel ``version=(1, 1)``
==============  =========================  ==============================
``0644``        ``420``                    ``420``
``yes``/``on``  ``True``                   ``True``
``0o644``       ``420``                    ``"0o644"``
``08``          ``8``                      ``"08"``
``1e3``         ``1000``                   ``1000.0`` and a warning
``1:20``        ``"1:20"``                 ``80`` (base 60)
``2001-12-14``  ``"2001-12-14"``           ``datetime.date``
==============  =========================  ==============================

Whole floats become ints (``1.0`` is ``1``) as they do once kubectl turns YAML into JSON; ``.inf`` and
``.nan`` are refused because JSON cannot carry them. Mapping keys become strings the way kubectl spells them
(``on:`` is ``"true"``). Duplicate keys are an error; merge keys (``<<``) work.

Safety: a file over ``max_bytes`` is refused before parsing, and aliases are counted before anything is
expanded, so a "billion laughs" document is refused in milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import io
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.representer import SafeRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from reconcile.errors import DuplicateResourceError, ManifestError
from reconcile.model import Manifest, Resource, ResourceKey

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "check_unique",
    "dump_all_yaml",
    "dump_yaml",
    "load_manifests",
    "load_value",
    "validate_manifest",
]

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "dump_all_yaml",
    "dump_yaml",
    "load_manifests",
    "validate_manifest",
]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Default limit on the size of one manifest file."""

MAX_NODES = 100_000
"""Default limit on the nodes aliases may add to one YAML document once expanded."""

MAX_DEPTH = 200
"""The deepest nesting a YAML document may have (kept well inside Python's recursion limit)."""

_W = TypeVar("_W")

# ----------------------------------------------------------------------------------------------------
# Scalar resolution, as go-yaml v2 does it (resolve.go), followed by the YAML -> JSON -> object round trip.

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null"))
_BINARY, _TIMESTAMP, _MERGE = (f"{_YAML}{name}" for name in ("binary", "timestamp", "merge"))
# Tag given to untagged plain scalars while composing, so that `!!str 0644` and `0644` stay apart.
_PLAIN = "tag:reconcile.invalid,2024:plain"

_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), (_BOOL, True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), (_BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (_NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (_FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (_FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (_FLOAT, -math.inf)),
}
_NUMBER_START = frozenset("+-0123456789")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_DIGITS = {2: frozenset("01"), 8: frozenset("01234567"), 10: frozenset("0123456789")}
_DIGITS[16] = frozenset("0123456789abcdefABCDEF")
# go-yaml quotes these on output although it reads them as strings; so do we, for other parsers' sake.
_QUOTE_ANYWAY = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?")
# Characters that only survive a round trip as escapes in a double-quoted string: anything outside YAML's
# printable set, and the ones YAML 1.1 reads as line breaks or byte-order marks.
_NEEDS_ESCAPES = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\r\x85\u2028\u2029\ufeff]")
_INT64 = range(-(2**63), 2**63)
_INT64_OR_UINT64 = range(-(2**63), 2**64)
# Go's %g prints the shortest form in fixed notation only for these exponents, in %e notation otherwise.
_G_FIXED_EXPONENTS = range(-4, 6)


def _go_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, ...)`` without the size limit (go-yaml falls back to big ints)."""
    sign, body = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    base, digits = 10, body
    if len(body) > 1 and body[0] == "0":
        base, digits = {"x": (16, body[2:]), "o": (8, body[2:]), "b": (2, body[2:])}.get(body[1].lower(), (8, body[1:]))
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    value = int(digits, base)
    return -value if sign == "-" else value


def _resolve_plain(text: str) -> tuple[str, Any]:
    """The tag and value go-yaml v2 gives an untagged plain scalar."""
    if text in _WORDS:
        return _WORDS[text]
    if text[:1] == ".":
        if _DOT_FLOAT.fullmatch(text):
            return _FLOAT, float(text)
    elif text[:1] in _NUMBER_START:
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None and number in _INT64_OR_UINT64:
            return _INT, number
        # Go reports a range error for an infinite result and keeps the string.
        if _GO_FLOAT.fullmatch(plain) and math.isfinite(value := float(plain)):
            return _FLOAT, value
        if number is not None:  # go-yaml's last resort: a big integer
            return _INT, number
    return _STR, text


def _go_float_key(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)``: how sigs.k8s.io/yaml spells a float mapping key."""
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        single = math.copysign(math.inf, value)
    if not math.isfinite(single):
        return ".nan" if math.isnan(single) else (".inf" if single > 0 else "-.inf")
    for precision in range(9):  # the shortest decimal that reads back as the same float32
        text = f"{single:.{precision}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, _, exponent_text = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits, exponent = mantissa.lstrip("-").replace(".", ""), int(exponent_text)
    if not _G_FIXED_EXPONENTS.start <= exponent < _G_FIXED_EXPONENTS.stop:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _LoadResolver(VersionedResolver):
    """Leaves plain scalars to :func:`_resolve_plain` and scans as YAML 1.1, like libyaml."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_PLAIN)
        return super().resolve(kind, value, implicit)

    @property
    def processing_version(self) -> Any:
        return (1, 1)


class _Builder:
    """Turns one composed document into plain values, refusing alias bombs before expanding anything."""

    def __init__(self, file: str, max_nodes: int) -> None:
        self.file = file
        self.max_nodes = max_nodes

    def error(self, message: str, node: Node | None) -> ManifestError:
        return ManifestError(message, file=self.file, line=_line(node) if node is not None else None)

    def check_expansion(self, root: Node) -> None:
        """Count the nodes aliases add once expanded, memoized per shared node, and refuse too many."""
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()
        added = 0

        def size(node: Node, parent: Node) -> int:
            nonlocal added
            key = id(node)
            if key in sizes:  # a second reference: an alias, which repeats the whole subtree
                added += sizes[key]
                if added > self.max_nodes:
                    message = f"aliases expand this document by more than {self.max_nodes} nodes"
                    raise self.error(f"{message}; refusing to expand it", parent)
                return sizes[key]
            if key in open_nodes:
                raise self.error("an alias refers to a node that contains it", parent)
            open_nodes.add(key)
            total = 1
            if isinstance(node, SequenceNode):
                for child in node.value:
                    total += size(child, node)
            elif isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    total += size(key_node, key_node) + size(value_node, key_node)
            open_nodes.discard(key)
            sizes[key] = total
            return total

        size(root, root)

    def build(self, node: Node) -> Any:
        if isinstance(node, MappingNode):
            return self.mapping(node)
        if isinstance(node, SequenceNode):
            return [self.build(child) for child in node.value]
        return self.json_value(self.scalar(node), node)

    def scalar(self, node: Node) -> Any:
        tag, text = _tag_text(node), str(node.value)
        if tag == _PLAIN:
            return _resolve_plain(text)[1]
        if tag in (_STR, _TIMESTAMP):  # go-yaml hands timestamps to interface{} as their text
            return text
        if tag == _BINARY:
            try:
                return base64.b64decode("".join(text.split()), validate=True).decode("utf-8", "replace")
            except binascii.Error:
                raise self.error("!!binary value is not valid base64", node) from None
        if tag in (_INT, _FLOAT, _BOOL, _NULL):
            resolved, value = _resolve_plain(text)
            if tag == _FLOAT and resolved == _INT:
                return float(value)
            if resolved != tag:
                raise self.error(f"cannot decode this {_short(resolved)} value as {_short(tag)}", node)
            return value
        return text  # other tags (`!foo`, `!!set`) are ignored, as go-yaml does for untyped targets

    def json_value(self, value: Any, node: Node) -> Any:
        """The value after kubectl's JSON round trip: JSON numbers outside int64 come back as floats."""
        if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
            try:
                value = float(value)
            except OverflowError:
                value = math.inf
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.error(f"{node.value} cannot be represented in JSON", node)
            if value.is_integer() and int(value) in _INT64:
                return int(value)
        return value

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error("a mapping key must be a scalar, not a mapping or a list", node)
        value = self.scalar(node)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return _go_float_key(value)
        if isinstance(value, str) or (isinstance(value, int) and value in _INT64):
            return str(value)
        what = "null" if value is None else "an integer beyond 64 bits"
        raise self.error(f"a mapping key must not be {what}", node)

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        entries: list[tuple[str, Any, bool]] = []
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if _is_merge_key(key_node):
                entries.extend((key, value, False) for key, value in self.merged(value_node).items())
                continue
            key = self.key(key_node)
            if key in first_lines:
                raise self.error(f"duplicate key {key!r} (first defined on line {first_lines[key]})", key_node)
            first_lines[key] = _line(key_node)
            entries.append((key, self.build(value_node), True))
        result: dict[str, Any] = {}
        for key, value, explicit in entries:
            # Keys written in the mapping beat merged ones; among merged sources the first one wins.
            if explicit or (key not in first_lines and key not in result):
                result[key] = value
        return result

    def merged(self, node: Node) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                raise self.error("a merge key (<<) needs a mapping or a list of mappings", source)
            for key, value in self.mapping(source).items():
                result.setdefault(key, value)
        return result


def _tag_text(node: Node) -> str:
    """The node's tag as text: ruamel's ``str(tag)`` percent-decodes every time, a third of a large render's parse."""
    tag = getattr(node, "ctag", None)  # ruamel's Tag object; ``node.tag`` is its decoded text, made per call
    suffix = getattr(tag, "suffix", None)
    if getattr(tag, "handle", "") is None and isinstance(suffix, str) and "%" not in suffix:
        return suffix
    return str(node.tag)


def _is_merge_key(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.value == "<<" and str(node.tag) in (_PLAIN, _MERGE)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML)


def _describe_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


# ----------------------------------------------------------------------------------------------------
# Loading.


def load_manifests(
    data: str | bytes,
    *,
    file: str,
    max_bytes: int = MAX_FILE_BYTES,
    max_nodes: int = MAX_NODES,
) -> list[tuple[Manifest, int]]:
    """Parse a YAML stream (or JSON, when ``file`` ends with ``.json``) into objects with their lines.

    Empty documents are skipped; ``List`` objects (``kind: List`` and other ``*List`` kinds with an ``items``
    list) are replaced by their items, each with its own line. Objects are fresh plain dicts and lists.

    Args:
        data: The file's content; bytes must be UTF-8 (a byte-order mark is allowed).
        file: The file's name for messages; also picks JSON when it ends with ``.json``.
        max_bytes: Files larger than this are refused before parsing.
        max_nodes: How many nodes aliases may add to one YAML document once expanded.

    Returns:
        Each object with the 1-based line where it starts, in file order.

    Raises:
        ManifestError: The file is too large, not UTF-8, not valid YAML or JSON, has duplicate keys, an alias
            bomb, or a document that is not a mapping; the error names the file and line.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ManifestError(f"file is {size} bytes, over the limit of {max_bytes}", file=file)
    text = _decode(data, file)
    _check_flow_depth(text, file)
    if file.lower().endswith(".json"):
        return _load_json(text, file)
    return _load_yaml(text, file, max_nodes)


_SCAN_DEPTH = 5 * MAX_DEPTH
"""Flow nesting past this is refused before any parser runs: libyaml's C composer recurses once per level and
overflows the process's stack at some tens of thousands (it kills the host), and so would Python's JSON decoder
raise RecursionError. Between MAX_DEPTH and this, the parsers' own depth check answers."""


_SCAN_STOPS = re.compile(r"""[\[\]{}"'#\n]""")
# A quote opens a quoted scalar (YAML) or a string (JSON) only where a value or key may start.
_QUOTE_AFTER = frozenset(":-[{,?\n")


def _check_flow_depth(text: str, file: str) -> None:
    """Refuse text whose ``[``/``{`` nesting goes past :data:`_SCAN_DEPTH`, in one pass and without recursion.

    Quoted strings and comments are skipped as the parsers read them: a quote opens one only where a scalar may
    start, so an apostrophe inside plain text hides nothing. A bracket inside a plain scalar may count, which only
    matters for text with hundreds of them unclosed, far past any manifest's nesting. Text with fewer brackets
    than the limit cannot break it and is not scanned.
    """
    if text.count("[") + text.count("{") <= _SCAN_DEPTH:
        return
    depth, line, index = 0, 1, 0
    while (found := _SCAN_STOPS.search(text, index)) is not None:
        char, index = found.group(), found.end()
        if char == "\n":
            line += 1
        elif char == "#" and (found.start() == 0 or text[found.start() - 1] in " \t\n"):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif char in "\"'" and _opens_scalar(text, found.start()):
            index, line = _after_quote(text, index, char, line)
        elif char in "[{":
            depth += 1
            if depth > _SCAN_DEPTH:
                raise ManifestError(f"nested deeper than {MAX_DEPTH} levels", file=file, line=line)
        elif char in "]}":
            depth = max(depth - 1, 0)


def _opens_scalar(text: str, position: int) -> bool:
    """Whether a quote at ``position`` stands where a scalar may start (after ``:``, ``-``, ``[``... or a newline)."""
    back = position - 1
    while back >= 0 and text[back] in " \t":
        back -= 1
    return back < 0 or text[back] in _QUOTE_AFTER


def _after_quote(text: str, index: int, quote: str, line: int) -> tuple[int, int]:
    """Where a quoted string opened just before ``index`` ends, and the line there (unterminated: the end)."""
    position = index
    while (end := text.find(quote, position)) >= 0:
        if quote == "'" and text.startswith("''", end):
            position = end + 2  # YAML's escaped single quote
            continue
        backslashes = 0
        while quote == '"' and end - backslashes - 1 >= index and text[end - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return end + 1, line + text.count("\n", index, end)
        position = end + 1
    return len(text), line + text.count("\n", index)


def _decode(data: str | bytes, file: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}", file=file, line=line
        ) from None


class _UsePureParserError(Exception):
    """The C parser stopped: the pure parser decides, with go-yaml's leniency and its precise messages."""


def _load_yaml(text: str, file: str, max_nodes: int) -> list[tuple[Manifest, int]]:
    # libyaml composes about five times faster; on anything it rejects (or nests too deep) the pure parser,
    # which matches go-yaml on redefined anchors and enforces the depth limit, has the last word.
    try:
        return _compose(text, file, max_nodes, pure=False)
    except _UsePureParserError:
        return _compose(text, file, max_nodes, pure=True)


def _documents(text: str, file: str, max_nodes: int, *, pure: bool) -> Iterator[tuple[Any, Node, _Builder]]:
    """Each document's value, root node and builder, with the expansion and depth limits checked."""
    yaml = YAML(typ="safe", pure=pure)
    yaml.Resolver = _LoadResolver
    yaml.max_depth = MAX_DEPTH
    yaml.composer.warn_double_anchors = False  # YAML allows redefining an anchor; go-yaml does too
    for root in yaml.compose_all(text):
        if not pure and _depth(root) > MAX_DEPTH:
            raise _UsePureParserError
        builder = _Builder(file, max_nodes)
        builder.check_expansion(root)
        yield builder.build(root), root, builder


def load_value(data: str | bytes, *, file: str, max_nodes: int = MAX_NODES) -> Any:
    """One YAML or JSON document of any shape (a configuration value, not a manifest), ``None`` when empty.

    The manifest loader's rules and limits apply (go-yaml scalars, no alias bombs, size and depth limits).

    Raises:
        ManifestError: The text is not valid YAML, holds more than one document, or breaks a limit; names ``file``.
    """
    text = _decode(data, file)
    _check_flow_depth(text, file)

    def values(*, pure: bool) -> list[Any]:
        try:
            return [value for value, _, _ in _documents(text, file, max_nodes, pure=pure)]
        except (YAMLError, RecursionError) as exc:
            if not pure:
                raise _UsePureParserError from None
            raise _manifest_error(exc, text, file) from None

    try:
        found = values(pure=False)
    except _UsePureParserError:
        found = values(pure=True)
    if len(found) > 1:
        raise ManifestError(f"expected one document, found {len(found)}", file=file)
    return found[0] if found else None


def _compose(text: str, file: str, max_nodes: int, *, pure: bool) -> list[tuple[Manifest, int]]:
    out: list[tuple[Manifest, int]] = []
    try:
        for value, root, builder in _documents(text, file, max_nodes, pure=pure):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise builder.error(f"a document must be a mapping, not {_describe_type(value)}", root)
            _flatten(value, root, items_of=_yaml_items, line_of=_line, file=file, out=out)
    except (YAMLError, RecursionError) as exc:
        if not pure:  # whatever libyaml rejects, the pure parser judges
            raise _UsePureParserError from None
        raise _manifest_error(exc, text, file) from None
    return out


def _manifest_error(exc: YAMLError | RecursionError, text: str, file: str) -> ManifestError:
    """A parse error as a ManifestError with the file, the line and the parser's words."""
    if isinstance(exc, MaxDepthExceededError):
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        return ManifestError(f"nested deeper than {MAX_DEPTH} levels", file=file, line=line)
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(part for part in (exc.context, exc.problem) if part)
        return ManifestError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark is not None else None)
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return ManifestError(f"invalid YAML: {exc.reason} (character #x{exc.character:04x})", file=file, line=line)
    if isinstance(exc, RecursionError):
        return ManifestError("nested too deeply", file=file)
    return ManifestError(f"invalid YAML: {exc}", file=file)  # a safety net: ruamel raises the kinds above


def _depth(root: Node) -> int:
    """How deeply a composed document nests, without recursion (libyaml composes any depth)."""
    deepest, stack, seen = 0, [(root, 1)], set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(node, SequenceNode):
            stack += [(child, depth + 1) for child in node.value]
        elif isinstance(node, MappingNode):
            stack += [(child, depth + 1) for pair in node.value for child in pair]
    return deepest


def _yaml_items(node: Node) -> list[Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "items" and isinstance(value_node, SequenceNode):
                return list(value_node.value)
    return None


def _flatten(
    obj: Manifest,
    where: _W,
    *,
    items_of: Callable[[_W], list[_W] | None],
    line_of: Callable[[_W], int],
    file: str,
    out: list[tuple[Manifest, int]],
) -> None:
    """Append ``obj`` to ``out``, or its items when it is a List; ``where`` locates things in the source."""
    items = _list_items(obj, file, line_of(where))
    if items is None:
        out.append((obj, line_of(where)))
        return
    places = items_of(where)
    if places is None or len(places) != len(items):
        places = [where] * len(items)  # items came through a merge key: the List's line is the best we know
    for index, (item, place) in enumerate(zip(items, places, strict=True)):
        if not isinstance(item, dict):
            raise ManifestError(
                f"item {index} of the {obj['kind']} is {_describe_type(item)}, not a mapping",
                file=file,
                line=line_of(place),
            )
        _flatten(item, place, items_of=items_of, line_of=line_of, file=file, out=out)


def _list_items(obj: Manifest, file: str, line: int) -> list[Any] | None:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List"):
        return None
    items = obj.get("items")
    if isinstance(items, list):
        return items
    if kind != "List":
        return None
    if items is None:
        return []
    raise ManifestError(f"the items of a List must be a list, not {_describe_type(items)}", file=file, line=line)


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, index: int) -> int:
    match = _JSON_SPACE.match(text, index)
    return match.end() if match else index


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]|-?Infinity|NaN')


class _JSONProblemError(ValueError):
    """Raised from decoder hooks; the position is found afterwards by :func:`_json_problem`."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JSONProblemError
        result[key] = value
    return result


def _json_constant(name: str) -> Any:
    raise _JSONProblemError


def _load_json(text: str, file: str) -> list[tuple[Manifest, int]]:
    decoder = json.JSONDecoder(object_pairs_hook=_json_pairs, parse_constant=_json_constant)
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except RecursionError:
        raise ManifestError(f"nested deeper than {MAX_DEPTH} levels", file=file) from None
    except _JSONProblemError:
        message, line = _json_problem(text)
        raise ManifestError(message, file=file, line=line) from None
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    def items_of(offset: int) -> list[int] | None:
        members = _json_members(text, offset, decoder)
        start = members.get("items")
        return _json_elements(text, start, decoder) if start is not None and text[start] == "[" else None

    start = _skip_space(text, 0)
    if isinstance(value, dict):
        documents: list[tuple[Any, int]] = [(value, start)]
    elif isinstance(value, list):
        documents = list(zip(value, _json_elements(text, start, decoder), strict=True))
    else:
        raise ManifestError(
            f"a JSON file must hold an object or a list of objects, not {_describe_type(value)}",
            file=file,
            line=line_of(start),
        )
    out: list[tuple[Manifest, int]] = []
    for obj, offset in documents:
        if not isinstance(obj, dict):
            raise ManifestError(
                f"a JSON document must be an object, not {_describe_type(obj)}",
                file=file,
                line=line_of(offset),
            )
        _flatten(obj, offset, items_of=items_of, line_of=line_of, file=file, out=out)
    return out


def _json_elements(text: str, start: int, decoder: json.JSONDecoder) -> list[int]:
    """Offsets of the elements of the (already validated) array starting at ``start``."""
    offsets: list[int] = []
    index = _skip_space(text, start + 1)
    while text[index] != "]":
        offsets.append(index)
        _, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index)
        if text[index] == ",":
            index = _skip_space(text, index + 1)
    return offsets


def _json_members(text: str, start: int, decoder: json.JSONDecoder) -> dict[str, int]:
    """Offsets of the member values of the (already validated) object starting at ``start``."""
    offsets: dict[str, int] = {}
    index = _skip_space(text, start + 1)
    while text[index] != "}":
        key, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index) + 1  # past the colon
        index = _skip_space(text, index)
        offsets[key] = index
        _, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index)
        if text[index] == ",":
            index = _skip_space(text, index + 1)
    return offsets


def _json_problem(text: str) -> tuple[str, int | None]:
    """Find the first duplicate key or NaN/Infinity in otherwise well-formed JSON (the error path only)."""
    stack: list[set[str] | None] = []
    for match in _JSON_TOKEN.finditer(text):
        lexeme = match.group()
        line = text.count("\n", 0, match.start()) + 1
        if lexeme in ("{", "["):
            stack.append(set() if lexeme == "{" else None)
        elif lexeme in ("}", "]"):
            stack.pop()
        elif not lexeme.startswith('"'):
            return f"{lexeme} is not valid JSON", line
        else:
            keys = stack[-1] if stack else None
            after = _skip_space(text, match.end())
            if keys is not None and text.startswith(":", after):
                key = json.loads(lexeme)
                if key in keys:
                    return f"duplicate key {key!r}", line
                keys.add(key)
    return "invalid JSON", None  # only if the decoder and this scan disagree


# ----------------------------------------------------------------------------------------------------
# Validation.


def validate_manifest(obj: Manifest, *, file: str | None, line: int | None) -> None:
    """Check that ``obj`` can be identified: string ``apiVersion``, ``kind`` and ``metadata.name``.

    An object with ``metadata.generateName`` and no name (a hook) passes: the sync names it.

    Also checks that ``metadata.namespace`` is a string when set, and that labels and annotations map strings
    to strings (the API server refuses anything else, and sync options are read from annotations).

    Raises:
        ManifestError: Naming the missing or malformed field, the file and line, and the kind and name when
            they are known.
    """
    if not isinstance(obj, dict):
        raise ManifestError(f"an object must be a mapping, not {_describe_type(obj)}", file=file, line=line)
    kind, metadata = obj.get("kind"), obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    known_kind = kind if isinstance(kind, str) and kind else ""
    known_name = name if isinstance(name, str) and name else ""
    what = f"{known_kind or 'object'} {known_name!r}" if known_name else known_kind or "object"
    key = ResourceKey.from_manifest(obj) if known_kind and known_name else None
    problem = _identity_problem(obj)
    if problem:
        raise ManifestError(f"{what} {problem}", file=file, line=line, key=key)


def _identity_problem(obj: Manifest) -> str | None:
    for field in ("apiVersion", "kind"):
        if problem := _string_problem(field, obj.get(field)):
            return problem
    metadata = obj.get("metadata")
    if metadata is None:
        return "has no metadata"
    if not isinstance(metadata, dict):
        return f"has metadata that is {_describe_type(metadata)}, not a mapping"
    if metadata.get("name") is None and metadata.get("generateName") is not None:
        # A hook may carry only generateName: the sync names it (see reconcile.argocd.hooks.hook_name).
        return _string_problem("metadata.generateName", metadata.get("generateName")) or _metadata_problem(metadata)
    return _string_problem("metadata.name", metadata.get("name")) or _metadata_problem(metadata)


def _string_problem(field: str, value: Any) -> str | None:
    if value is None or value == "":
        return f"has no {field}"
    if not isinstance(value, str):
        return f"has {field} that is {_describe_type(value)}, not a string"
    return None


def _metadata_problem(metadata: dict[str, Any]) -> str | None:
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return f"has metadata.namespace that is {_describe_type(namespace)}, not a string"
    for field in ("labels", "annotations"):
        values = metadata.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            return f"has metadata.{field} that is {_describe_type(values)}, not a mapping"
        for key, value in values.items():
            if not isinstance(value, str):
                # The value stays out of the message: it might be a secret pasted in the wrong place.
                return f"has metadata.{field}[{key!r}] that is {_describe_type(value)}, not a string"
    return None


# ----------------------------------------------------------------------------------------------------
# Dumping.


class _DumpResolver(VersionedResolver):
    """Tells the emitter which strings would read back as something else, so that it quotes them."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            tag = _resolve_plain(value)[0]
            if tag == _STR and (value == "<<" or _QUOTE_ANYWAY.fullmatch(value)):
                tag = _TIMESTAMP  # anything but str makes the emitter quote it
            return Tag(suffix=tag)
        return super().resolve(kind, value, implicit)

    @property
    def processing_version(self) -> Any:
        return (1, 1)


class _Representer(SafeRepresenter):
    """Block style, insertion order, ``|`` for multi-line strings, never anchors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sort_base_mapping_type_on_output = False

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_str(self, data: Any) -> Any:
        style: str | None = "|" if "\n" in data else None
        if _NEEDS_ESCAPES.search(data):
            style = '"'  # the emitter would write some of these raw, and YAML 1.1 reads them as line breaks
        return self.represent_scalar(_STR, data, style=style)


_Representer.add_representer(str, _Representer.represent_str)


def _dumper() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _DumpResolver
    yaml.Representer = _Representer
    yaml.default_flow_style = False
    yaml.width = 1 << 20  # never fold long strings: diffs read better with one line per value
    yaml.allow_unicode = True
    return yaml


def dump_yaml(obj: Any) -> str:
    """Serialize a JSON-like value as block-style YAML that kubectl and :func:`load_manifests` read back.

    Keys keep their insertion order, multi-line strings use ``|``, strings that would read back as another
    type are quoted, and shared objects are written out in full (no anchors). The output is deterministic.
    """
    stream = io.StringIO()
    _dumper().dump(obj, stream)
    return stream.getvalue()


def dump_all_yaml(objs: Iterable[Any]) -> str:
    """Serialize several values as a multi-document YAML stream, separated by ``---`` lines."""
    return "---\n".join(dump_yaml(obj) for obj in objs)


def check_unique(resources: Iterable[Resource]) -> None:
    """Refuse two resources with the same key (objects named by ``generateName`` alone are always distinct).

    Raises:
        DuplicateResourceError: Naming the key and both places, the first one seen first.
    """
    seen: dict[ResourceKey, Resource] = {}
    for resource in resources:
        if not resource.key.name:
            continue
        first = seen.setdefault(resource.key, resource)
        if first is not resource:
            raise DuplicateResourceError(resource.key, first.source, resource.source)
