"""``reconcile appset generate -f appset.yaml``: the Applications an ApplicationSet generates."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reconcile.argocd.applicationset import ApplicationSet
from reconcile.cli import _output as output
from reconcile.cli._app import OK, Context, _credentials


def add(commands: Any) -> None:
    """Add the ``appset`` command and its ``generate`` verb."""
    appset = commands.add_parser("appset", help="work with ApplicationSets", description="Work with ApplicationSets.")
    verbs = appset.add_subparsers(dest="verb", required=True, metavar="VERB")
    generate = verbs.add_parser(
        "generate",
        help="print the Applications an ApplicationSet generates",
        description="Print the Applications an ApplicationSet generates (list, git, matrix and merge generators).",
    )
    generate.set_defaults(handler=run)
    generate.add_argument("-f", "--file", required=True, type=Path, metavar="PATH", help="the ApplicationSet")
    generate.add_argument("--cache-dir", type=Path, metavar="FOLDER", help="where Git clones are cached")
    generate.add_argument("--repo-creds", type=Path, metavar="FILE", help="Argo CD repository credential Secrets")
    generate.add_argument("--registry-config", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    generate.add_argument("-o", "--output", choices=("yaml", "json", "table"), default="yaml", help="output format")
    generate.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="show details")


def run(ctx: Context) -> int:
    """Generate and print the Applications."""
    args = ctx.args
    appset = ApplicationSet.from_file(args.file)
    apps = appset.generate(cache_dir=args.cache_dir, credentials=_credentials(args))
    if args.output == "table":
        rows = [
            [app.name, app.destination_namespace or "", output.describe_source(app.to_manifest()["spec"])]
            for app in apps
        ]
        ctx.out.write(output.table(["NAME", "NAMESPACE", "SOURCE"], rows))
    else:
        document = {"apiVersion": "v1", "kind": "List", "items": [app.to_manifest() for app in apps]}
        ctx.out.write(output.structured(document, args.output))
    return OK
