"""``reconcile diff --base REV --head REV -f apps/``: what a change to the repository changes, per Application."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from reconcile.cli._app import Context, _credentials
from reconcile.cli._loading import open_cluster
from reconcile.previews import PreviewResult, preview
from reconcile.protocols import Cluster
from reconcile.renderers import PluginSpec


def add(commands: Any) -> None:
    """Add the top-level ``diff`` command."""
    parser = commands.add_parser(
        "diff",
        help="render every Application at two revisions and show what changes (for pull requests)",
        description="Render every Application of a file or folder at --base and at --head, without a cluster, "
        "and show the objects added, removed and changed. Exit 0 no change, 1 changes, 2 errors.",
    )
    parser.set_defaults(handler=run)
    parser.add_argument("-f", "--file", required=True, type=Path, metavar="PATH", help="Applications: a file or folder")
    parser.add_argument("--base", required=True, metavar="REVISION", help="the revision to compare from (main)")
    parser.add_argument("--head", default="HEAD", metavar="REVISION", help="the revision to compare to (HEAD)")
    parser.add_argument(
        "--repo", metavar="PATH", help="read every Git source from this local clone (the CI checkout), not repoURL"
    )
    parser.add_argument("--kube-version", metavar="VERSION", help="the Kubernetes release the renders target")
    parser.add_argument(
        "--kubeconfig", help="also compare head with this cluster (what a sync of head would change there)"
    )
    parser.add_argument("--context", help="the kubeconfig context (its current context by default)")
    parser.add_argument("--cache-dir", type=Path, metavar="FOLDER", help="where clones and charts are cached")
    parser.add_argument("--repo-creds", type=Path, metavar="FILE", help="Argo CD repository credential Secrets")
    parser.add_argument("--registry-config", type=Path, metavar="FILE", help="a Docker config.json for registries")
    parser.add_argument("--plugin", action="append", default=[], type=Path, metavar="PLUGIN_YAML")
    parser.add_argument(
        "-o", "--output", choices=("diff", "markdown", "html", "json"), default="diff", help="output format"
    )
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="show details")


def run(ctx: Context) -> int:
    """Preview the change; write it in the chosen format; exit 0, 1 or 2."""
    args = ctx.args
    with contextlib.ExitStack() as stack:
        cluster = ctx.cluster
        if cluster is None and args.kubeconfig is not None:
            cluster = stack.enter_context(open_cluster(memory=False, kubeconfig=args.kubeconfig, context=args.context))
        result = _preview(args, cluster)
    return _write(ctx, result)


def _preview(args: argparse.Namespace, cluster: Cluster | None) -> PreviewResult:
    return preview(
        args.file,
        base=args.base,
        head=args.head,
        repository=args.repo,
        kube_version=args.kube_version,
        cache_dir=args.cache_dir,
        credentials=_credentials(args),
        plugins=[PluginSpec.from_file(path) for path in args.plugin],
        cluster=cluster,
    )


def _write(ctx: Context, result: PreviewResult) -> int:
    args = ctx.args
    if args.output == "markdown":
        ctx.out.write(result.markdown())
    elif args.output == "html":
        ctx.out.write(result.html())
    elif args.output == "json":
        ctx.out.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        ctx.out.write(result.unified())
        for name, status, added, removed, changed in result.summary():
            ctx.err.write(f"{name}: {status} (+{added} -{removed} ~{changed})\n")
    return result.exit_code
