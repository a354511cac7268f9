from reconcile.diff import Change
from reconcile.diff._changes import diff_values, format_value, pointer


def test_equal_values_have_no_changes():
    obj = {"a": [1, {"b": None}], "c": {"d": "e"}, "f": True}
    assert diff_values(obj, {"f": True, "c": {"d": "e"}, "a": [1, {"b": None}]}) == ()


def test_maps_are_compared_key_by_key_in_key_order():
    old = {"keep": 1, "gone": "x", "nested": {"v": 1}}
    new = {"keep": 1, "added": [1], "nested": {"v": 2}}
    assert [str(c) for c in diff_values(old, new)] == ["+ /added: [1]", "- /gone", "~ /nested/v: 1 -> 2"]
    assert diff_values(old, new)[1] == Change(op="remove", path="/gone", old="x", new=None)


def test_pointer_escapes_slash_and_tilde():
    assert pointer(["metadata", "labels", "app.kubernetes.io/name"]) == "/metadata/labels/app.kubernetes.io~1name"
    assert pointer(["a~b", 0]) == "/a~0b/0"
    changes = diff_values({"l": {"x~/y": "1"}}, {"l": {"x~/y": "2"}})
    assert [c.path for c in changes] == ["/l/x~0~1y"]


def test_named_items_are_paired_by_name():
    old = {"containers": [{"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "side:1"}]}
    new = {"containers": [{"name": "init", "image": "i:1"}, {"name": "app", "image": "app:1"}]}
    assert [str(c) for c in diff_values(old, new)] == [
        "- /containers/1",
        '+ /containers/0: {"name": "init", "image": "i:1"}',
    ]


def test_changed_item_is_reported_at_its_live_index():
    old = [{"name": "a", "v": 1}, {"name": "b", "v": 1}, {"name": "c", "v": 1}]
    new = [{"name": "b", "v": 2}, {"name": "c", "v": 1}, {"name": "d", "v": 0}]
    assert [str(c) for c in diff_values(old, new)] == [
        "- /0",
        "~ /1/v: 1 -> 2",
        '+ /2: {"name": "d", "v": 0}',
    ]


def test_ports_are_paired_by_port_and_protocol():
    old = [{"port": 80, "protocol": "TCP", "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]
    new = [{"port": 80, "protocol": "TCP", "targetPort": 9090}, {"port": 53, "protocol": "UDP"}]
    assert [str(c) for c in diff_values(old, new)] == ["~ /0/targetPort: 8080 -> 9090"]


def test_reordered_keyed_items_replace_the_list():
    old = {"l": [{"name": "a"}, {"name": "b"}]}
    new = {"l": [{"name": "b"}, {"name": "a"}]}
    assert diff_values(old, new) == (Change(op="replace", path="/l", old=old["l"], new=new["l"]),)


def test_duplicate_keys_fall_back_to_positions():
    old = [{"name": "a", "v": 1}, {"name": "a", "v": 2}]
    new = [{"name": "a", "v": 1}, {"name": "a", "v": 3}]
    assert [str(c) for c in diff_values(old, new)] == ["~ /1/v: 2 -> 3"]


def test_plain_lists_compare_by_index_when_lengths_match_else_whole():
    assert [str(c) for c in diff_values({"args": ["a", "b"]}, {"args": ["a", "c"]})] == ["~ /args/1: b -> c"]
    assert [str(c) for c in diff_values({"args": ["a"]}, {"args": ["a", "c"]})] == ['~ /args: ["a"] -> ["a", "c"]']


def test_type_changes_are_replacements():
    assert [str(c) for c in diff_values({"v": 1}, {"v": True})] == ["~ /v: 1 -> true"]
    assert [str(c) for c in diff_values({"v": 1}, {"v": "1"})] == ['~ /v: 1 -> "1"']
    assert [str(c) for c in diff_values({"v": {"a": 1}}, {"v": [1]})] == ['~ /v: {"a": 1} -> [1]']
    assert diff_values({"v": 2}, {"v": 2.0}) == ()


def test_change_text():
    assert str(Change(op="replace", path="/spec/replicas", old=2, new=3)) == "~ /spec/replicas: 2 -> 3"
    assert str(Change(op="add", path="/metadata/labels/foo", new="bar")) == "+ /metadata/labels/foo: bar"
    assert str(Change(op="remove", path="/metadata/labels/release", old="r")) == "- /metadata/labels/release"
    assert Change(op="add", path="/a", new=1).symbol == "+"


def test_values_are_shown_unambiguously_and_short():
    assert format_value("plain text") == "plain text"
    assert format_value("3") == '"3"'
    assert format_value("true") == '"true"'
    assert format_value("") == '""'
    assert format_value(" padded") == '" padded"'
    assert format_value("two\nlines") == '"two\\nlines"'
    assert format_value("a -> b") == '"a -> b"'
    assert format_value(None) == "null"
    assert format_value({"k": [1, "x"]}) == '{"k": [1, "x"]}'
    long = format_value("x" * 300)
    assert len(long) == 100
    assert long.endswith("...")
