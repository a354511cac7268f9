import pytest

from reconcile.diff import DiffSettings, KnownTypeField, compare
from reconcile.errors import ConfigurationError


def _rollout(cpu: str, env: list | None, timeout: str) -> dict:
    container = {"name": "web", "image": "web:1", "resources": {"limits": {"cpu": cpu}}}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {"spec": {"containers": [container]}},
            "progressDeadline": timeout,
            "steps": [{"pause": {"duration": timeout}}, {"pause": {"duration": "1h"}}],
        },
    }


SETTINGS = DiffSettings(
    known_types=[
        KnownTypeField(group="argoproj.io", kind="Rollout", field="spec.template.spec", type="core/v1/PodSpec"),
        KnownTypeField(group="argoproj.io", kind="Rollout", field="spec.progressDeadline", type="meta/v1/Duration"),
        KnownTypeField.from_argo(
            "argoproj.io/Rollout", {"field": "spec.steps[].pause.duration", "type": "meta/v1/Duration"}
        ),
    ]
)


def _paths(desired: dict, live: dict, settings: DiffSettings = SETTINGS) -> list[str]:
    # The live object as a controller wrote it back, with the desired object's apply recorded.
    return [change.path for change in compare(desired, live, predicted_live=desired, settings=settings).changes]


def test_a_registered_pod_spec_compares_quantities_by_value_and_empty_lists_as_absent():
    desired = _rollout("1000m", [], "90m")
    live = _rollout("1", None, "1h30m0s")
    assert _paths(desired, live) == []
    # Without the registration a custom resource is compared as stored JSON.
    assert _paths(desired, live, DiffSettings()) == [
        "/spec/progressDeadline",
        "/spec/steps/0/pause/duration",
        "/spec/template/spec/containers/0/env",
        "/spec/template/spec/containers/0/resources/limits/cpu",
    ]


def test_real_differences_in_registered_fields_still_show():
    assert _paths(_rollout("500m", None, "90m"), _rollout("1", None, "2h")) == [
        "/spec/progressDeadline",
        "/spec/steps/0/pause/duration",
        "/spec/template/spec/containers/0/resources/limits/cpu",
    ]


def test_other_kinds_are_untouched():
    other = KnownTypeField(group="argoproj.io", kind="Experiment", field="spec.template.spec", type="core/v1/PodSpec")
    desired, live = _rollout("1000m", None, "1m"), _rollout("1", None, "1m")
    assert _paths(desired, live, DiffSettings(known_types=[other])) == [
        "/spec/template/spec/containers/0/resources/limits/cpu"
    ]


@pytest.mark.parametrize(
    ("field", "type_name", "message"),
    [
        ("spec.template.spec", "core/v1/Nonsense!", "expected 'meta/v1/Duration'"),
        ("spec.template.spec", "example.com/v1/Widget", "built-in type"),
        ("", "core/v1/PodSpec", "dotted path"),
        ("spec..template", "core/v1/PodSpec", "dotted path"),
    ],
)
def test_bad_registrations_are_configuration_errors(field: str, type_name: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        KnownTypeField(group="argoproj.io", kind="Rollout", field=field, type=type_name)


def test_argo_entries_are_checked():
    with pytest.raises(ConfigurationError, match="expected"):
        KnownTypeField.from_argo("argoproj.io/Rollout", {"field": "spec.template.spec"})
    known = KnownTypeField.from_argo("Pod", {"field": "spec.overhead", "type": "core/v1/ResourceList"})
    assert (known.group, known.kind) == ("", "Pod")
