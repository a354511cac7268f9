"""Argo CD's resource actions: every discovery and action case of every ``action_test.yaml`` through our runner.

As in Argo CD's own harness: a discovered action must be one of the expected ones; an action runs with the clock
frozen at Go's zero time (0001-01-01T00:00:00Z); a created Job or Workflow is named after its source plus a time
stamp, so it is matched by its source's name as a prefix; an expected error is the script's own message.

The expected outputs were often captured from a cluster later than the inputs (another ``generation``, another
``status``), so the result is compared as a two-way diff: every field of the expected object is in the result with
an equal value (numbers as numbers; ``null`` means absent), except the server's bookkeeping in ``metadata`` and,
in ``status``, the fields the action did not touch (a changed status field must have the expected value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import ActionError
from reconcile.health._actions import GO_ZERO_TIME, ImpactedResource, LuaActions, ResourceAction
from reconcile.manifests import load_manifests
from support import read_yaml_leniently

CATALOGUE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argocd-resource-customizations"


def _cases(section: str) -> list[tuple[str, str, dict[str, Any]]]:
    if not CATALOGUE.is_dir():
        return []
    found = []
    for test_file in sorted(CATALOGUE.rglob("action_test.yaml")):
        document = load_manifests(test_file.read_text(), file=str(test_file))[0][0]
        for number, case in enumerate(document.get(section) or ()):
            found.append((str(test_file.parent.relative_to(CATALOGUE)), str(number), case))
    return found


DISCOVERY = _cases("discoveryTests")
ACTIONS = _cases("actionTests")

# Where the corpus contradicts its own script at this commit. keda.sh ScaledObject's discovery.lua gives the
# paused-replicas action the default `currentPausedReplicas or "0"`; for an input annotated with paused-replicas
# "6" that is "6", while the case expects "0". Kept as a strict expected failure, so a change on either side shows.
CONTRADICTIONS = {
    ("discoveryTests", "keda.sh/ScaledObject/actions", "2"): "the script's default is the annotation's 6, the case 0"
}


def _params(section: str, cases: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    params = []
    for folder, number, case in cases:
        reason = CONTRADICTIONS.get((section, folder, number))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(folder, number, case, id=f"{folder}#{number}", marks=marks))
    return params


@pytest.fixture(scope="module")
def actions() -> LuaActions:
    if not CATALOGUE.is_dir():
        pytest.skip(f"Argo CD's resource customizations not found at {CATALOGUE}")
    loaded = LuaActions.from_directory(CATALOGUE)
    yield loaded
    loaded.close()


def _load(folder: str, case: dict[str, Any], key: str) -> Any:
    """An input object, or an expected output: one object, or a list of operations (a YAML list)."""
    path = case.get(key) or case.get(key.lower())
    return read_yaml_leniently((CATALOGUE / folder / path).read_text())


def test_the_corpus_is_there_and_every_script_compiles(actions):
    assert len(DISCOVERY) >= 80
    assert len(ACTIONS) >= 100
    assert actions.problems == {}


@pytest.mark.parametrize(("folder", "number", "case"), _params("discoveryTests", DISCOVERY))
def test_each_discovery_case_offers_argo_cds_actions(actions, folder, number, case):
    obj = _load(folder, case, "inputPath")
    expected = [_expected_action(item) for item in case["result"]]
    found = actions.discover(obj)
    assert bool(found) == bool(expected)
    for action in found:
        assert action in expected, (action, expected)


@pytest.mark.parametrize(("folder", "number", "case"), _params("actionTests", ACTIONS))
def test_each_action_case_gives_argo_cds_result(actions, folder, number, case):
    source = _load(folder, case, "inputPath")
    params = {str(k): str(v) for k, v in (case.get("parameters") or {}).items()}
    if "expectedErrorMessage" in case:
        with pytest.raises(ActionError) as caught:
            actions.run(source, case["action"], params, now=GO_ZERO_TIME)
        assert case["expectedErrorMessage"] in str(caught.value)
        return
    result = actions.run(source, case["action"], params, now=GO_ZERO_TIME)
    expected = _load(folder, case, "expectedOutputPath")
    if isinstance(expected, dict) and "k8sOperation" not in expected:
        assert [r.operation for r in result] == ["patch"]
        _assert_holds(_comparable(expected, result[0].object, source), result[0].object, "")
        return
    operations = expected if isinstance(expected, list) else [expected]
    assert len(result) == len(operations)
    for impacted in result:
        match = _matching(operations, impacted, source)
        before = source if impacted.operation == "patch" else {}
        _assert_holds(_comparable(match["unstructuredObj"], impacted.object, before), impacted.object, "")


def _expected_action(item: dict[str, Any]) -> ResourceAction:
    from reconcile.health._actions import ActionParameter

    params = tuple(ActionParameter(p["name"], p.get("type"), p.get("default")) for p in item.get("params") or ())
    return ResourceAction(
        name=item["name"],
        disabled=bool(item.get("disabled", False)),
        display_name=item.get("displayName") or "",
        icon_class=item.get("iconClass") or "",
        params=params,
    )


def _matching(operations: list[dict[str, Any]], impacted: ImpactedResource, source: dict[str, Any]) -> dict[str, Any]:
    """The expected operation for ``impacted``: same operation and kind, same name, or for a Job or Workflow
    created from a schedule, a name that starts with the source's (the rest is a time stamp)."""
    made = impacted.object
    for operation in operations:
        wanted = operation["unstructuredObj"]
        if operation["k8sOperation"] != impacted.operation or wanted["kind"] != made["kind"]:
            continue
        name = wanted["metadata"].get("name", "")
        generated = made["kind"] in ("Job", "Workflow") and impacted.operation == "create"
        if name == made["metadata"].get("name") or (generated and name.startswith(source["metadata"]["name"])):
            return operation
    raise AssertionError(f"no expected operation for {impacted.operation} {made['kind']} {made['metadata']}")


_TIMESTAMPS = ("workflows.argoproj.io/scheduled-time",)
_BOOKKEEPING = ("creationTimestamp", "generation", "resourceVersion", "uid", "selfLink", "managedFields")


def _comparable(expected: dict[str, Any], result: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """``expected`` without the server's metadata bookkeeping, and with only the status fields the action changed."""
    trimmed = dict(expected)
    trimmed["metadata"] = {k: v for k, v in (expected.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    if "status" in expected:
        trimmed["status"] = _changed(expected["status"], result.get("status"), before.get("status"))
    return trimmed


def _changed(expected: Any, result: Any, before: Any) -> Any:
    """The part of ``expected`` at the paths where ``result`` differs from ``before``."""
    if isinstance(expected, dict) and isinstance(result, dict | None) and isinstance(before, dict | None):
        result, before = result or {}, before or {}
        keys = {k for k in set(result) | set(before) | set(expected) if result.get(k) != before.get(k)}
        return {k: _changed(expected.get(k), result.get(k), before.get(k)) for k in keys if k in expected}
    return expected


def _assert_holds(expected: Any, actual: Any, path: str) -> None:
    """Every field of ``expected`` is in ``actual`` with an equal value (numbers as numbers)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key == "name" and path.endswith(".metadata") and path.count(".") == 1:
                continue  # created objects' generated names were matched by prefix
            if key in _TIMESTAMPS:
                continue
            if value is None:
                assert actual.get(key) is None, f"{path}.{key} should be absent, is {actual[key]!r}"
                continue
            assert key in actual, f"{path}.{key} is missing"
            _assert_holds(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, expected {len(expected)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            _assert_holds(want, got, f"{path}[{index}]")
    elif isinstance(expected, int | float) and not isinstance(expected, bool):
        assert isinstance(actual, int | float), f"{path}: {actual!r} is not a number"
        assert float(actual) == float(expected), f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
