"""Verbs about objects: ``app manifests`` (render and validate), ``app actions list|run``, ``app orphans``."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from reconcile.apiserver import validate
from reconcile.argocd.hooks import hook_phases
from reconcile.argocd.tracking import OrphanIgnore
from reconcile.cli import _output as output
from reconcile.cli._app import FAILED, OK, Context, _credentials, _reconciler
from reconcile.cli._loading import load_applications, open_cluster, pick
from reconcile.cluster import MemoryCluster
from reconcile.errors import ConfigurationError
from reconcile.manifests import dump_yaml
from reconcile.model import ResourceKey
from reconcile.renderers import PluginSpec


def add(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``manifests``, ``actions`` with its ``list`` and ``run`` verbs, and ``orphans``."""
    manifests = verbs.add_parser(
        "manifests",
        parents=parents,
        help="print the objects a sync would apply (no cluster needed); --validate checks them",
        description="Print the objects a sync would apply, rendered without a cluster (argocd app manifests). "
        "With --validate, check them against a Kubernetes release's API schema (exit 1 on problems).",
    )
    manifests.set_defaults(handler=print_manifests)
    manifests.add_argument("--validate", action="store_true", help="check the objects against the API schema")
    manifests.add_argument(
        "--kube-version", default=None, metavar="VERSION", help="the Kubernetes release (default: the newest supported)"
    )
    orphan_verb = verbs.add_parser(
        "orphans",
        parents=parents,
        help="list objects in the app's namespace that no application tracks (never deletes them)",
        description="List the objects in the application's namespace that no application tracks (Argo CD's "
        "orphaned resources). Nothing is deleted.",
    )
    orphan_verb.set_defaults(handler=list_orphans)
    orphan_verb.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GROUP/KIND[/NAME]",
        help="never report these (shell patterns; GROUP empty for the core group; repeatable)",
    )
    actions = verbs.add_parser(
        "actions",
        help="list or run resource actions (restart, scale, ...) on an object of the application",
        description="List or run Argo CD's resource actions on an object of the application (needs --catalogue).",
    )
    which = actions.add_subparsers(dest="action_verb", required=True, metavar="VERB")
    for name, handler, help_text in (
        ("list", list_actions, "list the actions the object offers"),
        ("run", run, "run an action and apply what it changes"),
    ):
        parser = which.add_parser(
            name, parents=parents, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        parser.set_defaults(handler=handler)
        if name == "run":
            parser.add_argument("action", help="the action's name")
            parser.add_argument(
                "--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter (repeatable)"
            )
            parser.add_argument("--dry-run", action="store_true", help="let the server validate the changes only")
        parser.add_argument("--kind", required=True, help="the object's kind")
        parser.add_argument("--resource-name", required=True, help="the object's name")
        parser.add_argument("--group", default="", help="the object's API group (empty for the core group)")
        parser.add_argument("--namespace", default=None, help="the object's namespace (the app's by default)")


def _key(ctx: Context, namespace: str) -> ResourceKey:
    args = ctx.args
    return ResourceKey(
        args.group, args.kind, args.namespace if args.namespace is not None else namespace, args.resource_name
    )


def list_actions(ctx: Context) -> int:
    """Print the actions the object offers, as ``argocd app actions list`` does."""
    with _reconciler(ctx) as (_, reconciler):
        found = reconciler.actions(_key(ctx, reconciler.namespace))
    if ctx.output in ("json", "yaml"):
        items = [
            {
                "name": a.name,
                "disabled": a.disabled,
                "displayName": a.display_name,
                "params": [p.name for p in a.params],
            }
            for a in found
        ]
        ctx.out.write(output.structured({"actions": items}, ctx.output))
    else:
        rows = [[a.name, "true" if a.disabled else "false", ", ".join(p.name for p in a.params)] for a in found]
        ctx.out.write(output.table(["ACTION", "DISABLED", "PARAMS"], rows))
    return OK


def run(ctx: Context) -> int:
    """Run the action and apply its changes; print each change."""
    params = {}
    for item in ctx.args.param:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise ConfigurationError(f"--param {item!r}: expected NAME=VALUE")
        params[name] = value
    with _reconciler(ctx) as (_, reconciler):
        outcome = reconciler.run_action(
            _key(ctx, reconciler.namespace), ctx.args.action, params, dry_run=ctx.args.dry_run
        )
    suffix = " (dry run)" if outcome.dry_run else ""
    if ctx.output in ("json", "yaml"):
        changes = [{"operation": c.operation, "key": str(c.key), "patch": c.patch} for c in outcome.changes]
        ctx.out.write(
            output.structured({"action": outcome.action, "dryRun": outcome.dry_run, "changes": changes}, ctx.output)
        )
    elif not outcome.changes:
        ctx.out.write(f"action {outcome.action!r} on {outcome.key} changed nothing{suffix}\n")
    else:
        for change in outcome.changes:
            word = "patched" if change.operation == "patch" else "created"
            ctx.out.write(f"{change.key} {word}{suffix}\n")
    return OK


def list_orphans(ctx: Context) -> int:
    """Print the orphans, as Argo CD's orphaned resources view lists them."""
    rules = []
    for text in ctx.args.ignore:
        parts = text.split("/")
        if len(parts) not in (2, 3):
            raise ConfigurationError(f"--ignore {text!r}: expected GROUP/KIND or GROUP/KIND/NAME")
        rules.append(OrphanIgnore(*parts))
    with _reconciler(ctx) as (_, reconciler):
        found = reconciler.orphans(ignore=rules)
    if ctx.output in ("json", "yaml"):
        items = [{"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name} for k in found]
        ctx.out.write(output.structured({"orphans": items}, ctx.output))
    else:
        ctx.out.write(
            output.table(
                ["GROUP", "KIND", "NAMESPACE", "NAME"], [[k.group, k.kind, k.namespace, k.name] for k in found]
            )
        )
    return OK


def print_manifests(ctx: Context) -> int:
    """Render the Application and print its objects; with ``--validate``, list their problems and exit 1."""
    args = ctx.args
    app = pick(load_applications(args.file, ctx.warn), args.app, args.control_plane_namespace)
    cluster = ctx.cluster
    if cluster is None and args.kubeconfig is None:
        cluster = MemoryCluster(version=args.kube_version)
    with contextlib.ExitStack() as stack:
        if cluster is None:
            cluster = stack.enter_context(open_cluster(memory=False, kubeconfig=args.kubeconfig, context=args.context))
        resources = app.render(
            cluster,
            cache_dir=args.cache_dir,
            local=args.local,
            revision=args.revision,
            credentials=_credentials(args),
            plugins=[PluginSpec.from_file(path) for path in args.plugin],
        )
    if ctx.output in ("json", "yaml"):
        ctx.out.write(
            output.structured(
                {"apiVersion": "v1", "kind": "List", "items": [r.manifest for r in resources]}, ctx.output
            )
        )
    else:
        documents = []
        for resource in resources:
            phases = hook_phases(resource.manifest)
            comment = f"# Source: {resource.source}\n" if resource.source is not None else ""
            if phases is not None:
                comment += f"# Hook: {', '.join(phase.value for phase in phases) or 'Skip'}\n"
            documents.append(comment + dump_yaml(resource.manifest))
        ctx.out.write("---\n".join(documents))
    if not args.validate:
        return OK
    problems = validate(resources, kube_version=args.kube_version)
    for problem in problems:
        ctx.err.write(f"invalid: {problem}\n")
    return FAILED if problems else OK
