from reconcile.jsonvalues import json_equal, without_nulls


def test_json_equal_is_json_equality():
    assert json_equal({"a": [1, 2]}, {"a": [1, 2.0]})
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal(None, {})
    assert not json_equal({"a": 1}, {"a": 1, "b": None})


def test_without_nulls_drops_null_map_entries_at_every_depth_and_copies():
    value = {"a": None, "b": {"c": None, "d": [{"e": None, "f": 1}, None]}}
    cleaned = without_nulls(value)
    assert cleaned == {"b": {"d": [{"f": 1}, None]}}
    cleaned["b"]["d"][0]["f"] = 2
    assert value["b"]["d"][0]["f"] == 1
