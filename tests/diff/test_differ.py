import copy
import json
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.apiserver import LAST_APPLIED, newest_version
from reconcile.diff import ArgoDiffer, Change, DiffResult, DiffSettings, ResourceDiff, compare
from reconcile.errors import DiffError
from reconcile.manifests import load_manifests
from reconcile.model import Resource, ResourceKey, SyncStatus

WEB = ResourceKey("apps", "Deployment", "default", "web")


def _deployment(replicas: int = 2, labels: dict[str, str] | None = None, containers: list | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers or [{"name": "app", "image": "web:1"}]},
            },
        },
    }


def _fields(value: Any) -> dict[str, Any]:
    """The FieldsV1 set of every field in ``value`` (what an apply of it makes its manager own)."""
    result: dict[str, Any] = {}
    for key, child in value.items():
        if isinstance(child, dict):
            result[f"f:{key}"] = {".": {}, **_fields(child)} if child else {}
        elif isinstance(child, list) and child and all(isinstance(i, dict) and "name" in i for i in child):
            result[f"f:{key}"] = {
                "k:" + json.dumps({"name": i["name"]}, separators=(",", ":")): {".": {}, **_fields(i)} for i in child
            }
        else:
            result[f"f:{key}"] = {}
    return result


def _entry(manager: str, fields: dict[str, Any], operation: str = "Apply", subresource: str = "") -> dict:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": "apps/v1",
        "time": "2024-05-01T10:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _as_live(applied: dict, *extra_entries: dict) -> dict:
    """``applied`` as stored after ``reconcile`` applied it: with defaults, status, server metadata."""
    live = copy.deepcopy(applied)
    ours = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    ours["metadata"] = {k: v for k, v in applied["metadata"].items() if k not in ("name", "namespace")}
    live["metadata"] |= {
        "uid": "8d1f6c3a",
        "resourceVersion": "1842",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "annotations": {"deployment.kubernetes.io/revision": "3"},
        "managedFields": [_entry("reconcile", _fields(ours)), *extra_entries],
    }
    spec = live["spec"]
    spec |= {
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    }
    spec["template"]["metadata"]["creationTimestamp"] = None
    spec["template"]["spec"] |= {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
    }
    for container in spec["template"]["spec"]["containers"]:
        container |= {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}
    live["status"] = {"replicas": spec["replicas"], "observedGeneration": 3}
    return live


def _controller_entry() -> dict:
    fields = {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}
    return _entry("kube-controller-manager", fields, operation="Update")


def test_identical_objects_have_no_changes():
    live = _as_live(_deployment(), _controller_entry())
    diff = compare(_deployment(), live)
    assert diff.changes == ()
    assert not diff.modified
    assert not diff.missing
    assert not diff.requires_pruning
    assert diff.status is SyncStatus.SYNCED
    assert diff.key == WEB


def test_fields_only_the_server_set_are_not_drift():
    live = _as_live(_deployment(), _controller_entry())
    diff = compare(_deployment(), live)
    assert diff.changes == ()
    # ...and they stay visible in the live and predicted objects.
    assert diff.live is not None
    assert diff.live["status"] == {"replicas": 2, "observedGeneration": 3}
    assert diff.predicted is not None
    assert diff.predicted["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_replicas_drift_is_exactly_one_replacement():
    diff = compare(_deployment(replicas=3), _as_live(_deployment(replicas=2), _controller_entry()))
    assert diff.changes == (Change(op="replace", path="/spec/replicas", old=2, new=3),)
    assert [str(c) for c in diff.changes] == ["~ /spec/replicas: 2 -> 3"]
    assert diff.modified
    assert diff.status is SyncStatus.OUT_OF_SYNC


def test_label_add_remove_and_replace():
    live = _as_live(_deployment(labels={"app": "web", "chart": "web-1.0", "release": "r1"}))
    desired = _deployment(labels={"app": "web", "chart": "web-1.1", "foo": "bar"})
    assert [str(c) for c in compare(desired, live).changes] == [
        "~ /metadata/labels/chart: web-1.0 -> web-1.1",
        "+ /metadata/labels/foo: bar",
        "- /metadata/labels/release",
    ]


def test_label_keys_are_escaped_in_pointers():
    live = _as_live(_deployment(labels={"app.kubernetes.io/name": "web", "odd~key": "a"}))
    desired = _deployment(labels={"app.kubernetes.io/name": "site", "odd~key": "b"})
    assert [c.path for c in compare(desired, live).changes] == [
        "/metadata/labels/app.kubernetes.io~1name",
        "/metadata/labels/odd~0key",
    ]


def test_a_field_this_manager_dropped_is_drift():
    applied = _deployment()
    applied["spec"]["minReadySeconds"] = 5
    diff = compare(_deployment(), _as_live(applied))
    assert diff.changes == (Change(op="remove", path="/spec/minReadySeconds", old=5),)


def test_a_field_another_manager_set_is_not_drift():
    live = _as_live(_deployment())
    live["metadata"]["labels"]["team"] = "blue"
    team = {"f:metadata": {"f:labels": {"f:team": {}}}}
    live["metadata"]["managedFields"].append(_entry("kubectl-label", team, operation="Update"))
    diff = compare(_deployment(), live)
    assert diff.changes == ()


def test_a_field_this_manager_set_by_update_is_not_removed():
    live = _as_live(_deployment())
    live["metadata"]["labels"]["team"] = "blue"
    team = {"f:metadata": {"f:labels": {"f:team": {}}}}
    live["metadata"]["managedFields"].append(_entry("reconcile", team, operation="Update"))
    assert compare(_deployment(), live).changes == ()


def test_containers_are_paired_by_name():
    two = [{"name": "app", "image": "web:1"}, {"name": "proxy", "image": "envoy:1"}]
    live = _as_live(_deployment(containers=two))
    changed = [{"name": "app", "image": "web:1"}, {"name": "proxy", "image": "envoy:2"}]
    assert [str(c) for c in compare(_deployment(containers=changed), live).changes] == [
        "~ /spec/template/spec/containers/1/image: envoy:1 -> envoy:2"
    ]
    without_app = [{"name": "proxy", "image": "envoy:1"}]
    assert [c.path for c in compare(_deployment(containers=without_app), live).changes] == [
        "/spec/template/spec/containers/0"
    ]


def _with_injected_proxy(live: dict) -> dict:
    answer = copy.deepcopy(live)
    answer["spec"]["template"]["spec"]["containers"].insert(
        0, {"name": "init-proxy", "image": "envoy:1", "imagePullPolicy": "IfNotPresent"}
    )
    return answer


def test_predicted_live_from_the_server_is_used_as_given_with_include_mutation_webhook():
    live = _as_live(_deployment())
    answer = _with_injected_proxy(live)
    diff = compare(_deployment(), live, predicted_live=answer, settings=DiffSettings(include_mutation_webhook=True))
    assert [str(c) for c in diff.changes] == [
        '+ /spec/template/spec/containers/0: {"name": "init-proxy", "image": "envoy:1", "imagePullPolicy": '
        '"IfNotPresent"}'
    ]
    assert diff.predicted == answer
    assert diff.predicted is not answer


def test_what_a_webhook_adds_to_the_server_answer_is_not_drift_unless_the_object_asks():
    live = _as_live(_deployment())
    answer = _with_injected_proxy(live)
    assert compare(_deployment(), live, predicted_live=answer).changes == ()
    asking = _deployment()
    asking["metadata"]["annotations"] = {"argocd.argoproj.io/compare-options": "IncludeMutationWebhook=true"}
    live["metadata"]["annotations"] = answer["metadata"]["annotations"] = dict(asking["metadata"]["annotations"])
    diff = compare(asking, live, predicted_live=answer)
    assert [change.path for change in diff.changes] == ["/spec/template/spec/containers/0"]


def test_missing_object():
    diff = compare(_deployment(), None)
    assert diff.missing
    assert diff.modified
    assert diff.changes == ()
    assert diff.live is None
    assert diff.predicted is not None
    assert diff.predicted["spec"]["replicas"] == 2


def test_object_to_prune():
    diff = compare(None, _as_live(_deployment()))
    assert diff.requires_pruning
    assert diff.modified
    assert diff.changes == ()
    assert diff.desired is None
    assert diff.predicted is None
    assert diff.key == WEB


def test_compare_copies_and_never_mutates_its_inputs():
    desired, live = _deployment(replicas=3), _as_live(_deployment())
    desired_before, live_before = copy.deepcopy(desired), copy.deepcopy(live)
    diff = compare(desired, live)
    assert (desired, live) == (desired_before, live_before)
    assert diff.live == live
    assert diff.live is not live


def test_compare_can_share_the_live_object_and_still_masks_a_secret_on_a_copy():
    desired, live = _deployment(replicas=3), _as_live(_deployment())
    live_before = copy.deepcopy(live)
    diff = compare(desired, live, share_live=True)
    assert diff.live is live
    assert live == live_before
    assert [str(c) for c in diff.changes] == ["~ /spec/replicas: 2 -> 3"]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"password": "c2VjcmV0"},
    }
    live_secret = copy.deepcopy(secret)
    live_secret["metadata"]["resourceVersion"] = "5"
    shown = compare(secret, live_secret, share_live=True)
    assert shown.live is not live_secret
    assert live_secret["data"] == {"password": "c2VjcmV0"}
    assert "c2VjcmV0" not in json.dumps(shown.live)


def test_the_reconcilers_diffs_hold_its_live_objects_once():
    cluster = rc.MemoryCluster()
    app = rc.Reconciler(
        name="web",
        source=rc.DirectorySource(Path(__file__).parents[2] / "examples" / "guestbook"),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
    )
    app.reconcile()
    first = app.reconcile()
    again = app.reconcile()
    for before, after in zip(first.diff.resources, again.diff.resources, strict=True):
        assert after.live is before.live  # unchanged objects: neither read nor copied again
        assert after.predicted is after.live  # in sync: the prediction is the live object itself


def test_desired_without_namespace_takes_the_live_one():
    desired = _deployment()
    del desired["metadata"]["namespace"]
    diff = compare(desired, _as_live(_deployment()))
    assert diff.key == WEB
    assert diff.changes == ()


def test_compare_refuses_nothing_and_mismatched_objects():
    with pytest.raises(DiffError, match="both"):
        compare(None, None)
    other = _as_live(_deployment())
    other["metadata"]["name"] = "api"
    with pytest.raises(DiffError, match="apps/Deployment/default/api") as caught:
        compare(_deployment(), other)
    assert caught.value.key == WEB


def _cm(name: str, value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"v": value},
    }


def _cm_key(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", "default", name)


def test_differ_compares_targets_and_reports_live_objects_without_target():
    targets = [
        Resource.from_manifest(_deployment(replicas=3)),
        Resource.from_manifest(_cm("new", "1")),
        Resource.from_manifest(_cm("kept", "1")),
    ]
    live = {
        WEB: _as_live(_deployment()),
        _cm_key("kept"): _cm("kept", "1"),
        _cm_key("gone"): _cm("gone", "1"),
    }
    result = ArgoDiffer().diff(targets, live)
    assert [d.key for d in result] == [_cm_key("gone"), _cm_key("kept"), _cm_key("new"), WEB]
    assert len(result) == 4
    assert result.modified
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert [d.key for d in result.modified_resources] == [_cm_key("gone"), _cm_key("new"), WEB]
    assert result[_cm_key("gone")].requires_pruning
    assert result[_cm_key("new")].missing
    assert not result[_cm_key("kept")].modified
    assert [str(c) for c in result[WEB].changes] == ["~ /spec/replicas: 2 -> 3"]
    assert result.get(_cm_key("absent")) is None
    assert _cm_key("kept") in result
    assert _cm_key("absent") not in result
    with pytest.raises(KeyError):
        result[_cm_key("absent")]


def test_differ_uses_its_field_manager():
    applied = _deployment()
    applied["spec"]["minReadySeconds"] = 5
    live = _as_live(applied)
    assert ArgoDiffer().diff([Resource.from_manifest(_deployment())], {WEB: live}).modified
    assert not ArgoDiffer(manager="someone-else").diff([Resource.from_manifest(_deployment())], {WEB: live}).modified


def test_differ_refuses_a_target_twice():
    twice = [Resource.from_manifest(_cm("a", "1")), Resource.from_manifest(_cm("a", "2"))]
    with pytest.raises(DiffError, match="twice"):
        ArgoDiffer().diff(twice, {})


def test_result_is_sorted_and_refuses_duplicates():
    a, b = compare(_cm("a", "1"), None), compare(_cm("b", "1"), None)
    assert DiffResult([b, a]).resources == (a, b)
    with pytest.raises(DiffError, match="twice"):
        DiffResult([a, a])
    assert isinstance(a, ResourceDiff)


def test_secret_values_stay_masked_in_the_wordpress_fixture(conformance_diff):
    config = json.loads((conformance_diff / "fixtures" / "wordpress-config.json").read_text())
    live = json.loads((conformance_diff / "fixtures" / "wordpress-live.json").read_text())
    secret = config["data"]["wordpress-password"]
    live["data"]["wordpress-password"] = "c29tZXRoaW5nLWVsc2U="
    diff = compare(config, live)
    assert "~ /data/wordpress-password: ++++++++++++ -> ++++++++" in [str(c) for c in diff.changes]
    text = str(diff) + diff.unified() + diff._repr_html_() + json.dumps([diff.desired, diff.live, diff.predicted])
    assert secret not in text
    assert "c29tZXRoaW5nLWVsc2U=" not in text


def test_secret_values_stay_masked_in_a_kubectl_applied_secret():
    # The project's own Secret (tests/diff/fixtures): live as `kubectl apply` left it, last-applied annotation and all.
    fixtures = Path(__file__).parent / "fixtures"
    ((config, _),) = load_manifests((fixtures / "secret-config.yaml").read_text(), file="config")
    ((live, _),) = load_manifests((fixtures / "secret-live.yaml").read_text(), file="live")
    secret = config["data"]["admin-password"]
    applied_before = json.loads(live["metadata"]["annotations"][LAST_APPLIED])["data"]["admin-password"]
    live["data"]["admin-password"] = "c29tZXRoaW5nLWVsc2U="
    diff = compare(config, live)
    assert [str(c) for c in diff.changes] == ["~ /data/admin-password: ++++++++++++ -> ++++++++"]
    text = str(diff) + diff.unified() + diff._repr_html_() + json.dumps([diff.desired, diff.live, diff.predicted])
    for value in (secret, "c29tZXRoaW5nLWVsc2U=", applied_before, "hunter2"):
        assert value not in text


def test_list_keys_come_from_the_schema_first():
    live = _as_live(_deployment(containers=[{"name": "app", "image": "web:1", "ports": []}]))
    live["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "http", "containerPort": 80, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]
    answer = copy.deepcopy(live)
    answer["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = "web"
    # The answer's change is nobody's apply: compare it as a webhook's change.
    diff = compare(_deployment(), live, predicted_live=answer, settings=DiffSettings(include_mutation_webhook=True))
    # Container ports are keyed by port and protocol: a renamed port is one changed field, not a swap.
    assert [str(c) for c in diff.changes] == ["~ /spec/template/spec/containers/0/ports/0/name: http -> web"]


def test_a_namespace_on_a_cluster_scoped_kind_is_ignored():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
    }
    desired = copy.deepcopy(role)
    desired["metadata"]["namespace"] = "default"
    diff = compare(desired, role)
    assert diff.key == ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
    assert diff.changes == ()


class _CountingCluster:
    """A MemoryCluster that counts how often its release is asked for."""

    def __init__(self, version: str) -> None:
        self.inner = rc.MemoryCluster(version=version)
        self.asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def capabilities(self) -> rc.model.Capabilities:
        self.asked += 1
        return self.inner.capabilities()


def test_local_predictions_take_the_clusters_release_read_once():
    cluster = _CountingCluster("1.28")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "1"},
    }
    live = {rc.ResourceKey.from_manifest(cm): cluster.apply(cm)}
    target = rc.model.Resource.from_manifest(cm)
    local = rc.diff.ArgoDiffer(server_side=False)
    for _ in range(3):
        assert not local.diff([target], live, cluster=cluster).modified
    assert cluster.asked == 1
    # With the server's own predictions there is no local prediction, and the release is never asked.
    served = _CountingCluster("1.28")
    live = {rc.ResourceKey.from_manifest(cm): served.apply(cm)}
    assert not rc.diff.ArgoDiffer().diff([target], live, cluster=served).modified
    assert served.asked == 0


@pytest.mark.parametrize(
    ("kube_version", "expected"),
    [(None, "newest"), ("v1.30.4", "1.30"), ("v1.20.2", "1.25"), ("v1.99.0", "newest"), ("not a version", "newest")],
)
def test_the_release_of_a_local_prediction_is_the_nearest_modelled(kube_version, expected):
    from reconcile.diff._differ import _schema_of

    wanted = str(newest_version()) if expected == "newest" else expected
    assert str(_schema_of(kube_version).version) == wanted
