"""The ``reconcile app`` verbs: get, diff, sync, wait, plan and list, as ``argocd app`` has them."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from reconcile.argocd.tracking import CONTROL_PLANE_NAMESPACE, ArgoCDTracking
from reconcile.cli import _output as output
from reconcile.cli._loading import cluster_map, load_applications, open_cluster, pick
from reconcile.cli._progress import LiveProgress, PlainProgress
from reconcile.cluster import MemoryCluster
from reconcile.errors import ConfigurationError
from reconcile.health import ArgoCDCatalogue
from reconcile.model import HealthStatus, OperationPhase, PropagationPolicy, SyncStatus
from reconcile.renderers import PluginSpec
from reconcile.sources import Credentials

if TYPE_CHECKING:
    from reconcile.argocd.application import Application
    from reconcile.protocols import Cluster
    from reconcile.reconciler import Reconciler, ReconcileResult
    from reconcile.sync import SyncOperation, SyncResult

# Exit codes: kubectl diff's for diff, and the same spirit for the other verbs.
OK = 0
FAILED = 1  # diff: differences found; sync and wait: the operation failed or timed out
ERROR = 2  # usage, configuration, or a stage that raised

_RUNNING = (OperationPhase.RUNNING, OperationPhase.TERMINATING)
_GREEN, _RED, _CYAN, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[36m", "\x1b[0m"


@attrs.frozen(kw_only=True)
class Context:
    """What a verb works with.

    Attributes:
        args: The parsed command line.
        out: Where results go.
        err: Where warnings and errors go.
        cluster: A cluster given by a host that embeds the CLI (used instead of ``--memory``/``--kubeconfig``).
    """

    args: argparse.Namespace
    out: TextIO
    err: TextIO
    cluster: Cluster | None = None

    @property
    def output(self) -> str:
        """The ``--output`` format."""
        return str(self.args.output)

    def name_of(self, app: Application) -> str:
        """The Application as the command shows it: ``name``, or ``namespace/name`` outside the control plane's."""
        return app.display_name(self.args.control_plane_namespace)

    def warn(self, message: str) -> None:
        """Write ``warning: <message>`` to the error stream."""
        self.err.write(f"warning: {message}\n")


def add_action_verbs(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``app actions list`` and ``app actions run``, as ``argocd app actions`` has them."""
    from reconcile.cli import _resources  # noqa: PLC0415 - its verbs use this module's helpers

    _resources.add(verbs, parents)


def add_verbs(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``app`` command and its verbs to the top-level parser."""
    app = subparsers.add_parser("app", help="work with Argo CD Applications", description="Work with Applications.")
    verbs = app.add_subparsers(dest="verb", required=True, metavar="VERB")
    common = _common_options()
    cluster = _cluster_options()
    specs: list[tuple[str, str, Callable[[Context], int], list[argparse.ArgumentParser]]] = [
        ("get", "show the application's sync status, health and objects", get, [common, cluster]),
        ("tree", "draw the application's objects and what they own, with health and events", tree, [common, cluster]),
        ("diff", "show how the cluster differs from Git (exit 1 when it does)", diff, [common, cluster]),
        ("sync", "apply Git to the cluster, wave by wave", sync, [common, cluster]),
        ("wait", "wait until the application is synced and healthy", wait, [common, cluster]),
        ("plan", "show what a sync would do, phase by phase and wave by wave", plan, [common, cluster]),
        ("delete", "delete every object the application owns (cascade)", delete, [common, cluster]),
        ("list", "list the Applications in a file or folder", list_apps, [common]),
    ]
    add_action_verbs(verbs, [common, cluster])
    for name, help_text, handler, parents in specs:
        description = help_text[0].upper() + help_text[1:] + "."
        parser = verbs.add_parser(name, parents=parents, help=help_text, description=description)
        parser.set_defaults(handler=handler)
        if name in ("sync", "plan"):
            parser.add_argument("--prune", action="store_true", help="delete objects that left Git")
        if name == "delete":
            parser.add_argument("--dry-run", action="store_true", help="validate every deletion with the server only")
            parser.add_argument(
                "--propagation-policy",
                choices=("foreground", "background", "orphan"),
                default="foreground",
                help="how dependents of deleted objects go (default foreground)",
            )
        if name == "sync":
            parser.add_argument("--dry-run", action="store_true", help="validate every change with the server only")
            parser.add_argument(
                "--confirm-prune", action="store_true", help="allow prunes of objects marked Prune=confirm"
            )
            parser.add_argument("--timeout", type=float, default=None, help="seconds before the sync is terminated")
        if name == "wait":
            parser.add_argument("--health", action="store_true", help="wait for health only")
            parser.add_argument("--sync", action="store_true", help="wait for sync status only")
            parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
        if name in ("sync", "wait"):
            parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
        if name == "tree":
            parser.add_argument(
                "--max-children",
                type=int,
                default=10,
                metavar="N",
                help="children of one kind shown under a node; the rest are summed up (default 10)",
            )
            parser.add_argument("--no-events", action="store_true", help="do not read Kubernetes Events")
        if name == "list":
            parser.add_argument(
                "--expand",
                action="store_true",
                help="follow apps of apps: render each Application and list the Applications it holds too",
            )
            parser.add_argument("--cache-dir", type=Path, metavar="FOLDER", help="where clones are cached")


def _common_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "-f", "--file", required=True, type=Path, help="an Application manifest, or a folder of them", metavar="PATH"
    )
    parser.add_argument(
        "--app", help="the Application to use when the file or folder holds several (NAME or NAMESPACE/NAME)"
    )
    parser.add_argument(
        "--control-plane-namespace",
        default=CONTROL_PLANE_NAMESPACE,
        metavar="NAMESPACE",
        help="Applications here are tracked by their name, others by NAMESPACE_NAME (default argocd)",
    )
    parser.add_argument("-o", "--output", choices=output.FORMATS, default="table", help="output format")
    # -v is accepted after the verb too, where people type it; SUPPRESS keeps the count given before it.
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="show details")
    return parser


def _cluster_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--kubeconfig", help="the kubeconfig file ($KUBECONFIG or ~/.kube/config by default)")
    parser.add_argument("--context", help="the kubeconfig context (its current context by default)")
    parser.add_argument(
        "--memory", action="store_true", help="use an empty in-memory cluster (workloads settle at once; demos, tests)"
    )
    parser.add_argument("--revision", help="the Git revision to use instead of the Application's targetRevision")
    parser.add_argument("--local", type=Path, metavar="FOLDER", help="render this folder instead of fetching Git")
    parser.add_argument("--cache-dir", type=Path, metavar="FOLDER", help="where clones and renders are cached")
    parser.add_argument(
        "--repo-creds",
        type=Path,
        metavar="FILE",
        help="Argo CD repository credential Secrets (repository, repo-creds) and argocd-tls-certs-cm to fetch with",
    )
    parser.add_argument(
        "--registry-config",
        type=Path,
        metavar="FILE",
        help="a Docker config.json whose auths log in to OCI registries (as helm's --registry-config)",
    )
    parser.add_argument(
        "--catalogue",
        metavar="LOCATION",
        help="Argo CD's resource_customizations (health checks and actions): a folder, or a Git URL",
    )
    parser.add_argument(
        "--catalogue-revision", default="HEAD", metavar="REVISION", help="the Git revision of --catalogue"
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        type=Path,
        metavar="PLUGIN_YAML",
        help="a config management plugin (ConfigManagementPlugin) plugin sources may use (repeatable)",
    )
    parser.add_argument(
        "--adopt-argocd-app",
        metavar="NAME",
        help="take over this Argo CD application's objects (its instance name: NAME or NAMESPACE_NAME)",
    )
    parser.add_argument(
        "--argocd-tracking",
        choices=("annotation", "label", "annotation+label"),
        default="annotation",
        help="how Argo CD tracked them (its application.resourceTrackingMethod; default annotation)",
    )
    parser.add_argument(
        "--server-side",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="diff with server-side dry-run applies (default: on for a real cluster, off in memory)",
    )
    return parser


# ------------------------------------------------------------------------------------------------
# Verbs.


def get(ctx: Context) -> int:
    """Show the application's status, as ``argocd app get`` does; changes nothing.

    In a table, the objects in trouble (Degraded or Missing, or with Warning events), those the app's objects own
    included, follow with their messages and recent events.
    """
    with _reconciler(ctx) as (app, reconciler):
        reconciler.resource_tree = ctx.output not in ("json", "yaml")
        result = _observe(reconciler)
        if result.error is not None:
            raise result.error
        _write_status(ctx, app, result)
        if result.tree is not None and result.tree.troubled():
            color = _is_terminal(ctx.out) and not os.environ.get("NO_COLOR")
            ctx.out.write("\nRESOURCES IN TROUBLE\n" + result.tree.render_troubles(color=color) + "\n")
    return OK


def tree(ctx: Context) -> int:
    """Draw the resource tree, as Argo CD's tree view shows it; ``-o json`` gives its structure."""
    if ctx.args.max_children < 1:
        raise ConfigurationError.argument("--max-children", "a positive number", ctx.args.max_children)
    with _reconciler(ctx) as (_, reconciler):
        drawn = reconciler.tree(max_children=ctx.args.max_children, events=not ctx.args.no_events)
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(drawn.to_dict(), ctx.output))
    else:
        color = _is_terminal(ctx.out) and not os.environ.get("NO_COLOR")
        ctx.out.write(drawn.render_text(color=color) + "\n")
    return OK


def diff(ctx: Context) -> int:
    """Show the differences; exit 1 when there are any, as ``kubectl diff`` does."""
    with _reconciler(ctx) as (app, reconciler):
        found = reconciler.diff()
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(output.diff_document(ctx.name_of(app), found), ctx.output))
    else:
        if ctx.output == "wide" and found.modified:
            ctx.out.write(output.diff_summary_table(found) + "\n")
        ctx.out.write(_colored(found.unified(), ctx.out))
    return FAILED if found.modified else OK


def plan(ctx: Context) -> int:
    """Show what a sync would do; exit 1 when the plan cannot run."""
    with _reconciler(ctx) as (_, reconciler):
        planned = reconciler.plan(prune=True if ctx.args.prune else None)
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(output.plan_document(planned), ctx.output))
    else:
        ctx.out.write(f"{planned}\n")
    return FAILED if planned.failed else OK


def sync(ctx: Context) -> int:
    """Sync now, showing progress wave by wave; exit 1 when the operation fails."""
    args = ctx.args
    with _reconciler(ctx) as (app, reconciler):
        operation = reconciler.start_sync(dry_run=args.dry_run, prune=True if args.prune else None)
        if args.confirm_prune:
            operation.confirm_prune()
        result = _drive(ctx, ctx.name_of(app), operation)
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(output.sync_document(ctx.name_of(app), result), ctx.output))
    else:
        ctx.out.write(output.sync_table(ctx.name_of(app), result, wide=ctx.output == "wide"))
    return OK if result.succeeded else FAILED


_PROPAGATION: dict[str, PropagationPolicy] = {
    "foreground": "Foreground",
    "background": "Background",
    "orphan": "Orphan",
}


def delete(ctx: Context) -> int:
    """Delete the objects the application owns (objects marked Delete=false stay); exit 1 when one fails."""
    args = ctx.args
    propagation = _PROPAGATION[args.propagation_policy]
    with _reconciler(ctx) as (app, reconciler):
        result = reconciler.delete(dry_run=args.dry_run, propagation=propagation)
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(output.sync_document(ctx.name_of(app), result), ctx.output))
    else:
        ctx.out.write(output.sync_table(ctx.name_of(app), result, wide=ctx.output == "wide"))
    return OK if result.succeeded else FAILED


def wait(ctx: Context) -> int:
    """Poll until the application is synced and healthy (or what ``--sync``/``--health`` ask); changes nothing."""
    args = ctx.args
    want_sync = args.sync or not args.health
    want_health = args.health or not args.sync
    deadline = time.monotonic() + args.timeout
    with _reconciler(ctx) as (app, reconciler):
        while True:
            result = _observe(reconciler)
            if result.error is not None and not result.error.retryable:
                raise result.error
            synced = result.sync_status is SyncStatus.SYNCED
            healthy = result.health is not None and result.health.status is HealthStatus.HEALTHY
            if result.error is None and (synced or not want_sync) and (healthy or not want_health):
                _write_status(ctx, app, result)
                return OK
            if time.monotonic() >= deadline:
                _write_status(ctx, app, result)
                health = result.health.status if result.health is not None else HealthStatus.UNKNOWN
                ctx.err.write(
                    f"error: timed out after {args.timeout:g}s waiting for {ctx.name_of(app)}: "
                    f"sync status {result.sync_status}, health {health}\n"
                )
                return FAILED
            time.sleep(args.interval)


def list_apps(ctx: Context) -> int:
    """List the Applications found in the file or folder; needs no cluster."""
    applications = load_applications(ctx.args.file, ctx.warn)
    if ctx.args.app is not None:
        applications = (pick(applications, ctx.args.app, ctx.args.control_plane_namespace),)
    if ctx.args.expand:
        from reconcile.argocd.application import Application  # noqa: PLC0415 - it imports the whole library

        applications = Application.expand(applications, cache_dir=ctx.args.cache_dir)
    manifests = [app.to_manifest() for app in applications]
    if ctx.output in ("json", "yaml"):
        document = {"apiVersion": "v1", "kind": "List", "items": manifests}
        ctx.out.write(output.structured(document, ctx.output))
        return OK
    header = ["NAME", "NAMESPACE", "SERVER", "SOURCE", "SYNCPOLICY"]
    rows = []
    for app, manifest in zip(applications, manifests, strict=True):
        spec = manifest.get("spec") or {}
        destination = spec.get("destination") or {}
        server = str(destination.get("server") or destination.get("name") or "")
        automated = "Automated" if (spec.get("syncPolicy") or {}).get("automated") is not None else "Manual"
        source = output.describe_source(spec)
        rows.append([ctx.name_of(app), app.destination_namespace or "", server, source, automated])
    ctx.out.write(output.table(header, rows))
    return OK


# ------------------------------------------------------------------------------------------------
# Helpers.


@contextlib.contextmanager
def _reconciler(ctx: Context) -> Iterator[tuple[Application, Reconciler]]:
    """The Application the command names and its Reconciler, on the command's cluster (closed on exit)."""
    args = ctx.args
    app = pick(load_applications(args.file, ctx.warn), args.app, args.control_plane_namespace)
    with _cluster(ctx) as cluster:
        server_side = args.server_side if args.server_side is not None else not isinstance(cluster, MemoryCluster)
        reconciler = app.reconciler(
            cluster_map(app, cluster),
            cache_dir=args.cache_dir,
            local=args.local,
            revision=args.revision,
            control_plane_namespace=args.control_plane_namespace,
            server_side_diff=server_side,
            credentials=_credentials(args),
            **_catalogue_options(args),
        )
        try:
            yield app, reconciler
        finally:
            for warning in reconciler.warnings:  # an empty render: Synced and Healthy, but say so
                ctx.warn(f"{ctx.name_of(app)}: {warning}")
            catalogue = reconciler.resource_actions
            if isinstance(catalogue, ArgoCDCatalogue):
                catalogue.close()


@contextlib.contextmanager
def _cluster(ctx: Context) -> Iterator[Cluster]:
    if ctx.cluster is not None:
        yield ctx.cluster
        return
    with open_cluster(memory=ctx.args.memory, kubeconfig=ctx.args.kubeconfig, context=ctx.args.context) as cluster:
        yield cluster


def _observe(reconciler: Reconciler) -> ReconcileResult:
    """One pass that never syncs, whatever the Application's policy says: the CLI only looks."""
    reconciler.policy = attrs.evolve(reconciler.policy, automated=False)
    return reconciler.reconcile()


def _write_status(ctx: Context, app: Application, result: ReconcileResult) -> None:
    manifest = app.to_manifest()
    if ctx.output in ("json", "yaml"):
        ctx.out.write(output.structured(output.status_document(manifest, result), ctx.output))
    else:
        ctx.out.write(output.status_table(manifest, result, wide=ctx.output == "wide"))


def _drive(ctx: Context, app: str, operation: SyncOperation) -> SyncResult:
    """Step ``operation`` to its end, drawing progress; Ctrl-C terminates it cleanly."""
    args = ctx.args
    # Progress goes where the result goes, unless the result is a document a program will parse.
    stream = ctx.err if ctx.output in ("json", "yaml") else ctx.out
    revision = f" at {operation.revision}" if operation.revision else ""
    title = f"syncing {app}{revision}{' (dry run)' if operation.dry_run else ''}"
    progress: LiveProgress | PlainProgress = (
        LiveProgress(stream, title) if _is_terminal(stream) else PlainProgress(stream)
    )
    if isinstance(progress, PlainProgress):
        stream.write(title + "\n")
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    waiting_confirmation = operation.plan.confirmation_message()
    try:
        while True:
            before = (len(operation.result.resources), operation.message)
            phase = operation.step()
            progress.update(operation.plan, operation)
            if phase not in _RUNNING:
                break
            if deadline is not None and time.monotonic() >= deadline:
                operation.terminate()
            elif waiting_confirmation and operation.message == waiting_confirmation:
                operation.terminate()
                ctx.err.write("error: some prunes need confirmation (Prune=confirm); pass --confirm-prune\n")
            elif (len(operation.result.resources), operation.message) == before and operation.next_check_in:
                time.sleep(min(operation.next_check_in, args.interval))  # waiting for health: nothing moved
    except KeyboardInterrupt:
        operation.terminate()
        operation.step()
        progress.update(operation.plan, operation)
    finally:
        progress.close()
    return operation.result


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def _colored(text: str, stream: TextIO) -> str:
    """A unified diff with added lines green and removed lines red, on a terminal unless ``NO_COLOR`` is set."""
    if not text or not _is_terminal(stream) or os.environ.get("NO_COLOR"):
        return text
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            lines.append(line)
        elif line.startswith("+"):
            lines.append(f"{_GREEN}{line.rstrip(chr(10))}{_RESET}\n")
        elif line.startswith("-"):
            lines.append(f"{_RED}{line.rstrip(chr(10))}{_RESET}\n")
        elif line.startswith("@@"):
            lines.append(f"{_CYAN}{line.rstrip(chr(10))}{_RESET}\n")
        else:
            lines.append(line)
    return "".join(lines)


def _catalogue_options(args: argparse.Namespace) -> dict[str, Any]:
    """``health_checks``/``actions`` (``--catalogue``), ``adopt`` (``--adopt-argocd-app``), ``plugins``."""
    options: dict[str, Any] = {}
    if args.plugin:
        options["plugins"] = [PluginSpec.from_file(path) for path in args.plugin]
    if args.adopt_argocd_app is not None:
        options["adopt"] = ArgoCDTracking(app=args.adopt_argocd_app, method=args.argocd_tracking)
    if args.catalogue is None:
        return options
    catalogue = ArgoCDCatalogue.load(
        args.catalogue, args.catalogue_revision, cache_dir=args.cache_dir, credentials=_credentials(args)
    )
    return {**options, "health_checks": catalogue, "actions": catalogue}


def _credentials(args: argparse.Namespace) -> Credentials | None:
    """What ``--repo-creds`` and ``--registry-config`` give, as one registry; ``None`` without either."""
    parts = []
    if args.repo_creds is not None:
        parts.append(Credentials.from_file(args.repo_creds))
    if args.registry_config is not None:
        parts.append(Credentials.from_docker_config(args.registry_config))
    return Credentials.combined(*parts) if parts else None
