"""The ``reconcile`` command: the verbs people know from ``argocd app``, on Application manifests.

::

    reconcile app list -f apps/
    reconcile app diff -f apps/guestbook.yaml --local ./guestbook   # exit 1 when the cluster differs
    reconcile app sync -f apps/guestbook.yaml --prune
    reconcile app wait -f apps/guestbook.yaml --timeout 120
    reconcile app get  -f apps/guestbook.yaml -o json

Exit codes: ``diff`` exits 0 when nothing differs, 1 when something does and 2 on error (kubectl's
convention); the other verbs exit 0 on success, 1 when the sync or the wait failed (or the plan cannot run) and
2 on usage, configuration or runtime errors. An error is one line, ``error: <message>``; ``-v`` adds the
traceback and the library's log (structlog, to stderr). The library never configures logging; this command is an
application, so it does, for the length of one call, and puts the previous configuration back.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog

from reconcile.cli._app import ERROR, Context, add_verbs
from reconcile.errors import ReconcileError
from reconcile.redaction import redact_text

if TYPE_CHECKING:
    from reconcile.protocols import Cluster

__all__ = ["main"]


def main(
    argv: Sequence[str] | None = None,
    *,
    cluster: Cluster | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line and return its exit code.

    Args:
        argv: The arguments after the program name (``sys.argv[1:]`` by default).
        cluster: A cluster to use instead of ``--memory`` or ``--kubeconfig``: for hosts that embed the
            command, and for tests that run several commands on one in-memory cluster.
        stdout: Where results go (``sys.stdout`` by default).
        stderr: Where warnings, errors and logs go (``sys.stderr`` by default).

    Returns:
        The exit code (see the module's documentation).
    """
    # Every channel of the command goes through one guard: Application manifests are echoed as written, and a
    # repoURL may carry a token (``https://ci:TOKEN@host/``, ``?access_token=``) that must never be printed.
    out = cast("TextIO", _Redacting(stdout if stdout is not None else sys.stdout))
    err = cast("TextIO", _Redacting(stderr if stderr is not None else sys.stderr))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else ERROR
    with _logging(err, args.verbose):
        try:
            context = Context(args=args, out=out, err=err, cluster=cluster)
            code: int = args.handler(context)
        except ReconcileError as exc:
            return _report(err, exc, verbose=args.verbose)
        except KeyboardInterrupt:
            err.write("error: interrupted\n")
            return 130  # the shell's code for SIGINT
        except Exception as exc:  # noqa: BLE001 - the command line's last resort: one readable line, never a dump
            return _report(err, exc, verbose=args.verbose, unexpected=True)
    out.flush()
    return code


class _Redacting(io.TextIOBase):
    """A text stream that writes through to another with credentials in URLs removed (see ``reconcile.redaction``).

    Only URLs are redacted: the command prints YAML documents whose ``password:`` keys may be a ConfigMap's
    ordinary data, shown by ``app diff`` on purpose (Secret values are masked by the differ itself).
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact_text(text, assignments=False))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        isatty = getattr(self._stream, "isatty", None)
        return bool(isatty and isatty())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``reconcile``."""
    parser = argparse.ArgumentParser(
        prog="reconcile",
        description="Argo CD's engine as a command: get, diff, sync, wait for and plan Applications.",
    )
    from reconcile import __version__  # noqa: PLC0415 - the package imports this module's parent lazily

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="show tracebacks and the library's log (-vv: debug)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_verbs(commands)
    from reconcile.cli import _appset, _preview  # noqa: PLC0415 - they import the whole library

    _preview.add(commands)
    _appset.add(commands)
    return parser


def _report(err: TextIO, exc: BaseException, *, verbose: int, unexpected: bool = False) -> int:
    """One ``error:`` line; with ``-v`` the traceback (and the error's chain) first."""
    if verbose:
        err.write("".join(traceback.format_exception(exc)))
    message = str(exc) or type(exc).__name__
    if unexpected:
        message = f"unexpected {type(exc).__name__}: {message} (run with -v for details)"
    elif not verbose and exc.__cause__ is not None:
        message += " (run with -v for details)"
    err.write(f"error: {message}\n")
    return ERROR


@contextlib.contextmanager
def _logging(stream: TextIO, verbose: int) -> Iterator[None]:
    """Send structlog's events to ``stream`` at info (``-v``) or debug (``-vv``), none otherwise; restore afterwards."""
    previous = structlog.get_config()
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.CRITICAL
    # Without -v nothing is written at all: a ReturnLogger hands each event back instead of printing it.
    factory: Any = structlog.PrintLoggerFactory(stream) if verbose else structlog.ReturnLoggerFactory()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)
