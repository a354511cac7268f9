"""Property tests: an object compared with itself has no changes; applying the changes gives the target."""

import copy
import json
from typing import Any

import jsonpointer
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.diff import Change, compare
from reconcile.diff._changes import diff_values
from reconcile.diff._normalize import normalize


def apply_changes(doc: Any, changes: tuple[Change, ...]) -> Any:
    """Apply changes as the differ defines them: live indices, except an added item's (predicted index).

    Every parent is resolved in the untouched document first; then maps are edited, and per list:
    replacements, removals (highest index first), insertions (lowest predicted index first). Old values are
    checked on the way.
    """
    doc = copy.deepcopy(doc)
    if len(changes) == 1 and changes[0].path == "":
        return copy.deepcopy(changes[0].new)
    steps = []
    for change in changes:
        parts = jsonpointer.JsonPointer(change.path).parts
        steps.append((jsonpointer.JsonPointer.from_parts(parts[:-1]).resolve(doc), parts[-1], change))
    lists: dict[int, tuple[list[Any], list[int], list[tuple[int, Any]]]] = {}
    for parent, token, change in steps:
        if isinstance(parent, dict):
            _edit_map(parent, token, change)
            continue
        items, removals, additions = lists.setdefault(id(parent), (parent, [], []))
        index = int(token)
        if change.op == "add":
            additions.append((index, copy.deepcopy(change.new)))
            continue
        assert _canonical(items[index]) == _canonical(change.old)
        if change.op == "remove":
            removals.append(index)
        else:
            items[index] = copy.deepcopy(change.new)
    for items, removals, additions in lists.values():
        for index in sorted(removals, reverse=True):
            del items[index]
        for index, value in sorted(additions, key=lambda pair: pair[0]):
            items.insert(index, value)
    return doc


def _edit_map(parent: dict[str, Any], token: str, change: Change) -> None:
    if change.op == "add":
        assert token not in parent
    else:
        assert _canonical(parent[token]) == _canonical(change.old)
    if change.op == "remove":
        del parent[token]
    else:
        parent[token] = copy.deepcopy(change.new)


def _canonical(value: Any) -> str:
    # Exact JSON text: true is not 1, "1" is not 1.
    return json.dumps(value, sort_keys=True)


keys = st.text(alphabet="ab/~.", min_size=1, max_size=3)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(alphabet="xy1", max_size=2))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    item = st.fixed_dictionaries({"name": st.sampled_from("abcde")}, optional={"v": children, "w": children})
    return st.lists(item, max_size=4, unique_by=lambda d: d["name"])


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3), _containers(children)
    ),
    max_leaves=12,
)
specs = st.dictionaries(st.sampled_from(["a", "b", "c/d", "e~f", "items"]), values, max_size=4)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "w", "namespace": "ns"}
    labels = draw(st.dictionaries(st.sampled_from(["app", "app.kubernetes.io/name", "tier"]), st.text("xy")))
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata, "spec": draw(specs)}


@settings(max_examples=200, deadline=None)
@given(manifests())
def test_an_object_compared_with_itself_has_no_changes(obj: dict[str, Any]) -> None:
    diff = compare(obj, copy.deepcopy(obj))
    assert diff.changes == ()
    assert not diff.modified


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_applying_the_changes_of_two_values_gives_the_second(old: Any, new: Any) -> None:
    changes = diff_values(old, new)
    assert _canonical(apply_changes(old, changes)) == _canonical(new)
    assert (changes == ()) == (_canonical(old) == _canonical(new))


@settings(max_examples=200, deadline=None)
@given(manifests(), manifests(), manifests())
def test_applying_the_changes_to_normalized_live_gives_normalized_predicted(
    desired: dict[str, Any], live: dict[str, Any], answer: dict[str, Any]
) -> None:
    diff = compare(desired, live, predicted_live=answer)
    assert diff.live is not None
    assert diff.predicted is not None
    assert _canonical(apply_changes(normalize(live), diff.changes)) == _canonical(normalize(answer))


@settings(max_examples=200, deadline=None)
@given(manifests(), manifests())
def test_applying_the_changes_to_normalized_live_gives_the_prediction(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    diff = compare(desired, live)
    assert diff.predicted is not None
    assert _canonical(apply_changes(normalize(live), diff.changes)) == _canonical(normalize(diff.predicted))
