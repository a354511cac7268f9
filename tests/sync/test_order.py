from reconcile.model import ResourceKey
from reconcile.sync._order import KIND_ORDER, apply_order, kind_rank, prune_order


def test_kind_order_matches_the_reference():
    assert KIND_ORDER[:3] == ("Namespace", "NetworkPolicy", "ResourceQuota")
    assert KIND_ORDER.index("CustomResourceDefinition") < KIND_ORDER.index("Service")
    assert KIND_ORDER.index("Service") < KIND_ORDER.index("Deployment") < KIND_ORDER.index("Ingress")
    assert KIND_ORDER[-1] == "APIService"
    assert len(KIND_ORDER) == 35


def test_unknown_kinds_come_after_every_known_kind():
    assert kind_rank("Widget") == len(KIND_ORDER) > kind_rank("APIService")


def test_apply_order_sorts_by_kind_then_name_and_prune_reverses_it():
    keys = [
        ResourceKey("apps", "Deployment", "default", "web"),
        ResourceKey("example.com", "Widget", "default", "w"),
        ResourceKey("", "Service", "default", "web"),
        ResourceKey("", "ConfigMap", "default", "b"),
        ResourceKey("", "ConfigMap", "default", "a"),
        ResourceKey("", "Namespace", "", "default"),
        ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"),
    ]
    ordered = apply_order(keys)
    assert [k.kind for k in ordered] == [
        "Namespace",
        "ConfigMap",
        "ConfigMap",
        "CustomResourceDefinition",
        "Service",
        "Deployment",
        "Widget",
    ]
    assert [k.name for k in ordered[1:3]] == ["a", "b"]
    assert prune_order(keys) == list(reversed(ordered))
