from reconcile.diff import ArgoDiffer, DiffResult, compare
from reconcile.model import Resource, ResourceKey


def _cm(name: str = "cfg", **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


def _live(obj: dict) -> dict:
    live = {**obj, "metadata": {**obj["metadata"], "uid": "0c2e", "resourceVersion": "41"}}
    live["metadata"]["creationTimestamp"] = "2024-05-01T10:00:00Z"
    return live


def _key(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", "default", name)


def test_unified_diff_of_live_against_predicted():
    diff = compare(_cm(mode="fast", size="big"), _live(_cm(mode="slow", size="big")))
    assert diff.unified() == (
        "--- live/ConfigMap/default/cfg\n"
        "+++ predicted/ConfigMap/default/cfg\n"
        "@@ -1,6 +1,6 @@\n"
        " apiVersion: v1\n"
        " data:\n"
        "-  mode: slow\n"
        "+  mode: fast\n"
        "   size: big\n"
        " kind: ConfigMap\n"
        " metadata:\n"
    )
    assert diff.unified(context=0) == (
        "--- live/ConfigMap/default/cfg\n"
        "+++ predicted/ConfigMap/default/cfg\n"
        "@@ -3 +3 @@\n"
        "-  mode: slow\n"
        "+  mode: fast\n"
    )


def test_unified_diff_of_a_missing_object_adds_every_line():
    assert compare(_cm(mode="fast"), None).unified() == (
        "--- live/ConfigMap/default/cfg\n"
        "+++ predicted/ConfigMap/default/cfg\n"
        "@@ -0,0 +1,7 @@\n"
        "+apiVersion: v1\n"
        "+data:\n"
        "+  mode: fast\n"
        "+kind: ConfigMap\n"
        "+metadata:\n"
        "+  name: cfg\n"
        "+  namespace: default\n"
    )


def test_unified_diff_of_an_object_to_prune_removes_every_line():
    assert compare(None, _live(_cm(mode="slow"))).unified() == (
        "--- live/ConfigMap/default/cfg\n"
        "+++ predicted/ConfigMap/default/cfg\n"
        "@@ -1,7 +0,0 @@\n"
        "-apiVersion: v1\n"
        "-data:\n"
        "-  mode: slow\n"
        "-kind: ConfigMap\n"
        "-metadata:\n"
        "-  name: cfg\n"
        "-  namespace: default\n"
    )


def test_unified_diff_is_empty_when_in_sync():
    assert compare(_cm(mode="fast"), _live(_cm(mode="fast"))).unified() == ""


def test_headers_name_grouped_and_cluster_scoped_keys():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
    }
    assert compare(role, None).unified().splitlines()[:2] == [
        "--- live/rbac.authorization.k8s.io/ClusterRole/reader",
        "+++ predicted/rbac.authorization.k8s.io/ClusterRole/reader",
    ]


def _application() -> DiffResult:
    targets = [
        Resource.from_manifest(_cm("same", a="1")),
        Resource.from_manifest(_cm("new", a="1")),
        Resource.from_manifest(_cm("cfg", mode="fast")),
    ]
    live = {
        _key("cfg"): _live(_cm("cfg", mode="slow")),
        _key("old"): _live(_cm("old", a="1")),
        _key("same"): _live(_cm("same", a="1")),
    }
    return ArgoDiffer().diff(targets, live)


def test_summary_lists_each_modified_object_with_its_changes():
    assert str(_application()) == (
        "OutOfSync: 3 of 4 objects differ\n"
        "configmap/cfg -n default: 1 change\n"
        "  ~ /data/mode: slow -> fast\n"
        "configmap/new -n default: missing from the cluster\n"
        "configmap/old -n default: requires pruning"
    )
    assert str(DiffResult([compare(_cm(a="1"), _live(_cm(a="1")))])) == "Synced: 1 object, no differences"


def test_result_unified_holds_every_modified_object_in_key_order():
    text = _application().unified()
    headers = [line for line in text.splitlines() if line.startswith("--- ")]
    assert headers == [
        "--- live/ConfigMap/default/cfg",
        "--- live/ConfigMap/default/new",
        "--- live/ConfigMap/default/old",
    ]
    assert text == "".join(d.unified() for d in _application().modified_resources)


def test_html_is_colored_and_escaped():
    diff = compare(_cm(note="<script>alert(1)</script>"), _live(_cm(note="a & b")))
    page = DiffResult([diff])._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page
    assert '<div style="color:#22863a;background:#f0fff4">+  note: &lt;script&gt;' in page
    assert '<div style="color:#b31d28;background:#ffeef0">-  note: a &amp; b</div>' in page
    assert "<b>OutOfSync: 1 of 1 object differs</b>" in page
    assert "<b>configmap/cfg -n default</b>: 1 change" in diff._repr_html_()


def test_html_of_an_object_in_sync_has_no_diff():
    diff = compare(_cm(a="1"), _live(_cm(a="1")))
    assert diff._repr_html_() == '<div class="reconcile-diff"><b>configmap/cfg -n default</b>: in sync</div>'
    assert DiffResult([diff])._repr_html_() == (
        '<div class="reconcile-diff-result"><p><b>Synced: 1 object, no differences</b></p></div>'
    )
