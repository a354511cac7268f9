from reconcile.argocd import tracking
from reconcile.model import ResourceKey


def _cm(name: str = "cfg", namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


def test_annotate_writes_the_reference_format_without_touching_the_input():
    obj = _cm()
    tracked = tracking.annotate(obj, "guestbook")
    assert tracked["metadata"]["annotations"] == {tracking.TRACKING_ANNOTATION: "guestbook:/ConfigMap:default/cfg"}
    assert "annotations" not in obj["metadata"]


def test_tracking_id_of_a_grouped_cluster_scoped_object():
    key = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
    assert tracking.tracking_id("app", key) == "app:rbac.authorization.k8s.io/ClusterRole:/reader"


def test_owner_is_the_app_named_by_a_matching_id():
    tracked = tracking.annotate(_cm(), "guestbook")
    assert tracking.owner(tracked) == "guestbook"
    assert tracking.is_owned_by(tracked, "guestbook")
    assert not tracking.is_owned_by(tracked, "other")


def test_a_copied_annotation_does_not_make_another_object_owned():
    copied = _cm(name="copy")
    copied["metadata"]["annotations"] = tracking.annotate(_cm(), "guestbook")["metadata"]["annotations"]
    assert tracking.owner(copied) is None


def test_untracked_and_malformed_annotations_have_no_owner():
    assert tracking.owner(_cm()) is None
    bad = _cm()
    bad["metadata"]["annotations"] = {tracking.TRACKING_ANNOTATION: "no-separator"}
    assert tracking.owner(bad) is None


def test_naming_a_generate_name_object_moves_its_tracking_to_the_name():
    hook = tracking.annotate(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "migrate-", "namespace": "ns"}}, "demo"
    )
    assert hook["metadata"]["annotations"][tracking.TRACKING_ANNOTATION] == "demo:batch/Job:ns/"
    named = tracking.named(hook, "migrate-1a2b")
    assert named["metadata"] == {
        "name": "migrate-1a2b",
        "namespace": "ns",
        "annotations": {tracking.TRACKING_ANNOTATION: "demo:batch/Job:ns/migrate-1a2b"},
    }
    assert tracking.owner(named) == "demo"
    assert "generateName" in hook["metadata"], "the original is left alone"
    # A copied annotation that named another object never becomes valid by a rename.
    other = {
        **hook,
        "metadata": {**hook["metadata"], "annotations": {tracking.TRACKING_ANNOTATION: "x:/ConfigMap:ns/a"}},
    }
    assert tracking.owner(tracking.named(other, "a")) is None
