"""Verbs about single objects: ``app actions list|run`` (Argo CD's resource actions) and ``app orphans``."""

from __future__ import annotations

import argparse
from typing import Any

from reconcile.argocd.tracking import OrphanIgnore
from reconcile.cli import _output as output
from reconcile.cli._app import OK, Context, _reconciler
from reconcile.errors import ConfigurationError
from reconcile.model import ResourceKey


def add(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``actions`` with its ``list`` and ``run`` verbs, and ``orphans``."""
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
