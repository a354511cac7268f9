from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest

from reconcile.argocd.hooks import HookDeletePolicy, SyncPhase
from reconcile.argocd.tracking import annotate
from reconcile.diff import DiffResult, compare
from reconcile.errors import ConfigurationError
from reconcile.model import GroupKind, Manifest, Resource, ResourceKey, SyncAction
from reconcile.sync._options import Permission, SyncOptions
from reconcile.sync._plan import NO_PRUNE, REQUIRES_PRUNING, SyncPlan, SyncTask, build_plan

APP = "shop"
PRE, SYNC, POST, FAIL = SyncPhase.PRE_SYNC, SyncPhase.SYNC, SyncPhase.POST_SYNC, SyncPhase.SYNC_FAIL
WIDGET = GroupKind("example.com", "Widget")


def make(
    kind: str,
    name: str,
    namespace: str = "ns",
    *,
    api: str = "v1",
    wave: int | None = None,
    options: str | None = None,
    hook: str | None = None,
    app: str | None = APP,
    **fields: Any,
) -> Manifest:
    annotations: dict[str, str] = {}
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    if options is not None:
        annotations["argocd.argoproj.io/sync-options"] = options
    if hook is not None:
        annotations["argocd.argoproj.io/hook"] = hook
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    obj = {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}
    return annotate(obj, app) if app else obj


def cm(name: str, namespace: str = "ns", **kwargs: Any) -> Manifest:
    return make("ConfigMap", name, namespace, data={"k": "v"}, **kwargs)


def crd() -> Manifest:
    spec = {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced"}
    return make("CustomResourceDefinition", "widgets.example.com", "", api="apiextensions.k8s.io/v1", spec=spec)


def widget(name: str, **kwargs: Any) -> Manifest:
    return make("Widget", name, api="example.com/v1", spec={}, **kwargs)


def plan_of(
    desired: list[Manifest],
    live: Sequence[Manifest] = (),
    *,
    hooks: Sequence[Manifest] = (),
    **kwargs: Any,
) -> SyncPlan:
    """A plan from desired and live objects, compared for real."""
    targets = [Resource.from_manifest(m) for m in desired]
    live_by_key = {ResourceKey.from_manifest(m): m for m in live}
    diffs = [compare(t.manifest, live_by_key.pop(t.key, None)) for t in targets]
    diffs += [compare(None, m) for m in live_by_key.values()]
    return build_plan(
        app=APP,
        targets=targets,
        diff=DiffResult(diffs),
        hooks=[Resource.from_manifest(h) for h in hooks],
        **kwargs,
    )


def names(tasks: tuple[SyncTask, ...] | list[SyncTask]) -> list[str]:
    return [t.key.name for t in tasks]


def task(plan: SyncPlan, name: str) -> SyncTask:
    (found,) = [t for t in plan.tasks if t.key.name == name]
    return found


# -- actions and reasons ------------------------------------------------------------------------------------


def test_missing_changed_and_in_sync_objects() -> None:
    changed = cm("changed")
    plan = plan_of([cm("new"), changed, cm("same")], [cm("same"), {**changed, "data": {"k": "old"}}])
    assert [(t.key.name, t.action, t.reason) for t in plan.tasks] == [
        ("changed", SyncAction.UPDATE, "out of sync"),
        ("new", SyncAction.CREATE, "missing"),
        ("same", SyncAction.UPDATE, "in sync"),
    ]
    assert all(t.phase is SYNC and t.wave == 0 and not t.hook for t in plan.tasks)
    assert task(plan, "same").live is not None
    assert task(plan, "new").live is None
    assert task(plan, "new").manifest == cm("new")
    assert not plan.failed
    assert plan.warnings == ()


def test_apply_out_of_sync_only_leaves_in_sync_objects_alone() -> None:
    plan = plan_of([cm("new"), cm("same")], [cm("same")], options=SyncOptions(apply_out_of_sync_only=True))
    assert (task(plan, "same").action, task(plan, "same").reason) == (SyncAction.NONE, "in sync")
    assert task(plan, "new").action is SyncAction.CREATE


def test_apply_out_of_sync_only_per_object() -> None:
    same = cm("same", options="ApplyOutOfSyncOnly=true")
    plan = plan_of([same, cm("other")], [same, cm("other")])
    assert task(plan, "same").action is SyncAction.NONE
    assert task(plan, "other").action is SyncAction.UPDATE


def test_a_target_missing_from_the_comparison_is_created() -> None:
    plan = build_plan(app=APP, targets=[Resource.from_manifest(cm("a"))], diff=DiffResult([]))
    assert (plan.tasks[0].action, plan.tasks[0].reason) == (SyncAction.CREATE, "missing")


def test_each_task_carries_its_resolved_options() -> None:
    plan = plan_of([cm("a", options="Replace=true")], options=SyncOptions(force=True))
    assert (task(plan, "a").options.replace, task(plan, "a").options.force) == (True, True)


# -- ordering -----------------------------------------------------------------------------------------------


def test_kind_order_then_name_within_a_wave() -> None:
    desired = [
        make("Deployment", "web", api="apps/v1"),
        widget("w"),
        make("Service", "b"),
        make("Service", "a"),
        cm("c"),
        make("Namespace", "other", ""),
        make("Gadget", "a", api="example.com/v1"),
    ]
    plan = plan_of(desired)
    assert [(t.key.kind, t.key.name) for t in plan.tasks] == [
        ("Namespace", "other"),
        ("ConfigMap", "c"),
        ("Service", "a"),
        ("Service", "b"),
        ("Deployment", "web"),
        ("Gadget", "a"),
        ("Widget", "w"),
    ]


def test_waves_come_before_kind_order_and_steps_group_them() -> None:
    plan = plan_of([cm("late", wave=5), make("Deployment", "d", api="apps/v1", wave=-1), cm("zero")])
    assert names(plan.tasks) == ["d", "zero", "late"]
    assert [(phase, wave, names(tasks)) for phase, wave, tasks in plan.steps()] == [
        (SYNC, -1, ["d"]),
        (SYNC, 0, ["zero"]),
        (SYNC, 5, ["late"]),
    ]


def test_phases_run_in_order_and_sync_fail_last() -> None:
    hooks = [
        make("Job", "after", api="batch/v1", hook="PostSync"),
        make("Job", "failed", api="batch/v1", hook="SyncFail"),
        make("Job", "before", api="batch/v1", hook="PreSync"),
        make("Job", "during", api="batch/v1", hook="Sync", wave=2),
    ]
    plan = plan_of([cm("app", wave=1)], hooks=hooks)
    assert [(t.phase, t.wave, t.key.name) for t in plan.tasks] == [
        (PRE, 0, "before"),
        (SYNC, 1, "app"),
        (SYNC, 2, "during"),
        (POST, 0, "after"),
        (FAIL, 0, "failed"),
    ]
    assert [(p, w, names(t)) for p, w, t in plan.steps()] == [
        (PRE, 0, ["before"]),
        (SYNC, 1, ["app"]),
        (SYNC, 2, ["during"]),
        (POST, 0, ["after"]),
        (FAIL, 0, ["failed"]),
    ]


def test_a_namespace_moves_ahead_of_the_first_object_in_it() -> None:
    plan = plan_of([make("Namespace", "space", "", wave=5), cm("early", "space", wave=-2), cm("x", "ns", wave=-3)])
    assert [(t.key.kind, t.key.name, t.wave) for t in plan.tasks] == [
        ("ConfigMap", "x", -3),
        ("Namespace", "space", -2),
        ("ConfigMap", "early", -2),
    ]
    assert [(w, names(t)) for _, w, t in plan.steps()] == [(-3, ["x"]), (-2, ["space", "early"])]


def test_a_namespace_moves_into_the_phase_of_a_hook_that_needs_it() -> None:
    plan = plan_of(
        [make("Namespace", "space", "")], hooks=[make("Job", "seed", "space", api="batch/v1", hook="PreSync")]
    )
    assert [(t.phase, t.key.kind) for t in plan.tasks] == [(PRE, "Namespace"), (PRE, "Job")]


def test_a_namespace_nobody_needs_earlier_stays_put() -> None:
    plan = plan_of([make("Namespace", "space", "", wave=1), cm("later", "space", wave=3)])
    assert [(t.key.kind, t.wave) for t in plan.tasks] == [("Namespace", 1), ("ConfigMap", 3)]


def test_a_crd_moves_ahead_of_its_first_custom_resource() -> None:
    definition = crd()
    definition["metadata"].setdefault("annotations", {})["argocd.argoproj.io/sync-wave"] = "3"
    plan = plan_of([definition, widget("w", wave=1), cm("c", wave=1), widget("v", wave=4)])
    assert [(t.key.kind, t.key.name, t.wave) for t in plan.tasks] == [
        ("ConfigMap", "c", 1),
        ("CustomResourceDefinition", "widgets.example.com", 1),
        ("Widget", "w", 1),
        ("Widget", "v", 4),
    ]


# -- hooks --------------------------------------------------------------------------------------------------


def test_unnamed_hooks_are_named_per_operation_and_phase() -> None:
    hook = make("Job", "", api="batch/v1", hook="PreSync,PostSync")
    del hook["metadata"]["name"]
    hook["metadata"]["generateName"] = "migrate-"
    original = copy.deepcopy(hook)
    plan = plan_of([], hooks=[hook], operation_id="op-1")
    pre, post = plan.tasks
    assert (pre.phase, post.phase) == (PRE, POST)
    assert pre.key.name.startswith("migrate-")
    assert post.key.name.startswith("migrate-")
    assert pre.key.name != post.key.name
    assert pre.manifest is not None
    assert pre.manifest["metadata"]["name"] == pre.key.name
    assert "generateName" not in pre.manifest["metadata"]
    assert hook == original  # the caller's object is untouched
    again = plan_of([], hooks=[hook], operation_id="op-1")
    assert names(again.tasks) == names(plan.tasks)
    assert names(plan_of([], hooks=[hook], operation_id="op-2").tasks) != names(plan.tasks)


def test_hook_tasks_carry_hook_facts() -> None:
    hook = make("Job", "seed", api="batch/v1", hook="Sync")
    hook["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"] = "HookSucceeded"
    (found,) = plan_of([], hooks=[hook]).tasks
    assert found.hook
    assert (found.action, found.reason, found.live) == (SyncAction.CREATE, "hook", None)
    assert found.delete_policies == frozenset({HookDeletePolicy.HOOK_SUCCEEDED})


def test_hooks_among_targets_are_planned_as_hooks_and_skipped_ones_dropped() -> None:
    desired = [cm("app"), make("Job", "pre", api="batch/v1", hook="PreSync"), cm("ignored", hook="Skip")]
    plan = plan_of(desired)
    assert [(t.phase, t.key.name, t.hook) for t in plan.tasks] == [(PRE, "pre", True), (SYNC, "app", False)]


def test_helm_hooks_use_their_weight_as_wave() -> None:
    hook = make("Job", "seed", api="batch/v1")
    hook["metadata"]["annotations"].update({"helm.sh/hook": "post-install", "helm.sh/hook-weight": "-5"})
    (found,) = plan_of([], hooks=[hook]).tasks
    assert (found.phase, found.wave) == (POST, -5)


def test_a_hook_left_over_in_the_cluster_is_never_pruned() -> None:
    leftover = make("Job", "old-hook", api="batch/v1", hook="PreSync")
    plan = plan_of([cm("app")], [leftover], prune=True)
    assert names(plan.tasks) == ["app"]


# -- prune --------------------------------------------------------------------------------------------------


def test_prune_only_what_this_app_tracks() -> None:
    live = [cm("mine"), cm("theirs", app="other"), cm("untracked", app=None)]
    plan = plan_of([], live, prune=True, allow_empty=True)
    (pruned,) = plan.tasks
    assert (pruned.key.name, pruned.action, pruned.reason, pruned.skip_message) == (
        "mine",
        SyncAction.PRUNE,
        "requires pruning",
        "",
    )
    assert pruned.manifest is None
    assert pruned.live == cm("mine")
    assert pruned.prune


def test_prune_messages() -> None:
    live = [cm("plain"), cm("kept", options="Prune=false")]
    without = plan_of([cm("app")], live)
    assert {t.key.name: t.skip_message for t in without.tasks if t.prune} == {
        "plain": REQUIRES_PRUNING,
        "kept": REQUIRES_PRUNING,
    }
    assert REQUIRES_PRUNING == "ignored (requires pruning)"
    with_prune = plan_of([cm("app")], live, prune=True)
    assert {t.key.name: t.skip_message for t in with_prune.tasks if t.prune} == {"plain": "", "kept": NO_PRUNE}
    assert NO_PRUNE == "ignored (no prune)"
    assert task(with_prune, "kept").skipped
    assert task(with_prune, "kept").options.prune is Permission.DENY


def test_prune_confirm_waits_for_confirmation() -> None:
    live = [cm("a", options="Prune=confirm"), cm("b", options="Prune=confirm"), cm("c")]
    plan = plan_of([cm("app")], live, prune=True)
    assert [t.key.name for t in plan.awaiting_confirmation] == ["a", "b"]
    assert not task(plan, "c").confirm
    assert plan.confirmation_message() == "Waiting for pruning confirmation of v1/ConfigMap/a and 1 more resources"
    single = plan_of([cm("app")], live[:1], prune=True)
    assert single.confirmation_message() == "Waiting for pruning confirmation of v1/ConfigMap/a"
    assert plan_of([cm("app")], live[2:], prune=True).confirmation_message() == ""
    not_pruning = plan_of([cm("app")], live[:1])
    assert not_pruning.awaiting_confirmation == ()


def test_prune_waves_are_mirrored() -> None:
    live = [cm("w0", wave=0), cm("w1", wave=1), cm("w5", wave=5), cm("also0", wave=0)]
    plan = plan_of([cm("app", wave=3)], live, prune=True)
    assert {t.key.name: t.wave for t in plan.tasks if t.prune} == {"w5": 0, "w1": 1, "w0": 5, "also0": 5}
    assert [(w, names(t)) for _, w, t in plan.steps()] == [
        (0, ["w5"]),
        (1, ["w1"]),
        (3, ["app"]),
        (5, ["also0", "w0"]),
    ]


def test_prune_last_moves_prunes_after_the_last_sync_wave() -> None:
    live = [cm("w0", wave=0), cm("w9", wave=9)]
    desired = [cm("app", wave=2), make("Job", "post", api="batch/v1", hook="PostSync", wave=7)]
    plan = plan_of(desired, live, prune=True, options=SyncOptions(prune_last=True))
    assert {t.key.name: t.wave for t in plan.tasks if t.prune} == {"w0": 3, "w9": 3}
    assert [(p, w, names(t)) for p, w, t in plan.steps()] == [
        (SYNC, 2, ["app"]),
        (SYNC, 3, ["w0", "w9"]),
        (POST, 7, ["post"]),
    ]


def test_prune_last_per_object() -> None:
    live = [cm("last", wave=0, options="PruneLast=true"), cm("normal", wave=0)]
    plan = plan_of([cm("app", wave=-4)], live, prune=True)
    assert {t.key.name: t.wave for t in plan.tasks if t.prune} == {"last": 1, "normal": 0}


def test_an_object_being_deleted_is_not_deleted_again() -> None:
    going = cm("going")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    plan = plan_of([cm("app")], [going, cm("stays")], prune=True)
    assert task(plan, "going").deleting
    assert not task(plan, "stays").deleting
    assert "already being deleted" in str(plan)


def test_a_bad_wave_on_a_leftover_does_not_block_its_prune() -> None:
    leftover = cm("old")
    leftover["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "soon"
    plan = plan_of([cm("app")], [leftover], prune=True)
    assert task(plan, "old").wave == 0


def test_a_bad_wave_on_a_target_is_a_configuration_error() -> None:
    target = cm("new")
    target["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "soon"
    with pytest.raises(ConfigurationError) as info:
        plan_of([target])
    assert str(info.value) == "ConfigMap/ns/new: argocd.argoproj.io/sync-wave 'soon' is not an integer"


# -- empty render -------------------------------------------------------------------------------------------


def test_an_empty_render_prunes_nothing_without_allow_empty() -> None:
    plan = plan_of([], [cm("a"), cm("b")], prune=True)
    assert plan.tasks == ()
    assert plan.warnings == ("the render is empty: nothing is pruned unless allow_empty is set",)


def test_an_empty_render_with_only_hooks_still_prunes_nothing() -> None:
    plan = plan_of([], [cm("a")], hooks=[make("Job", "h", api="batch/v1", hook="PreSync")], prune=True)
    assert names(plan.tasks) == ["h"]


def test_an_empty_render_prunes_with_allow_empty() -> None:
    plan = plan_of([], [cm("a"), cm("b")], prune=True, allow_empty=True)
    assert [(t.key.name, t.action, t.skip_message) for t in plan.tasks] == [
        ("a", SyncAction.PRUNE, ""),
        ("b", SyncAction.PRUNE, ""),
    ]
    assert plan.warnings == ()


def test_an_empty_render_without_prune_reports_leftovers() -> None:
    plan = plan_of([], [cm("a")])
    assert [(t.key.name, t.skip_message) for t in plan.tasks] == [("a", REQUIRES_PRUNING)]


# -- shared resources ---------------------------------------------------------------------------------------


def test_an_object_tracked_by_another_app_is_a_warning() -> None:
    plan = plan_of([cm("shared"), cm("mine")], [cm("shared", app="billing"), cm("mine")])
    expected = "shared resource: configmap/shared is part of application billing"
    assert task(plan, "shared").warning == expected
    assert task(plan, "shared").error == ""
    assert task(plan, "mine").warning == ""
    assert plan.warnings == (f"ConfigMap/ns/shared: {expected}",)
    assert not plan.failed


def test_fail_on_shared_resource_fails_the_plan() -> None:
    options = SyncOptions(fail_on_shared_resource=True)
    plan = plan_of([cm("shared")], [cm("shared", app="billing")], options=options)
    assert task(plan, "shared").error == "shared resource: configmap/shared is part of application billing"
    assert task(plan, "shared").warning == ""
    assert plan.failed
    assert plan.problems == ("ConfigMap/ns/shared: shared resource: configmap/shared is part of application billing",)
    assert "(cannot run)" in plan.summary()


def test_an_untracked_live_object_is_not_shared() -> None:
    plan = plan_of([cm("adopt")], [cm("adopt", app=None)])
    assert task(plan, "adopt").warning == ""


# -- dry-run ------------------------------------------------------------------------------------------------


def test_custom_resources_of_a_crd_in_the_plan_skip_dry_run_while_not_served() -> None:
    unserved = plan_of([crd(), widget("w")], served=lambda gk: None if gk == WIDGET else True)
    assert task(unserved, "w").skip_dry_run
    assert not task(unserved, "widgets.example.com").skip_dry_run
    served = plan_of([crd(), widget("w")], served=lambda gk: True)
    assert not task(served, "w").skip_dry_run


def test_an_unserved_kind_without_its_crd_is_dry_run() -> None:
    plan = plan_of([widget("w")], served=lambda gk: None)
    assert not task(plan, "w").skip_dry_run


@pytest.mark.parametrize("where", ["app", "object"])
def test_skip_dry_run_on_missing_resource(where: str) -> None:
    options = SyncOptions(skip_dry_run_on_missing_resource=where == "app")
    w = widget("w", options="SkipDryRunOnMissingResource=true" if where == "object" else None)
    assert task(plan_of([w], served=lambda gk: None, options=options), "w").skip_dry_run
    assert not task(plan_of([w], served=lambda gk: False, options=options), "w").skip_dry_run


def test_objects_in_a_namespace_the_plan_creates_skip_dry_run() -> None:
    plan = plan_of([make("Namespace", "new", ""), cm("a", "new"), cm("b", "old")])
    assert task(plan, "a").skip_dry_run
    assert not task(plan, "b").skip_dry_run
    existing = plan_of([make("Namespace", "new", ""), cm("a", "new")], [make("Namespace", "new", "")])
    assert not task(existing, "a").skip_dry_run


def test_create_namespace_adds_an_untracked_presync_namespace() -> None:
    plan = plan_of([cm("a", "dest")], create_namespace="dest")
    first = plan.tasks[0]
    assert (first.phase, first.key, first.action, first.reason) == (
        PRE,
        ResourceKey("", "Namespace", "", "dest"),
        SyncAction.CREATE,
        "CreateNamespace",
    )
    assert first.manifest == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dest"}}
    assert task(plan, "a").skip_dry_run


def test_create_namespace_takes_a_manifest_with_managed_metadata() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dest", "labels": {"team": "a"}}}
    plan = plan_of([], create_namespace=namespace)
    assert plan.tasks[0].manifest == namespace
    assert plan.tasks[0].manifest is not namespace


def test_create_namespace_defers_to_a_namespace_in_the_targets() -> None:
    plan = plan_of([make("Namespace", "dest", "")], create_namespace="dest")
    assert [(t.phase, t.reason) for t in plan.tasks] == [(SYNC, "missing")]


# -- preview ------------------------------------------------------------------------------------------------


def test_the_preview_says_what_happens_where_and_why() -> None:
    live = [cm("old"), cm("kept", options="Prune=false"), cm("same")]
    desired = [cm("new", wave=1), cm("same")]
    hooks = [make("Job", "fail", api="batch/v1", hook="SyncFail")]
    plan = plan_of(desired, live, hooks=hooks, prune=True)
    text = str(plan)
    assert text.splitlines() == [
        "sync plan for shop: 2 to create, 1 to update, 1 to prune, 0 unchanged, 1 skipped",
        "Sync wave 0:",
        "  skip    ns/configmap/kept  (requires pruning; ignored (no prune))",
        "  prune   ns/configmap/old  (requires pruning)",
        "  update  ns/configmap/same  (in sync)",
        "Sync wave 1:",
        "  create  ns/configmap/new  (missing)",
        "SyncFail wave 0 (only when the sync fails):",
        "  create  ns/job.batch/fail  (hook)",
    ]
    page = plan._repr_html_()
    assert "<table>" in page
    assert "ignored (no prune)" in page
    assert page.count("<tr>") == 1 + 5


def test_the_preview_lists_problems_and_warnings() -> None:
    plan = plan_of([cm("shared")], [cm("shared", app="billing")], options=SyncOptions(fail_on_shared_resource=True))
    assert str(plan).splitlines()[-1] == (
        "problem: ConfigMap/ns/shared: shared resource: configmap/shared is part of application billing"
    )
    assert "problem: " in plan._repr_html_()
