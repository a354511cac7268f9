from __future__ import annotations

from typing import Any

import pytest

from reconcile.argocd.hooks import (
    HookDeletePolicy,
    SyncPhase,
    delete_policies,
    hook_name,
    hook_phases,
    is_hook,
    split_hooks,
    sync_wave,
)
from reconcile.errors import ConfigurationError, ManifestError
from reconcile.manifests import validate_manifest
from reconcile.model import Resource, ResourceKey

PRE, SYNC, POST, FAIL = SyncPhase.PRE_SYNC, SyncPhase.SYNC, SyncPhase.POST_SYNC, SyncPhase.SYNC_FAIL


def job(name: str | None = "migrate", generate: str | None = None, **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"namespace": "ns", "annotations": dict(annotations)}
    if name is not None:
        metadata["name"] = name
    if generate is not None:
        metadata["generateName"] = generate
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": {}}


def argo(value: str) -> dict[str, Any]:
    return job(**{"argocd.argoproj.io/hook": value})


def helm(value: str) -> dict[str, Any]:
    return job(**{"helm.sh/hook": value})


def test_a_plain_object_is_not_a_hook() -> None:
    assert hook_phases(job()) is None
    assert not is_hook(job())


@pytest.mark.parametrize(
    ("value", "phases"),
    [
        ("PreSync", (PRE,)),
        ("Sync", (SYNC,)),
        ("PostSync", (POST,)),
        ("SyncFail", (FAIL,)),
        ("PostSync,PreSync", (PRE, POST)),
        (" PreSync , SyncFail ", (PRE, FAIL)),
        ("Skip", ()),
        ("Skip,PostSync", (POST,)),
        ("Unknown", ()),
    ],
)
def test_argo_hook_annotation(value: str, phases: tuple[SyncPhase, ...]) -> None:
    assert hook_phases(argo(value)) == phases
    assert is_hook(argo(value))


@pytest.mark.parametrize(
    ("value", "phases"),
    [
        ("pre-install", (PRE,)),
        ("pre-upgrade", (PRE,)),
        ("post-install", (POST,)),
        ("post-upgrade", (POST,)),
        ("pre-install,post-upgrade", (PRE, POST)),
        ("test", ()),
        ("pre-delete", ()),
    ],
)
def test_helm_hook_annotation(value: str, phases: tuple[SyncPhase, ...]) -> None:
    assert hook_phases(helm(value)) == phases


def test_helm_crd_install_is_not_a_hook() -> None:
    assert hook_phases(helm("crd-install")) is None


def test_argo_annotation_wins_over_helm_and_helm_speaks_when_argo_names_no_phase() -> None:
    both = job(**{"argocd.argoproj.io/hook": "PostSync", "helm.sh/hook": "pre-install"})
    assert hook_phases(both) == (POST,)
    unknown = job(**{"argocd.argoproj.io/hook": "Whatever", "helm.sh/hook": "pre-install"})
    assert hook_phases(unknown) == (PRE,)


@pytest.mark.parametrize(
    ("annotations", "policies"),
    [
        ({}, {HookDeletePolicy.BEFORE_HOOK_CREATION}),
        ({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}, {HookDeletePolicy.HOOK_SUCCEEDED}),
        (
            {"argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed"},
            {HookDeletePolicy.HOOK_SUCCEEDED, HookDeletePolicy.HOOK_FAILED},
        ),
        ({"argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}, {HookDeletePolicy.BEFORE_HOOK_CREATION}),
        ({"helm.sh/hook-delete-policy": "before-hook-creation"}, {HookDeletePolicy.BEFORE_HOOK_CREATION}),
        ({"helm.sh/hook-delete-policy": "hook-succeeded"}, {HookDeletePolicy.HOOK_SUCCEEDED}),
        ({"helm.sh/hook-delete-policy": "hook-failed"}, {HookDeletePolicy.HOOK_FAILED}),
        (
            {"argocd.argoproj.io/hook-delete-policy": "HookFailed", "helm.sh/hook-delete-policy": "hook-succeeded"},
            {HookDeletePolicy.HOOK_FAILED, HookDeletePolicy.HOOK_SUCCEEDED},
        ),
        ({"argocd.argoproj.io/hook-delete-policy": "Nonsense"}, {HookDeletePolicy.BEFORE_HOOK_CREATION}),
    ],
)
def test_delete_policies(annotations: dict[str, str], policies: set[HookDeletePolicy]) -> None:
    assert delete_policies(job(**annotations)) == frozenset(policies)


@pytest.mark.parametrize(
    ("annotations", "wave"),
    [
        ({}, 0),
        ({"argocd.argoproj.io/sync-wave": "5"}, 5),
        ({"argocd.argoproj.io/sync-wave": "-3"}, -3),
        ({"argocd.argoproj.io/sync-wave": " 2 "}, 2),
        ({"helm.sh/hook-weight": "7"}, 7),
        ({"argocd.argoproj.io/sync-wave": "1", "helm.sh/hook-weight": "9"}, 1),
    ],
)
def test_sync_wave(annotations: dict[str, str], wave: int) -> None:
    assert sync_wave(job(**annotations)) == wave


@pytest.mark.parametrize("value", ["one", "1.5", "1_000", ""])
def test_a_wave_that_is_not_an_integer_names_the_object(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        sync_wave(job(**{"argocd.argoproj.io/sync-wave": value}))
    assert "batch/Job/ns/migrate: argocd.argoproj.io/sync-wave" in str(info.value)
    assert "is not an integer" in str(info.value)


def test_a_bad_hook_weight_names_the_generate_name() -> None:
    with pytest.raises(ConfigurationError) as info:
        sync_wave(job(name=None, generate="migrate-", **{"helm.sh/hook-weight": "x"}))
    assert "batch/Job/ns/migrate-: helm.sh/hook-weight 'x'" in str(info.value)


def test_split_hooks_drops_skipped_ones() -> None:
    plain, pre, skipped, test = (
        Resource.from_manifest(m) for m in (job("plain"), argo("PreSync"), argo("Skip"), helm("test"))
    )
    normal, hooks = split_hooks([plain, pre, skipped, test])
    assert normal == (plain,)
    assert hooks == (pre,)


def test_a_named_hook_keeps_its_name() -> None:
    assert hook_name(argo("PreSync"), "op-1") == "migrate"


def test_generate_name_gives_a_deterministic_unique_name() -> None:
    hook = job(name=None, generate="migrate-", **{"argocd.argoproj.io/hook": "PreSync"})
    first = hook_name(hook, "op-1", PRE)
    assert first.startswith("migrate-")
    assert len(first) == len("migrate-") + 10
    assert first == hook_name(hook, "op-1", PRE)
    assert first != hook_name(hook, "op-2", PRE)
    assert first != hook_name(hook, "op-1", POST)
    changed = job(name=None, generate="migrate-", **{"argocd.argoproj.io/hook": "PreSync", "x": "y"})
    assert first != hook_name(changed, "op-1", PRE)
    assert first == first.lower()


def test_a_long_generate_name_is_cut_to_the_api_limit() -> None:
    name = hook_name(job(name=None, generate="a" * 300), "op")
    assert len(name) == 253


def test_a_hook_without_any_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="batch/Job/ns: a hook needs a name or a generateName"):
        hook_name(job(name=None), "op")


def test_manifests_accept_generate_name_without_name() -> None:
    hook = job(name=None, generate="migrate-")
    validate_manifest(hook, file="hooks.yaml", line=1)
    assert ResourceKey.from_manifest(hook) == ResourceKey("batch", "Job", "ns", "")


def test_manifests_still_refuse_no_name_and_a_bad_generate_name() -> None:
    with pytest.raises(ManifestError) as info:
        validate_manifest(job(name=None), file="a.yaml", line=1)
    assert str(info.value) == "a.yaml:1: Job has no metadata.name"
    bad = job(name=None)
    bad["metadata"]["generateName"] = 5
    with pytest.raises(ManifestError) as info:
        validate_manifest(bad, file="a.yaml", line=1)
    assert str(info.value) == "a.yaml:1: Job has metadata.generateName that is a number, not a string"
