"""Go's ``text/template`` with the Sprig functions ApplicationSets use, for ``goTemplate: true``.

Argo CD renders each string of an ApplicationSet's template with Go's ``text/template``, the Sprig function library
(without ``env``, ``expandenv`` and ``getHostByName``) and its own ``normalize``, ``slugify``, ``toJson``,
``fromJson``, ``toYaml``, ``fromYaml``. This is that language: text and ``{{ }}`` actions with ``-`` trim markers,
comments, pipelines, fields and map keys (``.path.basename``), variables (``$x := ...``, ``$``), ``if``/``else if``/
``else``, ``range`` (with ``$i, $v :=``), ``with``, parenthesised pipelines, string, raw-string, number, boolean
and ``nil`` literals; Go's built-in functions (``and``, ``or``, ``not``, ``eq``..., ``len``, ``index``, ``print``,
``printf``...) and the Sprig functions listed in :data:`FUNCTIONS`. ``missingkey`` is honoured: by default a
missing map key prints ``<no value>``, ``missingkey=zero`` prints nothing, ``missingkey=error`` fails.

A function outside the list, or a construct this does not implement (``define``, ``template``, ``block``,
``break``, ``continue``), is an error naming it: a template is rendered as Argo CD renders it, or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["FUNCTIONS", "TemplateError", "render"]


class TemplateError(Exception):
    """The template cannot be parsed or executed; the message says where and why."""


_NO_VALUE = "<no value>"
_EXPONENT_FROM = 1e21  # Go prints floats this large with an exponent


class _Missing:
    """A missing map key under ``missingkey=default``."""


MISSING = _Missing()

# ------------------------------------------------------------------------------------------------- lexer

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<raw>`[^`]*`)|
        (?P<str>"(?:[^"\\]|\\.)*")|
        (?P<char>'(?:[^'\\]|\\.)')|
        (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|
        (?P<decl>:=)|(?P<assign>=)|
        (?P<var>\$[A-Za-z0-9_]*)|
        (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)|
        (?P<ident>[A-Za-z_][A-Za-z0-9_]*)|
        (?P<punct>[()|,])
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise TemplateError(f"unexpected {text[position:].strip()[:20]!r} in action {{{{{text}}}}}")
        kind = match.lastgroup or ""
        value = match.group(kind).strip()
        if kind == "field" and out and out[-1][0] in ("var", "punct_close"):
            kind = "chain"  # $x.y or (pipeline).y
        out.append((kind, value))
        position = match.end()
        if kind == "punct" and value == ")":
            out[-1] = ("punct_close", value)
    return out


# ------------------------------------------------------------------------------------------------ parser


@attrs.frozen
class _Text:
    text: str


@attrs.frozen
class _Output:
    pipeline: Any


@attrs.frozen
class _If:
    branches: tuple[tuple[Any, tuple[Any, ...]], ...]
    otherwise: tuple[Any, ...]
    kind: str = "if"


@attrs.frozen
class _Range:
    variables: tuple[str, ...]
    pipeline: Any
    body: tuple[Any, ...]
    otherwise: tuple[Any, ...]


@attrs.frozen
class _With:
    pipeline: Any
    body: tuple[Any, ...]
    otherwise: tuple[Any, ...]


@attrs.frozen
class _Pipeline:
    declare: tuple[str, ...]
    assign: bool
    commands: tuple[tuple[Any, ...], ...]


def _parse(source: str) -> tuple[Any, ...]:
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2)))
        position = match.end()
        if match.group(3):
            rest = source[position:]
            position += len(rest) - len(rest.lstrip())
    pieces.append(("text", source[position:]))
    nodes, end, _ = _parse_list(pieces, 0, ())
    if end != len(pieces):
        raise TemplateError("unexpected {{end}}")
    return nodes


def _parse_list(pieces: list[tuple[str, str]], index: int, stops: tuple[str, ...]) -> tuple[tuple[Any, ...], int, str]:
    nodes: list[Any] = []
    while index < len(pieces):
        kind, text = pieces[index]
        if kind == "text":
            if text:
                nodes.append(_Text(text))
            index += 1
            continue
        action = text.strip()
        if action.startswith("/*"):
            index += 1
            continue
        word = action.split(None, 1)[0] if action else ""
        if word in stops or (word == "else" and "else" in stops):
            return tuple(nodes), index, action
        if word in ("if", "range", "with"):
            node, index = _parse_block(pieces, index, word, action[len(word) :])
            nodes.append(node)
            continue
        if word in ("end", "else"):
            raise TemplateError(f"unexpected {{{{{action}}}}}")
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"{{{{{word}}}}} is not supported in ApplicationSet templates by reconcile")
        nodes.append(_Output(_parse_pipeline(action)))
        index += 1
    if stops:
        raise TemplateError(f"missing {{{{end}}}} (expected one of {', '.join(stops)})")
    return tuple(nodes), index, ""


def _parse_block(pieces: list[tuple[str, str]], index: int, word: str, rest: str) -> tuple[Any, int]:
    body, index, stop = _parse_list(pieces, index + 1, ("end", "else"))
    if word == "if":
        branches = [(_parse_pipeline(rest), body)]
        otherwise: tuple[Any, ...] = ()
        while stop.startswith("else"):
            tail = stop[len("else") :].strip()
            if tail.startswith("if "):
                more, index, stop = _parse_list(pieces, index + 1, ("end", "else"))
                branches.append((_parse_pipeline(tail[3:]), more))
                continue
            otherwise, index, stop = _parse_list(pieces, index + 1, ("end",))
        return _If(tuple(branches), otherwise), index + 1
    otherwise = ()
    if stop.startswith("else"):
        otherwise, index, stop = _parse_list(pieces, index + 1, ("end",))
    pipeline = _parse_pipeline(rest)
    if word == "with":
        return _With(pipeline, body, otherwise), index + 1
    return _Range(pipeline.declare, attrs.evolve(pipeline, declare=()), body, otherwise), index + 1


def _parse_pipeline(text: str) -> _Pipeline:
    tokens = _tokens(text)
    declare: list[str] = []
    assign = False
    for position, (kind, _) in enumerate(tokens):
        if kind in ("decl", "assign"):
            names = [value for k, value in tokens[:position] if k == "var"]
            if not names:
                raise TemplateError(f"a declaration needs a variable in {{{{{text}}}}}")
            declare, assign, tokens = names, kind == "assign", tokens[position + 1 :]
            break
    commands, rest = _parse_commands(tokens, 0, text)
    if rest != len(tokens):
        raise TemplateError(f"unexpected ) in {{{{{text}}}}}")
    return _Pipeline(tuple(declare), assign, commands)


def _parse_commands(tokens: list[tuple[str, str]], index: int, text: str) -> tuple[tuple[tuple[Any, ...], ...], int]:
    commands: list[tuple[Any, ...]] = []
    current: list[Any] = []
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "punct" and value == "|":
            commands.append(tuple(current))
            current = []
        elif kind == "punct" and value == "(":
            inner, index = _parse_commands(tokens, index + 1, text)
            if index >= len(tokens) or tokens[index][0] != "punct_close":
                raise TemplateError(f"unclosed ( in {{{{{text}}}}}")
            current.append(("pipe", _Pipeline((), False, inner)))
        elif kind == "punct_close":
            break
        elif kind == "chain":
            if not current:
                raise TemplateError(f"unexpected {value} in {{{{{text}}}}}")
            current[-1] = ("chain", current[-1], tuple(value.split(".")[1:]))
        else:
            current.append((kind, value))
        index += 1
    commands.append(tuple(current))
    if any(not command for command in commands):
        raise TemplateError(f"an empty command in {{{{{text}}}}}")
    return tuple(commands), index


# ---------------------------------------------------------------------------------------------- executor


@attrs.define
class _State:
    variables: list[dict[str, Any]]
    missing: str
    out: list[str] = attrs.field(factory=list)


def render(source: str, data: Mapping[str, Any], *, options: tuple[str, ...] = ()) -> str:
    """Render ``source`` with ``data`` as ``.`` (and ``$``), as Go's ``text/template`` with Argo CD's functions.

    Args:
        source: The template.
        data: The parameters.
        options: Go template options (``missingkey=default|invalid|zero|error``).

    Raises:
        TemplateError: The template cannot be parsed, uses an unsupported function or construct, or fails (a
            missing key under ``missingkey=error``, a function's error).
    """
    missing = "default"
    for option in options:
        name, _, value = option.partition("=")
        if name != "missingkey" or value not in ("default", "invalid", "zero", "error"):
            raise TemplateError(f"unknown template option {option!r}")
        missing = "default" if value == "invalid" else value
    nodes = _parse(source)
    data = _as_go(data)
    state = _State(variables=[{"$": data}], missing=missing)
    _run(nodes, data, state)
    return "".join(state.out)


def _as_go(value: Any) -> Any:
    """Parameters as Go holds them after decoding JSON: every number a float64."""
    if isinstance(value, Mapping):
        return {k: _as_go(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_go(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _run(nodes: tuple[Any, ...], dot: Any, state: _State) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            state.out.append(node.text)
        elif isinstance(node, _Output):
            value = _pipeline(node.pipeline, dot, state)
            if not node.pipeline.declare:
                state.out.append(_NO_VALUE if value is None else _print(value))
        elif isinstance(node, _If):
            for condition, body in node.branches:
                if _truth(_pipeline(condition, dot, state)):
                    _scoped(body, dot, state)
                    break
            else:
                _scoped(node.otherwise, dot, state)
        elif isinstance(node, _With):
            value = _pipeline(node.pipeline, dot, state)
            _scoped(node.body if _truth(value) else node.otherwise, value if _truth(value) else dot, state)
        elif isinstance(node, _Range):
            _range(node, dot, state)


def _scoped(nodes: tuple[Any, ...], dot: Any, state: _State, variables: Mapping[str, Any] | None = None) -> None:
    state.variables.append(dict(variables or {}))
    try:
        _run(nodes, dot, state)
    finally:
        state.variables.pop()


def _range(node: _Range, dot: Any, state: _State) -> None:
    value = _pipeline(node.pipeline, dot, state)
    if isinstance(value, Mapping):
        items = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [(i, i) for i in range(value)]
    elif value is None or value is MISSING:
        items = []
    else:
        raise TemplateError(f"range can't iterate over {_print(value)}")
    if not items:
        _scoped(node.otherwise, dot, state)
        return
    for key, item in items:
        names = node.variables
        bound = {names[0]: item} if len(names) == 1 else {names[0]: key, names[1]: item} if names else {}
        _scoped(node.body, item, state, bound)


def _pipeline(pipeline: _Pipeline, dot: Any, state: _State) -> Any:
    value: Any = None
    for position, command in enumerate(pipeline.commands):
        value = _command(command, dot, state, (value,) if position else ())
    if pipeline.declare:
        target = pipeline.declare[-1]
        if pipeline.assign:
            for scope in reversed(state.variables):
                if target in scope:
                    scope[target] = value
                    break
            else:
                raise TemplateError(f"undefined variable {target}")
        else:
            state.variables[-1][target] = value
    return value


def _command(command: tuple[Any, ...], dot: Any, state: _State, piped: tuple[Any, ...]) -> Any:
    head = command[0]
    if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
        function = FUNCTIONS.get(head[1])
        if function is None:
            raise TemplateError(f'function "{head[1]}" not defined (reconcile renders Argo CD\'s Sprig functions only)')
        arguments = [_argument(arg, dot, state) for arg in command[1:]]
        try:
            return function(*arguments, *piped)
        except TemplateError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
            raise TemplateError(f"error calling {head[1]}: {exc}") from None
    if len(command) > 1 or piped:
        raise TemplateError("only a function can take arguments")
    return _argument(head, dot, state)


def _argument(token: tuple[Any, ...], dot: Any, state: _State) -> Any:  # noqa: PLR0911 - one case per kind
    kind = token[0]
    if kind == "field":
        return dot if token[1] == "." else _fields(dot, token[1].split(".")[1:], state)
    if kind == "var":
        for scope in reversed(state.variables):
            if token[1] in scope:
                return scope[token[1]]
        raise TemplateError(f"undefined variable {token[1]}")
    if kind == "chain":
        return _fields(_argument(token[1], dot, state), list(token[2]), state)
    if kind == "pipe":
        return _pipeline(token[1], dot, state)
    if kind in ("str", "char"):
        return json.loads(token[1]) if kind == "str" else token[1][1:-1]
    if kind == "raw":
        return token[1][1:-1]
    if kind == "num":
        return float(token[1]) if any(c in token[1] for c in ".eE") else int(token[1])
    if kind == "ident":
        return {"true": True, "false": False, "nil": None}[token[1]]
    if kind == "ident" or not token:
        raise TemplateError(f"unexpected {token}")
    raise TemplateError(f"unexpected {token[1]!r}")


def _fields(value: Any, names: list[str], state: _State) -> Any:
    for name in names:
        if isinstance(value, Mapping):
            if name in value:
                value = value[name]
                continue
            if state.missing == "error":
                raise TemplateError(f'map has no entry for key "{name}"')
            # missingkey=zero gives the element type's zero value; for the interface values of parameters that is
            # nil, which Go prints as <no value> too (golang/go#24963).
            return MISSING
        if value is MISSING or value is None:
            raise TemplateError(f"nil pointer evaluating .{name}")
        raise TemplateError(f"can't evaluate field {name} in {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------------- printing


def _print(value: Any) -> str:  # noqa: PLR0911 - one case per Go kind
    """Go's ``fmt.Sprint`` of a value as a template prints it."""
    if value is MISSING:
        return _NO_VALUE
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= _EXPONENT_FROM else str(int(value))
    if isinstance(value, list | tuple):
        return "[" + " ".join(_print(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_print(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _truth(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


# --------------------------------------------------------------------------------------------- functions


def _sprint(values: tuple[Any, ...]) -> str:
    """Go's ``fmt.Sprint``: a space between two operands when neither is a string."""
    out = ""
    for position, value in enumerate(values):
        if position and not isinstance(value, str) and not isinstance(values[position - 1], str):
            out += " "
        out += _print(value)
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, int):
        return "int"
    return "other"


def _comparable(first: Any, second: Any) -> None:
    """Go refuses to compare a float64 (every number of the parameters) with an int (a literal in the template)."""
    kinds = {_kind(first), _kind(second)}
    if kinds == {"float64", "int"}:
        raise TemplateError("incompatible types for comparison: float64 and int")


def _compare(operator: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(first: Any, second: Any) -> bool:
        _comparable(first, second)
        return operator(first, second)

    return compare


def _eq(first: Any, *others: Any) -> bool:
    for other in others:
        _comparable(first, other)
    return any(first == other for other in others)


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(container, Mapping):
            container = container.get(key)
        elif isinstance(container, list | tuple | str):
            container = container[int(key)]
        else:
            raise TemplateError(f"can't index item of type {type(container).__name__}")
    return container


def _printf(form: str, *values: Any) -> str:
    converted = re.sub(r"%v", "%s", form)
    return converted % tuple(
        _print(v) if isinstance(v, list | tuple | Mapping | bool) or v is None else v for v in values
    )


def _default(fallback: Any, given: Any = None) -> Any:
    return given if _truth(given) else fallback


def _normalize(text: str) -> str:
    """Argo CD's ``normalize``: lower case, characters other than ``a-z0-9-.`` become ``-``."""
    return re.sub(r"[^a-z0-9.-]", "-", str(text).lower())


def _slugify(text: str, max_length: int = 50, smart_truncate: bool = True) -> str:
    """Argo CD's ``slugify``: ASCII, lower case, words joined by ``-``, at most ``max_length`` characters."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length]
        if smart_truncate and "-" in slug:
            slug = slug.rsplit("-", 1)[0]
    return slug


def _trunc(length: int, text: str) -> str:
    return text[:length] if length >= 0 else text[length:]


def _plain_numbers(value: Any) -> Any:
    """Numbers as Go's encoders write a float64: ``3``, not ``3.0``."""
    if isinstance(value, Mapping):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXPONENT_FROM:
        return int(value)
    return value


def _to_yaml(value: Any) -> str:
    from reconcile.manifests import dump_yaml  # noqa: PLC0415 - only this function writes YAML

    return dump_yaml(_plain_numbers(value)).rstrip("\n")


def _from_yaml(text: str) -> Any:
    from reconcile.manifests import load_manifests  # noqa: PLC0415

    documents = load_manifests(text, file="fromYaml")
    return documents[0][0] if documents else {}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go's built-in functions
    "and": lambda *a: next((v for v in a if not _truth(v)), a[-1]),
    "or": lambda *a: next((v for v in a if _truth(v)), a[-1]),
    "not": lambda v: not _truth(v),
    "eq": _eq,
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "len": len,
    "index": _index,
    "print": lambda *a: _sprint(a),
    "println": lambda *a: " ".join(_print(v) for v in a) + "\n",
    "printf": _printf,
    "slice": lambda v, *i: v[i[0] : i[1]] if len(i) > 1 else v[i[0] :] if i else v,
    # Sprig's string functions
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "title": lambda s: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), str(s)),
    "trim": lambda s: str(s).strip(),
    "trimAll": lambda c, s: str(s).strip(c),
    "trimPrefix": lambda p, s: str(s).removeprefix(p),
    "trimSuffix": lambda p, s: str(s).removesuffix(p),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "trunc": _trunc,
    "contains": lambda sub, s: sub in str(s),
    "hasPrefix": lambda p, s: str(s).startswith(p),
    "hasSuffix": lambda p, s: str(s).endswith(p),
    "quote": lambda *a: " ".join(json.dumps(_print(v)) for v in a),
    "squote": lambda *a: " ".join(f"'{_print(v)}'" for v in a),
    "repeat": lambda n, s: str(s) * int(n),
    "substr": lambda start, end, s: str(s)[start:end] if end >= 0 else str(s)[start:],
    "nospace": lambda s: re.sub(r"\s", "", str(s)),
    "splitList": lambda sep, s: str(s).split(sep),
    "join": lambda sep, v: sep.join(_print(x) for x in v),
    "toString": _print,
    "atoi": int,
    "int": lambda v: int(float(v)) if isinstance(v, str) else int(v),
    "regexMatch": lambda pattern, s: re.search(pattern, str(s)) is not None,
    "regexFind": lambda pattern, s: m.group(0) if (m := re.search(pattern, str(s))) else "",
    "regexReplaceAll": lambda pattern, s, repl: re.sub(pattern, re.sub(r"\$\{?(\d+)\}?", r"\\\1", repl), str(s)),
    "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(str(s)).decode(),
    "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
    # Sprig's defaults and logic
    "default": _default,
    "empty": lambda v: not _truth(v),
    "coalesce": lambda *a: next((v for v in a if _truth(v)), None),
    "ternary": lambda yes, no, condition: yes if condition else no,
    "required": lambda message, v: v if _truth(v) else (_ for _ in ()).throw(TemplateError(message)),
    # Sprig's arithmetic
    "add": lambda *a: sum(int(v) for v in a),
    "sub": lambda a, b: int(a) - int(b),
    "mul": lambda *a: __import__("math").prod(int(v) for v in a),
    "div": lambda a, b: int(a) // int(b),
    "mod": lambda a, b: int(a) % int(b),
    "max": lambda *a: max(int(v) for v in a),
    "min": lambda *a: min(int(v) for v in a),
    # Sprig's lists and dictionaries
    "list": lambda *a: list(a),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "rest": lambda v: list(v[1:]),
    "append": lambda v, x: [*v, x],
    "has": lambda x, v: x in v,
    "uniq": lambda v: list(dict.fromkeys(v)),
    "dict": lambda *a: {str(a[i]): a[i + 1] for i in range(0, len(a) - 1, 2)},
    "get": lambda d, k: d.get(k, ""),
    "hasKey": lambda d, k: k in d,
    "keys": lambda *ds: [k for d in ds for k in d],
    "values": lambda d: list(d.values()),
    "merge": lambda d, *others: {**{k: v for o in reversed(others) for k, v in o.items()}, **d},
    # Argo CD's own functions
    "normalize": _normalize,
    "slugify": _slugify,
    "toJson": lambda v: json.dumps(_plain_numbers(v), separators=(",", ":"), sort_keys=True),
    "toPrettyJson": lambda v: json.dumps(_plain_numbers(v), indent=2, sort_keys=True),
    "toRawJson": lambda v: json.dumps(_plain_numbers(v), separators=(",", ":"), ensure_ascii=False, sort_keys=True),
    "fromJson": json.loads,
    "toYaml": _to_yaml,
    "fromYaml": _from_yaml,
}
"""The functions a template may call: Go's built-ins, the Sprig functions ApplicationSets use, Argo CD's own."""
