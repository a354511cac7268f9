import base64
import json

import pytest

from reconcile.apiserver import LAST_APPLIED
from reconcile.diff import DiffResult, compare
from reconcile.diff._mask import mask_secrets

OLD = "correct-horse-battery"
NEW = "tr0ub4dor-and-3"
OTHER = "kept-the-same"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(data: dict | None = None, string_data: dict | None = None, annotations: dict | None = None) -> dict:
    obj: dict = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}
    obj["metadata"] = {
        "name": "db",
        "namespace": "default",
        **({"annotations": annotations} if annotations else {}),
    }
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def _live(data: dict) -> dict:
    last_applied = json.dumps(_secret(data))
    live = _secret(data, annotations={LAST_APPLIED: last_applied})
    live["metadata"] |= {"uid": "u-1", "resourceVersion": "7"}
    return live


def _every_text(result: DiffResult) -> str:
    rendered = [str(result), result.unified(), result._repr_html_(), repr(result)]
    for diff in result:
        rendered += [str(diff), diff.unified(), diff._repr_html_(), repr(diff)]
        rendered += [str(c) for c in diff.changes] + [repr(c) for c in diff.changes]
        rendered += [json.dumps([diff.desired, diff.live, diff.predicted])]
    return "\n".join(rendered)


def _assert_no_secret(text: str, *values: str) -> None:
    for value in values:
        assert value not in text
        assert _b64(value) not in text


def test_masks_are_equal_for_equal_values_and_differ_in_length_otherwise():
    desired = _secret({"password": _b64(NEW), "user": _b64(OTHER)})
    live = _secret({"password": _b64(OLD), "user": _b64(OTHER)}, annotations={LAST_APPLIED: "{...}"})
    masked_desired, masked_live, nothing = mask_secrets([desired, live, None])
    assert nothing is None
    assert masked_desired is not None
    assert masked_live is not None
    assert masked_desired["data"] == {"password": "+" * 8, "user": "+" * 8}
    assert masked_live["data"] == {"password": "+" * 12, "user": "+" * 8}
    assert masked_live["metadata"]["annotations"] == {LAST_APPLIED: "+" * 8}
    assert desired["data"]["password"] == _b64(NEW)


def test_objects_that_are_not_secrets_are_not_masked():
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    assert mask_secrets([config_map]) == (config_map,)
    # A custom kind that happens to be named Secret is masked all the same: showing a value is never undone.
    crd_secret = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "c"}, "data": {"k": "v"}}
    (masked,) = mask_secrets([crd_secret])
    assert masked["data"] == {"k": "++++++++"}


def test_string_data_and_malformed_data_are_masked_too():
    obj = _secret(data="not-a-map", string_data={"token": "abc"})  # type: ignore[arg-type]
    (masked,) = mask_secrets([obj])
    assert masked == _secret(data="+" * 8, string_data={"token": "+" * 8})  # type: ignore[arg-type]


def test_changed_secret_value_is_drift_without_showing_either_value():
    result = DiffResult(
        [
            compare(
                _secret({"password": _b64(NEW), "user": _b64(OTHER)}),
                _live({"password": _b64(OLD), "user": _b64(OTHER)}),
            )
        ]
    )
    (diff,) = result
    assert diff.modified
    assert [str(c) for c in diff.changes] == ["~ /data/password: ++++++++++++ -> ++++++++"]
    assert "-  password: ++++++++++++" in diff.unified()
    assert "+  password: ++++++++" in diff.unified()
    _assert_no_secret(_every_text(result), OLD, NEW, OTHER)


def test_equal_secret_values_are_not_drift():
    result = DiffResult([compare(_secret({"password": _b64(OLD)}), _live({"password": _b64(OLD)}))])
    assert not result.modified
    assert next(iter(result)).changes == ()
    _assert_no_secret(_every_text(result), OLD)


def test_string_data_equal_to_live_data_is_not_drift():
    result = DiffResult([compare(_secret(string_data={"password": OLD}), _live({"password": _b64(OLD)}))])
    assert not result.modified
    _assert_no_secret(_every_text(result), OLD)


def test_string_data_differing_from_live_data_is_drift():
    diff = compare(_secret(string_data={"password": NEW}), _live({"password": _b64(OLD)}))
    assert [str(c) for c in diff.changes] == ["~ /data/password: ++++++++++++ -> ++++++++"]
    _assert_no_secret(_every_text(DiffResult([diff])), OLD, NEW)


def test_a_missing_secret_shows_masks_only():
    result = DiffResult([compare(_secret({"password": _b64(NEW)}), None)])
    assert result.modified
    assert "+  password: ++++++++\n" in result.unified()
    _assert_no_secret(_every_text(result), NEW)


def test_a_secret_to_prune_shows_masks_only():
    result = DiffResult([compare(None, _live({"password": _b64(OLD)}))])
    assert result.modified
    assert "-  password: ++++++++\n" in result.unified()
    _assert_no_secret(_every_text(result), OLD)


def test_an_empty_value_and_null_are_the_same_secret_value():
    diff = compare(_secret({"token": "", "password": _b64(OLD)}), _live({"token": None, "password": _b64(OLD)}))
    assert diff.changes == ()
    assert diff.live is not None
    assert diff.live["data"] == {"token": "+" * 8, "password": "+" * 8}


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "secret", "metadata": {"name": "typo"}, "data": {"password": "aHVudGVyMg=="}},
        {"apiVersion": "v1", "kind": "SECRET", "metadata": {"name": "shout"}, "stringData": {"password": "hunter2"}},
        {
            "apiVersion": "example.com/v1",
            "kind": "Credentials",
            "metadata": {"name": "shaped-like-one"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"password": "hunter2"},
        },
        {
            "apiVersion": "v9",
            "kind": "Whatever",
            "metadata": {"name": "x"},
            "type": "Opaque",
            "data": {"k": "aHVudGVyMg=="},
        },
    ],
    ids=["lower-case-kind", "upper-case-kind", "secret-type-on-another-kind", "opaque-on-an-unknown-kind"],
)
def test_anything_that_may_be_a_secret_is_masked_in_every_output(obj):
    diff = compare(obj, None)
    text = diff.unified() + str(diff) + diff._repr_html_()
    assert "hunter2" not in text
    assert "aHVudGVyMg==" not in text


def test_other_objects_with_data_are_shown():
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"greeting": "hello"}}
    assert "hello" in compare(config, None).unified()
