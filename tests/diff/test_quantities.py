"""Resource quantities are compared by value."""

from __future__ import annotations

from decimal import Decimal

import pytest

import reconcile as rc
from reconcile.diff._quantities import canonical, quantity_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "1"),
        ("1000m", "1"),
        ("0.1", "0.1"),
        ("100m", "0.1"),
        ("3Gi", str(3 * 2**30)),
        ("3072Mi", str(3 * 2**30)),
        ("1e3", "1000"),
        ("1k", "1000"),
        ("500u", "0.0005"),
        (".5", "0.5"),
        ("-2", "-2"),
    ],
)
def test_quantities_have_one_value(text, value):
    assert quantity_value(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "5 Gi", "1Gb", "Gi"])
def test_other_text_is_no_quantity(text):
    assert quantity_value(text) is None
    assert canonical(text) == text


def test_equal_values_share_one_spelling():
    assert canonical("1000m") == canonical("1") == canonical(1) == "1"
    assert canonical("0.1") == canonical("100m") == "0.1"
    assert canonical("3072Mi") == canonical("3Gi")
    assert canonical(True) is True


def deployment(cpu: str, memory: str) -> dict:
    container = {"name": "web", "image": "nginx", "resources": {"limits": {"cpu": cpu, "memory": memory}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def test_spellings_of_one_quantity_are_not_drift_but_other_values_are():
    live = deployment("1", "3Gi")

    assert not rc.diff.compare(deployment("1000m", "3072Mi"), live).modified
    changed = rc.diff.compare(deployment("1500m", "3Gi"), live)
    assert [c.path for c in changed.changes] == ["/spec/template/spec/containers/0/resources/limits/cpu"]


def test_custom_resources_keep_their_strings():
    live = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"limits": {"ratio": "1.0"}},
    }
    desired = {**live, "spec": {"limits": {"ratio": "1"}}}

    assert rc.diff.compare(desired, live).modified
