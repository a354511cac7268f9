"""The reference engine's verdict on every case of the shared diff conformance corpus.

The corpus (``shared/conformance/diff/cases.yaml``, fixtures beside it) comes from the gitops-engine diff tests;
its header says what each kind of case means. ``edit`` cases change the fixtures first (JSON pointer -> value,
``null`` deletes); ``server-side`` cases pass the server's dry-run answer as ``predicted_live``;
``structured-merge`` cases are compared as the field manager that applied the live object (the Apply entry of
its ``managedFields``: ``argocd-controller`` in these fixtures), since what that manager applied before decides
what a removal from the desired state prunes.

The project's own cases (``tests/diff/fixtures/cases.yaml``, small objects written for these tests) go through the
same runner, one or more per corpus case (their ``covers`` names it): the behaviours stay tested where the shared
folder is absent, as in a fresh clone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconcile.diff import compare
from reconcile.diff._changes import pointer_parts
from reconcile.manifests import load_manifests

CONFORMANCE = Path(__file__).parents[2] / ".." / "shared" / "conformance" / "diff"
OWN = Path(__file__).parent / "fixtures"
KINDS = {"live-compare", "edit", "server-side", "structured-merge"}


def _load(path: Path) -> dict[str, Any]:
    [(obj, _)] = load_manifests(path.read_bytes(), file=path.name)
    return obj


def _cases() -> list[Any]:
    index = CONFORMANCE / "cases.yaml"
    if not index.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {index}"))]
    return [pytest.param(case, id=case["name"]) for case in _load(index)["cases"]]


def _own_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = _load(OWN / "cases.yaml")["cases"]
    return cases


def _edit(obj: dict[str, Any], edits: dict[str, Any] | None) -> dict[str, Any]:
    for text, value in (edits or {}).items():
        *parents, last = pointer_parts(text)
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return obj


def _applier(live: dict[str, Any]) -> str:
    managers = [
        entry["manager"] for entry in live["metadata"].get("managedFields") or [] if entry.get("operation") == "Apply"
    ]
    assert len(managers) == 1, f"a structured-merge fixture needs one Apply manager, has {managers}"
    return str(managers[0])


def _check(case: dict[str, Any], fixtures: Path) -> None:
    """Compare the case's objects from ``fixtures`` as its kind says, and assert its verdict."""
    config = _edit(_load(fixtures / case["config"]), case.get("config_edits"))
    live = _edit(_load(fixtures / case["live"]), case.get("live_edits"))
    options: dict[str, Any] = dict(case.get("options") or {})
    if case["kind"] == "server-side":
        options["predicted_live"] = _load(fixtures / case["predicted_live"])
        options["manager"] = "argocd-controller"  # the manager the reference engine applied these fixtures with
    elif case["kind"] == "structured-merge":
        options["manager"] = _applier(live)

    diff = compare(config, live, **options)

    shown = [str(change) for change in diff.changes]
    assert diff.modified is case["modified"], shown
    assert bool(diff.changes) is case["modified"]
    found = {f"{change.symbol} {change.path}" for change in diff.changes}
    missing = [want for want in case.get("expect_changes") or [] if want not in found]
    assert not missing, f"expected changes {missing} not in {shown}"
    if "changes" in case:
        assert [f"{change.symbol} {change.path}" for change in diff.changes] == case["changes"], shown


@pytest.mark.parametrize("case", _cases())
def test_reference_verdict(case: dict[str, Any]) -> None:
    _check(case, CONFORMANCE / "fixtures")


@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"]) for case in _own_cases()])
def test_own_case_verdict(case: dict[str, Any]) -> None:
    _check(case, OWN)


def test_own_cases_have_every_kind_and_name_what_they_cover() -> None:
    cases = _own_cases()
    assert {case["kind"] for case in cases} == KINDS
    assert all(case.get("covers") for case in cases)
    assert len({case["name"] for case in cases}) == len(cases)
    assert {case["modified"] for case in cases} == {True, False}


def test_the_conformance_corpus_is_found(conformance_diff: Path) -> None:
    # The corpus ships with the project's shared folder; a missing one skips the cases above, loudly here.
    cases = _load(conformance_diff / "cases.yaml")["cases"]
    assert len(cases) >= 24
    assert {case["kind"] for case in cases} == {"live-compare", "edit", "server-side", "structured-merge"}


def test_every_corpus_case_has_an_own_case(conformance_diff: Path) -> None:
    # What the corpus checks must stay checked without it: an own case covers each of its cases, in the same kind.
    covered = {(case["covers"], case["kind"]) for case in _own_cases()}
    corpus = {(case["name"], case["kind"]) for case in _load(conformance_diff / "cases.yaml")["cases"]}
    assert sorted(corpus - covered) == []


# The mechanisms behind the corpus verdicts, on small objects (these run without the corpus).

_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _cm(data: dict[str, str], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", **metadata},
        "data": data,
    }


def test_a_key_dropped_since_the_last_kubectl_apply_is_drift_even_when_kubectl_owns_it() -> None:
    applied = _cm({"a": "1", "b": "2"})
    live = _cm({"a": "1", "b": "2", "c": "3"}, annotations={_LAST_APPLIED: json.dumps(applied)})
    # kubectl's own Update entry owns what it applied and the annotation; another actor owns `c`.
    live["metadata"]["managedFields"] = [
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "fieldsV1": {
                "f:data": {"f:a": {}, "f:b": {}},
                "f:metadata": {"f:annotations": {"f:" + _LAST_APPLIED: {}}},
            },
        },
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:c": {}}}},
    ]
    diff = compare(_cm({"a": "1"}), live)
    assert [str(change) for change in diff.changes] == ["- /data/b"]


def test_without_the_annotation_a_live_only_key_is_not_drift() -> None:
    assert not compare(_cm({"a": "1"}), _cm({"a": "1", "b": "2"})).modified


def _statefulset(claim: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "ns"},
        "spec": {"serviceName": "db", "volumeClaimTemplates": [claim]},
    }


def test_a_local_prediction_takes_only_the_defaults_live_shows() -> None:
    desired = _statefulset({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}})
    live = _statefulset({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}})
    live["spec"]["volumeClaimTemplates"][0]["status"] = {"phase": "Pending"}
    # An older server did not default volumeMode: not filled in, so not reported either way.
    assert compare(desired, live).changes == ()
    # A value other than the default the desired object leaves out is still drift.
    live["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = "Block"
    assert [str(c) for c in compare(desired, live).changes] == ["- /spec/volumeClaimTemplates/0/spec/volumeMode"]


def test_empty_lists_equal_absent_ones_only_for_built_in_kinds() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}
    assert not compare({**role, "rules": []}, {**role, "rules": None}).modified
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}}
    assert [str(c) for c in compare({**custom, "items": []}, custom).changes] == ["+ /items: []"]


def test_endpoints_order_is_not_drift_but_a_changed_address_is() -> None:
    def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "e", "namespace": "ns"},
            "subsets": list(subsets),
        }

    a = {
        "addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}],
        "ports": [{"port": 80}, {"port": 81, "protocol": "UDP"}],
    }
    b = {"addresses": [{"ip": "10.0.1.1"}], "ports": [{"port": 90, "protocol": "TCP"}]}
    b_live = {"addresses": [{"ip": "10.0.1.1"}], "ports": [{"port": 90}]}
    a_live = {
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
        "ports": [{"port": 81, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}],
    }
    assert not compare(endpoints(a, b), endpoints(b_live, a_live)).modified
    moved = {**b_live, "addresses": [{"ip": "10.0.1.9"}]}
    assert compare(endpoints(a, b), endpoints(moved, a_live)).modified
