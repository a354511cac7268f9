from reconcile.argocd.annotations import COMPARE_OPTIONS, SYNC_OPTIONS, has_option, object_options


def _with(annotations: dict) -> dict:
    return {"metadata": {"annotations": annotations}}


def test_options_are_comma_separated_and_trimmed():
    obj = _with({SYNC_OPTIONS: " Prune=false , Replace=true,", COMPARE_OPTIONS: "ServerSideDiff=false"})
    assert object_options(obj) == {"Prune=false", "Replace=true"}
    assert has_option(obj, "Prune=false")
    assert not has_option(obj, "ServerSideDiff=false")
    assert has_option(obj, "ServerSideDiff=false", COMPARE_OPTIONS)


def test_no_annotations_no_options():
    assert object_options(None) == frozenset()
    assert object_options({"metadata": {}}) == frozenset()
