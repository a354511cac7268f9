import base64
import copy

from reconcile.diff._normalize import normalize, prepare_desired


def _live_deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "5f1c",
            "resourceVersion": "812",
            "generation": 4,
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "selfLink": "/apis/apps/v1/namespaces/default/deployments/web",
            "deletionTimestamp": "2024-05-02T10:00:00Z",
            "deletionGracePeriodSeconds": 30,
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}],
            "labels": {"app": "web"},
        },
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}}, "spec": {}},
        },
        "status": {"replicas": 2},
    }


def test_normalize_drops_server_only_fields_and_leaves_the_input_alone():
    live = _live_deployment()
    before = copy.deepcopy(live)
    assert normalize(live) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {}}},
    }
    assert live == before


def test_normalize_keeps_a_real_creation_timestamp_below_the_top():
    obj = {"kind": "X", "spec": {"template": {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}}}
    assert normalize(obj) == obj


def test_prepare_desired_folds_string_data_into_data():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default", "creationTimestamp": None},
        "stringData": {"password": "hunter2"},
    }
    prepared = prepare_desired(secret)
    assert prepared["data"] == {"password": base64.b64encode(b"hunter2").decode()}
    assert "stringData" not in prepared
    assert prepared["metadata"] == {"name": "s", "namespace": "default"}
    assert secret["stringData"] == {"password": "hunter2"}


def test_prepare_desired_fills_list_key_defaults():
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    assert prepare_desired(service)["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert service["spec"]["ports"] == [{"port": 80}]


def test_normalize_reads_null_map_entries_as_absent_but_keeps_list_items():
    obj = {"kind": "X", "spec": {"a": None, "b": [None, {"c": None, "d": 1}], "e": {"f": None}}}
    assert normalize(obj) == {"kind": "X", "spec": {"b": [None, {"d": 1}], "e": {}}}
