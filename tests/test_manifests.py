from __future__ import annotations

import json
import re
import textwrap
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.errors import ManifestError
from reconcile.manifests import (
    MAX_FILE_BYTES,
    MAX_NODES,
    dump_all_yaml,
    dump_yaml,
    load_manifests,
    validate_manifest,
)
from reconcile.model import ResourceKey


def load(text: str, file: str = "app.yaml", **kwargs: Any) -> list[tuple[dict[str, Any], int]]:
    return load_manifests(textwrap.dedent(text), file=file, **kwargs)


def value_of(scalar: str) -> Any:
    """The value kubectl would see for ``data.v: <scalar>``."""
    [(obj, _)] = load(f"kind: X\ndata:\n  v: {scalar}\n")
    return obj["data"]["v"]


def error_of(text: str, file: str = "app.yaml", **kwargs: Any) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load(text, file=file, **kwargs)
    return info.value


def only_plain_types(value: Any) -> bool:
    if isinstance(value, dict):
        return type(value) is dict and all(type(k) is str and only_plain_types(v) for k, v in value.items())
    if isinstance(value, list):
        return type(value) is list and all(only_plain_types(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


# --- documents and lines --------------------------------------------------------------------------


def test_multi_document_stream_gives_each_object_with_its_starting_line() -> None:
    docs = load(
        """\
        # leading comment
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: one
        ---
        ---
        # only a comment
        ...
        ---

        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: two
        """
    )
    assert [(obj["metadata"]["name"], line) for obj, line in docs] == [("one", 3), ("two", 13)]


def test_objects_are_plain_dicts_and_lists_in_document_key_order() -> None:
    [(obj, line)] = load(
        """\
        kind: ConfigMap
        apiVersion: v1
        metadata: {name: x, labels: {b: "1", a: "2"}}
        data:
          list: [1, two, {three: 3}]
        """
    )
    assert line == 1
    assert only_plain_types(obj)
    assert list(obj) == ["kind", "apiVersion", "metadata", "data"]
    assert list(obj["metadata"]["labels"]) == ["b", "a"]
    assert obj["data"]["list"] == [1, "two", {"three": 3}]


def test_empty_input_and_null_documents_give_nothing() -> None:
    assert load("") == []
    assert load("# nothing here\n") == []
    assert load("---\n---\n~\n---\nnull\n") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [("- a\n- b\n", "a list"), ("just words\n", "a string"), ("42\n", "a number")],
)
def test_a_document_that_is_not_a_mapping_is_an_error_at_its_line(text: str, problem: str) -> None:
    error = error_of("kind: A\n---\n" + text)
    assert error.file == "app.yaml"
    assert error.line == 3
    assert f"a document must be a mapping, not {problem}" in str(error)


# --- scalars, the way kubectl reads them ----------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("0644", 420),  # YAML 1.1 octal: defaultMode: 0644
        ("0o644", 420),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0b101", -5),
        ("1_000", 1000),
        ("+12", 12),
        ("-7", -7),
        ("0", 0),
        ("08", 8),  # not octal; Go falls back to a float, and JSON makes it 8
        ("1e3", 1000),
        ("3.", 3),
        ("1.0", 1),
        ("9223372036854775807", 2**63 - 1),
    ],
)
def test_integers_resolve_like_go_yaml_v2(scalar: str, expected: int) -> None:
    value = value_of(scalar)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("1.5", 1.5),
        (".5", 0.5),
        ("-2.25", -2.25),
        ("1.5e3", 1500),
        ("1.25e-2", 0.0125),
        ("9223372036854775808", 9223372036854775808.0),  # beyond int64: a float after the JSON round trip
        ("0x1FFFFFFFFFFFFFFFF", float(0x1FFFFFFFFFFFFFFFF)),
    ],
)
def test_floats_resolve_like_go_yaml_v2(scalar: str, expected: float) -> None:
    assert value_of(scalar) == expected


@pytest.mark.parametrize("scalar", ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"])
def test_yaml_1_1_true_words_are_booleans(scalar: str) -> None:
    assert value_of(scalar) is True


@pytest.mark.parametrize("scalar", ["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"])
def test_yaml_1_1_false_words_are_booleans(scalar: str) -> None:
    assert value_of(scalar) is False


@pytest.mark.parametrize("scalar", ["~", "null", "Null", "NULL", ""])
def test_null_words_are_none(scalar: str) -> None:
    assert value_of(scalar) is None


@pytest.mark.parametrize(
    "scalar",
    [
        "1:20",  # base 60 in YAML 1.1, a string for go-yaml
        "2001-12-14",  # go-yaml hands timestamps to untyped targets as text
        "2001-12-14T21:59:43.10Z",
        "yEs",
        "0x",
        "0o8",
        "1e400",  # out of float range: Go keeps the string
        "-x",
        ".",
        "._5",
        "hello world",
    ],
)
def test_scalars_go_yaml_keeps_as_strings(scalar: str) -> None:
    assert value_of(scalar) == scalar


@pytest.mark.parametrize("scalar", ['"0644"', "'yes'", '"null"', "!!str 0644", "!!str yes"])
def test_quoted_or_str_tagged_scalars_stay_strings(scalar: str) -> None:
    assert value_of(scalar) == scalar.removeprefix("!!str ").strip("'\"")


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ('!!int "12"', 12),
        ("!!float 2", 2),
        ('!!bool "yes"', True),
        ("!!null ''", None),
        ("!!binary aGVsbG8=", "hello"),
        ("!!timestamp 2001-12-14", "2001-12-14"),
        ("!custom value", "value"),
    ],
)
def test_explicit_tags(scalar: str, expected: Any) -> None:
    assert value_of(scalar) == expected


def test_block_scalars_keep_their_text() -> None:
    [(obj, _)] = load("kind: X\nliteral: |\n  one\n  two\nfolded: >\n  one\n  two\nstrip: |-\n  x\n")
    assert obj["literal"] == "one\ntwo\n"
    assert obj["folded"] == "one two\n"
    assert obj["strip"] == "x"


def test_a_tag_that_does_not_fit_the_value_is_an_error_naming_the_line() -> None:
    error = error_of("kind: X\ndata:\n  v: !!int abc\n")
    assert error.line == 3
    assert "cannot decode this !!str value as !!int" in str(error)
    assert "abc" not in str(error)


@pytest.mark.parametrize("scalar", [".inf", "-.Inf", ".nan"])
def test_values_json_cannot_carry_are_errors(scalar: str) -> None:
    error = error_of(f"kind: X\ndata:\n  v: {scalar}\n")
    assert error.line == 3
    assert f"{scalar} cannot be represented in JSON" in str(error)


def test_bad_binary_is_an_error() -> None:
    assert "not valid base64" in str(error_of("kind: X\nv: !!binary '***'\n"))


# --- keys -----------------------------------------------------------------------------------------


def test_mapping_keys_become_strings_as_kubectl_spells_them() -> None:
    [(obj, _)] = load(
        """\
        kind: X
        data:
          on: a
          n: b
          1: c
          0644: d
          1.5: e
          1e6: f
          3.14159265358979: g
          -0.0001: h
          .inf: i
        """
    )
    assert list(obj["data"]) == [
        "true",
        "false",
        "1",
        "420",
        "1.5",
        "1e+06",
        "3.1415927",
        "-0.0001",
        ".inf",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("kind: X\n~: a\n", "a mapping key must not be null"),
        ("kind: X\n? [a, b]\n: c\n", "a mapping key must be a scalar"),
    ],
)
def test_unsupported_keys_are_errors(text: str, problem: str) -> None:
    error = error_of(text)
    assert error.line == 2
    assert problem in str(error)


def test_duplicate_keys_are_an_error_naming_both_lines() -> None:
    error = error_of(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: x
        data:
          a: "1"
          b: "2"
          a: "3"
        """
    )
    assert error.file == "app.yaml"
    assert error.line == 8
    assert "duplicate key 'a' (first defined on line 6)" in str(error)


def test_keys_that_collide_once_spelled_as_strings_are_duplicates() -> None:
    error = error_of("kind: X\ndata:\n  yes: a\n  'true': b\n")
    assert error.line == 4
    assert "duplicate key 'true'" in str(error)


# --- anchors, aliases and merge keys --------------------------------------------------------------


def test_aliases_expand_to_independent_copies() -> None:
    [(obj, _)] = load(
        """\
        kind: X
        a: &shared {k: [1, 2]}
        b: *shared
        """
    )
    assert obj["a"] == obj["b"] == {"k": [1, 2]}
    obj["a"]["k"].append(3)
    assert obj["b"] == {"k": [1, 2]}


def test_merge_keys_follow_the_yaml_rules() -> None:
    [(obj, _)] = load(
        """\
        kind: X
        base: &base {a: 1, b: 1, c: 1}
        other: &other {b: 2, d: 2}
        one:
          a: 0
          <<: *base
        many:
          <<: [*other, *base]
          c: 9
        """
    )
    assert obj["one"] == {"a": 0, "b": 1, "c": 1}
    assert list(obj["one"]) == ["a", "b", "c"]
    # The first merged mapping wins over later ones; keys written in the mapping win over all of them.
    assert obj["many"] == {"b": 2, "d": 2, "a": 1, "c": 9}


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    [(obj, _)] = load("kind: X\n'<<': {a: 1}\n")
    assert obj["<<"] == {"a": 1}


def test_merging_a_scalar_is_an_error() -> None:
    error = error_of("kind: X\ns: &s text\nm:\n  <<: *s\n")
    assert "a merge key (<<) needs a mapping or a list of mappings" in str(error)
    assert error.line == 2


def test_an_anchor_may_be_redefined() -> None:
    [(obj, _)] = load("kind: X\na: &x 1\nb: &x 2\nc: *x\n")
    assert obj["c"] == 2


def test_an_undefined_alias_is_an_error_at_its_line() -> None:
    error = error_of("kind: X\na: 1\nb: *nowhere\n")
    assert error.line == 3
    assert "found undefined alias 'nowhere'" in str(error)


def test_a_recursive_alias_is_refused() -> None:
    error = error_of("kind: X\nloop: &a [1, *a]\n")
    assert "an alias refers to a node that contains it" in str(error)
    assert error.line == 2


def billion_laughs(levels: int = 9) -> str:
    lines = ["kind: X", 'lol0: &lol0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly_without_expanding() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = error_of(billion_laughs(), file="bomb.yaml")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.file == "bomb.yaml"
    assert error.line == 7  # lol5, the first level whose aliases add more than 100_000 nodes
    assert f"aliases expand this document by more than {MAX_NODES} nodes" in str(error)
    assert elapsed < 2
    assert peak < 5_000_000


def test_the_alias_limit_is_a_parameter() -> None:
    text = billion_laughs(levels=2)  # lol2 holds 10 x lol1, each 10 x lol0: about 110 nodes added
    assert [line for _, line in load(text, max_nodes=1000)] == [1]
    error = error_of(text, max_nodes=50)
    assert "more than 50 nodes" in str(error)


def test_large_documents_without_aliases_are_not_limited_by_the_alias_limit() -> None:
    items = "".join(f"  k{i}: v\n" for i in range(300))
    [(obj, _)] = load("kind: X\ndata:\n" + items, max_nodes=10)
    assert len(obj["data"]) == 300


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    error = error_of("kind: X\nv: " + "[" * 300 + "]" * 300 + "\n")
    assert error.line == 2
    assert "nested deeper than 200 levels" in str(error)


# --- syntax and encoding errors -------------------------------------------------------------------


def test_a_syntax_error_names_file_line_and_problem() -> None:
    error = error_of("kind: X\nmetadata:\n  name: a: b\n", file="apps/bad.yaml")
    assert error.file == "apps/bad.yaml"
    assert error.line == 3
    assert str(error).startswith("apps/bad.yaml:3: invalid YAML: ")
    assert "mapping values are not allowed here" in str(error)


def test_an_unclosed_quote_is_a_syntax_error() -> None:
    error = error_of('kind: X\na: "open\nb: 1\n')
    assert error.line == 4
    assert "while scanning a quoted scalar" in str(error)


def test_control_characters_are_refused_at_their_line() -> None:
    error = error_of("kind: X\na: 1\nb: bell\x07\n")
    assert error.line == 3
    assert "#x0007" in str(error)


def test_bytes_must_be_utf8_and_the_error_names_the_file() -> None:
    with pytest.raises(ManifestError) as info:
        load_manifests(b"kind: X\nname: caf\xe9\n", file="app/latin1.yaml")
    assert info.value.file == "app/latin1.yaml"
    assert info.value.line == 2
    assert "not valid UTF-8: byte 0xe9 at offset 17" in str(info.value)


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    docs = load_manifests("\ufeffkind: X\nv: é\n".encode(), file="bom.yaml")
    assert docs == [({"kind": "X", "v": "é"}, 1)]


def test_files_over_the_size_limit_are_refused_before_parsing() -> None:
    data = b"kind: X\n" + b"# padding\n" * 10
    assert load_manifests(data, file="ok.yaml", max_bytes=len(data)) == [({"kind": "X"}, 1)]
    with pytest.raises(ManifestError) as info:
        load_manifests(data, file="big.yaml", max_bytes=len(data) - 1)
    assert str(info.value) == f"big.yaml: file is {len(data)} bytes, over the limit of {len(data) - 1}"
    assert info.value.line is None


def test_the_size_of_text_is_counted_in_utf8_bytes() -> None:
    with pytest.raises(ManifestError, match=re.escape("file is 10 bytes, over the limit of 8")):
        load_manifests("kind: é\n\n", file="a.yaml", max_bytes=8)


def test_default_limits() -> None:
    assert MAX_FILE_BYTES == 8 * 1024 * 1024
    assert MAX_NODES == 100_000


# --- Lists ----------------------------------------------------------------------------------------


def test_a_list_is_flattened_and_each_item_keeps_its_own_line() -> None:
    docs = load(
        """\
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: a}
        -   apiVersion: v1
            kind: ConfigMap
            metadata: {name: b}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: c}
        """
    )
    assert [(obj["metadata"]["name"], line) for obj, line in docs] == [("a", 4), ("b", 7), ("c", 11)]


def test_nested_and_typed_lists_are_flattened() -> None:
    docs = load(
        """\
        kind: List
        items:
        - kind: ConfigMapList
          items:
          - {kind: ConfigMap, metadata: {name: a}}
          - {kind: ConfigMap, metadata: {name: b}}
        - kind: Secret
          metadata: {name: c}
        """
    )
    assert [(obj["metadata"]["name"], line) for obj, line in docs] == [("a", 5), ("b", 6), ("c", 7)]


def test_a_list_without_items_gives_nothing() -> None:
    assert load("apiVersion: v1\nkind: List\n") == []
    assert load("apiVersion: v1\nkind: List\nitems: []\n") == []


def test_a_kind_ending_in_list_without_an_items_list_is_an_ordinary_object() -> None:
    docs = load("apiVersion: x/v1\nkind: AllowList\nmetadata: {name: a}\nspec: {}\n")
    assert [obj["kind"] for obj, _ in docs] == ["AllowList"]


def test_list_items_must_be_mappings() -> None:
    error = error_of("kind: List\nitems:\n- kind: A\n- just text\n")
    assert error.line == 4
    assert "item 1 of the List is a string, not a mapping" in str(error)


def test_list_items_must_be_a_list() -> None:
    error = error_of("kind: A\n---\nkind: List\nitems: {a: 1}\n")
    assert error.line == 3
    assert "the items of a List must be a list, not a mapping" in str(error)


def test_list_items_given_through_a_merge_key_get_the_lists_line() -> None:
    docs = load(
        """\
        kind: List
        template: &items
          items:
          - kind: A
        <<: *items
        """
    )
    assert [(obj.get("kind"), line) for obj, line in docs] == [("A", 1)]


# --- JSON -----------------------------------------------------------------------------------------


def test_a_json_file_holds_one_object() -> None:
    text = '\n\n{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1.0}}\n'
    [(obj, line)] = load_manifests(text, file="cm.json")
    assert line == 3
    assert obj["metadata"] == {"name": "x"}
    assert type(obj["data"]["a"]) is float  # JSON keeps what it says; only YAML goes through the round trip


def test_a_json_file_may_hold_an_array_of_objects_each_with_its_line() -> None:
    text = json.dumps([{"kind": "A", "metadata": {"name": "a"}}, {"kind": "B", "metadata": {"name": "b"}}], indent=2)
    docs = load_manifests(text, file="all.JSON")
    assert [(obj["kind"], line) for obj, line in docs] == [("A", 2), ("B", 8)]


def test_json_lists_are_flattened_with_item_lines() -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"kind": "A", "metadata": {"name": "a"}}, {"kind": "B"}],
            "metadata": {},
        },
        indent=1,
    )
    docs = load_manifests(text, file="list.json")
    assert [(obj["kind"], line) for obj, line in docs] == [("A", 5), ("B", 11)]


def test_yaml_syntax_in_a_json_file_is_a_json_error() -> None:
    with pytest.raises(ManifestError) as info:
        load_manifests('{\n  "kind": "X",\n  kind: Y\n}\n', file="bad.json")
    assert info.value.line == 3
    assert "invalid JSON: Expecting property name enclosed in double quotes" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('{\n "a": 1,\n "b": {"c": 1,\n "c": 2}\n}', 4, "duplicate key 'c'"),
        ('{\n "a": NaN\n}', 2, "NaN is not valid JSON"),
        ('[{"a": 1},\n {"b": -Infinity}]', 2, "-Infinity is not valid JSON"),
    ],
)
def test_json_duplicates_and_non_numbers_are_errors_at_their_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifests(text, file="x.json")
    assert info.value.line == line
    assert problem in str(info.value)


def test_json_documents_must_be_objects() -> None:
    with pytest.raises(ManifestError, match=r"x.json:1: a JSON file must hold an object or a list of objects"):
        load_manifests('"text"', file="x.json")
    with pytest.raises(ManifestError) as info:
        load_manifests('[\n {"kind": "A"},\n 3\n]', file="x.json")
    assert info.value.line == 3
    assert "a JSON document must be an object, not a number" in str(info.value)


# --- validate_manifest ----------------------------------------------------------------------------


def valid() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}}


def invalid(change: dict[str, Any], metadata: dict[str, Any] | None = None) -> ManifestError:
    obj = valid() | change
    if metadata is not None:
        obj["metadata"] = obj["metadata"] | metadata
    with pytest.raises(ManifestError) as info:
        validate_manifest(obj, file="app/web.yaml", line=12)
    assert info.value.file == "app/web.yaml"
    assert info.value.line == 12
    return info.value


def test_a_complete_object_is_valid() -> None:
    obj = valid()
    validate_manifest(obj, file="a.yaml", line=1)
    assert obj == valid()  # checked, not changed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"apiVersion": None}, "Deployment 'web' has no apiVersion"),
        ({"apiVersion": ""}, "Deployment 'web' has no apiVersion"),
        ({"apiVersion": 1}, "Deployment 'web' has apiVersion that is a number, not a string"),
        ({"kind": None}, "object 'web' has no kind"),
        ({"kind": ["x"]}, "object 'web' has kind that is a list, not a string"),
        ({"metadata": None}, "Deployment has no metadata"),
        ({"metadata": "web"}, "Deployment has metadata that is a string, not a mapping"),
        ({"metadata": {}}, "Deployment has no metadata.name"),
        ({"metadata": {"name": ""}}, "Deployment has no metadata.name"),
        ({"metadata": {"name": 7}}, "Deployment has metadata.name that is a number, not a string"),
    ],
)
def test_identity_fields_are_required(change: dict[str, Any], message: str) -> None:
    assert str(invalid(change)) == f"app/web.yaml:12: {message}"


def test_the_error_carries_the_key_when_kind_and_name_are_known() -> None:
    assert invalid({"apiVersion": None}).key == ResourceKey("", "Deployment", "prod", "web")
    assert invalid({"kind": None}).key is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"namespace": 3}, "has metadata.namespace that is a number, not a string"),
        ({"labels": ["a"]}, "has metadata.labels that is a list, not a mapping"),
        ({"labels": {"tier": 1}}, "has metadata.labels['tier'] that is a number, not a string"),
        (
            {"annotations": {"token": {"value": "hunter2"}}},
            "has metadata.annotations['token'] that is a mapping, not a string",
        ),
    ],
)
def test_namespace_labels_and_annotations_must_be_strings(metadata: dict[str, Any], message: str) -> None:
    error = invalid({}, metadata)
    assert str(error) == f"app/web.yaml:12: Deployment 'web' {message}"
    assert "hunter2" not in str(error)


def test_a_non_mapping_object_is_invalid() -> None:
    with pytest.raises(ManifestError, match=re.escape("a.yaml:2: an object must be a mapping, not a list")):
        validate_manifest([], file="a.yaml", line=2)  # type: ignore[arg-type]


def test_null_namespace_labels_and_annotations_are_fine() -> None:
    obj = valid()
    obj["metadata"] |= {"namespace": None, "labels": None, "annotations": None}
    validate_manifest(obj, file=None, line=None)
    assert obj["metadata"]["name"] == "web"


# --- dumping --------------------------------------------------------------------------------------


def test_dump_is_block_style_in_insertion_order() -> None:
    obj = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"z": "1", "a": "2"}},
        "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80}]}], "empty": {}, "none": []},
    }
    assert dump_yaml(obj) == textwrap.dedent(
        """\
        kind: Deployment
        apiVersion: apps/v1
        metadata:
          name: web
          labels:
            z: '1'
            a: '2'
        spec:
          containers:
          - name: app
            ports:
            - containerPort: 80
          empty: {}
          none: []
        """
    )


def test_dump_writes_multi_line_strings_as_literal_blocks() -> None:
    out = dump_yaml({"script": "echo one\necho two\n", "stripped": "a\nb"})
    assert out == "script: |\n  echo one\n  echo two\nstripped: |-\n  a\n  b\n"


@pytest.mark.parametrize(
    "text",
    ["yes", "no", "on", "y", "0644", "0o644", "1e3", "1:20", "2001-12-14", "", "null", "~", "<<", "1.0"],
)
def test_dump_quotes_strings_that_would_read_back_as_something_else(text: str) -> None:
    out = dump_yaml({"v": text})
    assert out in (f"v: '{text}'\n", f'v: "{text}"\n')
    assert load_manifests(out, file="x.yaml") == [({"v": text}, 1)]


def test_dump_leaves_ordinary_strings_plain_and_long_lines_unfolded() -> None:
    long = "word " * 60 + "end"
    assert dump_yaml({"v": "hello", "long": long}) == f"v: hello\nlong: {long}\n"


def test_dump_writes_shared_objects_out_without_anchors() -> None:
    shared = {"a": [1, 2]}
    assert dump_yaml({"one": shared, "two": shared}) == "one:\n  a:\n  - 1\n  - 2\ntwo:\n  a:\n  - 1\n  - 2\n"


def test_dump_scalars() -> None:
    out = dump_yaml({"t": True, "z": None, "f": 1.5, "i": -3, "big": 1e300})
    assert out == "t: true\nz: null\nf: 1.5\ni: -3\nbig: 1e+300\n"
    # y and n are booleans to kubectl, even as keys, so they are quoted.
    assert dump_yaml({"y": 1, "n": 2}) == "'y': 1\n'n': 2\n"


def test_dump_all_separates_documents() -> None:
    assert dump_all_yaml([{"a": 1}, {"b": [2]}]) == "a: 1\n---\nb:\n- 2\n"
    assert dump_all_yaml([]) == ""
    assert [line for _, line in load_manifests(dump_all_yaml([{"a": 1}, {"b": 2}]), file="x.yaml")] == [1, 3]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"))
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_dump_then_load_gives_the_same_object(obj: dict[str, Any]) -> None:
    assert load_manifests(dump_yaml(obj), file="x.yaml") == [(obj, 1)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "data: " + "[" * 30_000 + "]" * 30_000 + "\n"),
        ("deep.json", '{"data": ' + "[" * 50_000 + "]" * 50_000 + "}"),
        ("hidden.yaml", "note: it's plain text\ndata: " + "{a: " * 30_000 + "1" + "}" * 30_000 + "\n"),
    ],
    ids=["yaml-flow", "json", "after-an-apostrophe"],
)
def test_nesting_that_would_crash_a_parser_is_refused_before_parsing(name: str, text: str) -> None:
    # libyaml's composer overflows the C stack (the process dies) and json raises RecursionError past some
    # thousands of levels: the file is refused, naming it, before either runs.
    with pytest.raises(ManifestError, match=r"nested deeper than 200 levels") as caught:
        load_manifests(text, file=name)
    assert caught.value.file == name


def test_brackets_inside_quoted_strings_and_comments_are_not_nesting() -> None:
    text = "a: '" + "[" * 2000 + "'\nb: \"" + "{" * 2000 + '"\n# ' + "[" * 2000 + "\nc: [1, [2]]\n"
    ((obj, _),) = load_manifests(text, file="quoted.yaml")
    assert obj["c"] == [1, [2]]
    assert obj["a"] == "[" * 2000
