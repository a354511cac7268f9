from __future__ import annotations

from typing import Any

import pytest

from reconcile.errors import ConfigurationError
from reconcile.sync._options import ObjectOptions, Permission, SyncOptions


def obj(options: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "x", "namespace": "ns"}
    if options is not None:
        metadata["annotations"] = {"argocd.argoproj.io/sync-options": options}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def test_defaults_match_the_reference() -> None:
    options = SyncOptions.parse([])
    assert options == SyncOptions()
    assert options.server_side_apply is True
    assert options.validate is True
    assert options.prune_propagation == "Foreground"
    assert not options.prune_last
    assert not options.apply_out_of_sync_only


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("PruneLast=true", "prune_last", True),
        ("ApplyOutOfSyncOnly=true", "apply_out_of_sync_only", True),
        ("ServerSideApply=true", "server_side_apply", True),
        ("ServerSideApply=false", "server_side_apply", False),
        ("Replace=true", "replace", True),
        ("Force=true", "force", True),
        ("Validate=false", "validate", False),
        ("Validate=true", "validate", True),
        ("SkipDryRunOnMissingResource=true", "skip_dry_run_on_missing_resource", True),
        ("PrunePropagationPolicy=foreground", "prune_propagation", "Foreground"),
        ("PrunePropagationPolicy=background", "prune_propagation", "Background"),
        ("PrunePropagationPolicy=orphan", "prune_propagation", "Orphan"),
        ("CreateNamespace=true", "create_namespace", True),
        ("RespectIgnoreDifferences=true", "respect_ignore_differences", True),
        ("FailOnSharedResource=true", "fail_on_shared_resource", True),
        (" PruneLast=true ", "prune_last", True),
    ],
)
def test_every_option_string(text: str, field: str, value: object) -> None:
    assert getattr(SyncOptions.parse([text]), field) == value


def test_several_options_combine() -> None:
    options = SyncOptions.parse(["PruneLast=true", "ServerSideApply=false", "PrunePropagationPolicy=orphan"])
    assert (options.prune_last, options.server_side_apply, options.prune_propagation) == (True, False, "Orphan")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("PruneLast", "'PruneLast' is not of the form Name=value"),
        ("PruneLast=yes", "'PruneLast=yes': PruneLast must be true or false"),
        ("Validate=False", "'Validate=False': Validate must be true or false"),
        ("PrunePropagationPolicy=Foreground", "PrunePropagationPolicy must be foreground, background or orphan"),
        ("Prunelast=true", "unknown sync option 'Prunelast=true'"),
        ("Prune=false", "unknown sync option 'Prune=false'"),
    ],
)
def test_unknown_or_malformed_strings_are_refused_by_name(text: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SyncOptions.parse(["PruneLast=true", text])
    assert words in str(info.value)


def test_object_without_annotation_takes_the_app_options() -> None:
    app = SyncOptions.parse(["Replace=true", "PrunePropagationPolicy=background", "ServerSideApply=false"])
    resolved = app.for_object(obj())
    assert resolved == ObjectOptions(replace=True, server_side_apply=False, prune_propagation="Background")
    assert app.for_object(None) == resolved


@pytest.mark.parametrize(
    ("annotation", "field", "value"),
    [
        ("Prune=false", "prune", Permission.DENY),
        ("Prune=confirm", "prune", Permission.CONFIRM),
        ("Prune=true", "prune", Permission.ALLOW),
        ("Delete=false", "delete", Permission.DENY),
        ("Delete=confirm", "delete", Permission.CONFIRM),
        ("PruneLast=true", "prune_last", True),
        ("ApplyOutOfSyncOnly=true", "apply_out_of_sync_only", True),
        ("ServerSideApply=false", "server_side_apply", False),
        ("Replace=true", "replace", True),
        ("Force=true", "force", True),
        ("Validate=false", "validate", False),
        ("SkipDryRunOnMissingResource=true", "skip_dry_run_on_missing_resource", True),
    ],
)
def test_object_annotation_sets_each_option(annotation: str, field: str, value: object) -> None:
    assert getattr(SyncOptions().for_object(obj(annotation)), field) == value


def test_object_annotation_overrides_the_app_both_ways() -> None:
    app = SyncOptions.parse(["Replace=true", "ServerSideApply=true", "ApplyOutOfSyncOnly=true"])
    resolved = app.for_object(obj("Replace=false, ServerSideApply=false,ApplyOutOfSyncOnly=false,Force=true"))
    assert (resolved.replace, resolved.server_side_apply, resolved.apply_out_of_sync_only, resolved.force) == (
        False,
        False,
        False,
        True,
    )


def test_object_annotation_ignores_what_it_does_not_know() -> None:
    assert SyncOptions().for_object(obj("ClientSideApplyMigration=false,Prune=maybe,junk")) == ObjectOptions()


def test_object_cannot_change_app_level_only_options() -> None:
    app = SyncOptions.parse(["PrunePropagationPolicy=orphan"])
    assert app.for_object(obj("PrunePropagationPolicy=foreground")).prune_propagation == "Orphan"


def test_prune_false_wins_over_confirm() -> None:
    assert SyncOptions().for_object(obj("Prune=confirm,Prune=false")).prune is Permission.DENY
