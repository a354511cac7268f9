"""Running rendering tools (helm, kubectl kustomize) safely, with limits and a private environment.

No shell (argument lists only), a time limit, an output limit, and errors that carry the tool's own words with
credentials masked. Each run gets a private, empty HOME and helm's cache, config and data folders in a temporary
folder, so a user's own helm repositories, plugins and credentials are neither used nor leaked. Runs are
independent, so renders of different applications can run in parallel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from reconcile.errors import ConfigurationError, ToolError, ToolNotFoundError
from reconcile.redaction import redact_text

DEFAULT_TIMEOUT = 90.0
"""Seconds one tool run may take (Argo CD's repo-server default)."""

DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
"""Bytes of standard output one run may write; more is refused as a denial of service."""

_STDERR_KEPT = 4096
# What an executable file says its version is, by (path, size, mtime, arguments): a fact about a file, never
# configuration, so one memo serves every renderer in the process.
_VERSIONS: dict[tuple[str, int, int, tuple[str, ...], tuple[tuple[str, str], ...]], str] = {}
_VERSIONS_LOCK = threading.Lock()
_INSTALL = {
    "helm": "install helm 3 or 4 (https://helm.sh/docs/intro/install/) or pass HelmRenderer(helm=...)",
    "kubectl": "install kubectl (it embeds kustomize) or pass KustomizeRenderer(kustomize=...)",
    "kustomize": "install kustomize 5 or kubectl, or pass KustomizeRenderer(kustomize=...)",
}


def string_map(value: Mapping[str, object] | None, what: str) -> dict[str, str] | None:
    """``value`` checked as a map of non-empty names to strings (labels, variables) for a tool's arguments.

    Raises:
        ConfigurationError: A name is empty or not a string, or a value is not a string; names ``what``.
    """
    if value is None:
        return None
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise ConfigurationError(f"{what} map names to strings, got {key!r}: {item!r}")
        out[key] = item
    return out


@attrs.frozen
class Tool:
    """A command-line tool: found on ``PATH`` by name, or at the path given.

    Attributes:
        name: The command (``helm``, ``kubectl``).
        path: Where it is; ``None`` looks it up on ``PATH`` when first run.
    """

    name: str
    path: str | None = None

    def executable(self) -> str:
        """The absolute path of the executable.

        Raises:
            ToolNotFoundError: Not at the given path, or not on ``PATH``; the message says how to install it.
        """
        if self.path is not None:
            given = Path(self.path)
            if given.is_file() and os.access(given, os.X_OK):
                return str(given.resolve())
            raise ToolNotFoundError(
                f"{self.name} is not an executable file at {self.path}: {self._hint()}", tool=self.name
            )
        found = shutil.which(self.name)
        if found is None:
            raise ToolNotFoundError(f"{self.name} is not on PATH: {self._hint()}", tool=self.name)
        return found

    def _hint(self) -> str:
        return _INSTALL.get(self.name, f"install {self.name} or give its path")

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_output: int = DEFAULT_MAX_OUTPUT,
        secrets: Iterable[str] = (),
    ) -> str:
        """Run the tool with ``args`` (no shell) and return its standard output.

        Args:
            args: The arguments after the command.
            cwd: The working folder.
            env: Extra environment variables; the rest of the environment is a private HOME, helm's folders in
                it, ``PATH`` and the locale, never the caller's own.
            timeout: Seconds before the run is stopped.
            max_output: Bytes of standard output allowed.
            secrets: Strings (passwords, tokens) to mask wherever an error message would show them.

        Raises:
            ToolNotFoundError: The tool is not installed.
            ToolError: It exited non-zero, ran out of time, or wrote more than ``max_output``; the message carries
                the end of its stderr, credentials masked.
        """
        executable = self.executable()
        hidden = tuple(secrets)
        with tempfile.TemporaryDirectory(prefix=f"reconcile-{self.name}-") as home:
            process = subprocess.Popen(
                [executable, *args],
                cwd=cwd,
                env={**_clean_environment(Path(home)), **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            with process:
                stdout, stderr, problem = _collect(process, timeout, max_output)
        message = redact_text(stderr.decode(errors="replace"), hidden).strip()[-_STDERR_KEPT:]
        command = f"{self.name} {args[0]}" if args else self.name
        if problem:
            raise ToolError(f"{command}: {problem}", tool=self.name, exit_code=None, stderr=message)
        if process.returncode != 0:
            detail = message or f"exit code {process.returncode}"
            raise ToolError(f"{command} failed: {detail}", tool=self.name, exit_code=process.returncode, stderr=message)
        return stdout.decode(errors="replace")

    def version(self, args: Sequence[str] = ("version",), *, env: Mapping[str, str] | None = None) -> str:
        """The tool's version output, stripped (part of render cache keys).

        Asked once per executable file: the answer is remembered by the file's path, size and modification time
        (and the arguments and environment given), so a render cache key costs no process once the tool has
        answered; a changed binary is asked again.
        """
        executable = self.executable()
        stat = Path(executable).stat()
        memo = (executable, stat.st_size, stat.st_mtime_ns, tuple(args), tuple(sorted((env or {}).items())))
        with _VERSIONS_LOCK:
            known = _VERSIONS.get(memo)
        if known is None:
            known = self.run(args, env=env, timeout=30).strip()
            with _VERSIONS_LOCK:
                _VERSIONS[memo] = known
        return known


def _clean_environment(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", os.defpath),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    for name in ("LANG", "LC_ALL", "TZ", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _collect(process: subprocess.Popen[bytes], timeout: float, max_output: int) -> tuple[bytes, bytes, str]:
    """Read both pipes with limits; returns (stdout, stderr, problem) and leaves the process reaped."""
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    too_much = threading.Event()

    def read_stdout() -> None:
        size = 0
        while process.stdout is not None and (chunk := process.stdout.read(65536)):
            size += len(chunk)
            if size > max_output:
                too_much.set()
                process.kill()
                return
            stdout.append(chunk)

    def read_stderr() -> None:
        while process.stderr is not None and (chunk := process.stderr.read(65536)):
            stderr.append(chunk)
            if sum(len(c) for c in stderr) > 4 * _STDERR_KEPT:
                del stderr[0]

    readers = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=read_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    problem = ""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        problem = f"stopped after {timeout:g} s (time limit)"
    for reader in readers:
        reader.join(timeout=5)
    if too_much.is_set():
        problem = f"wrote more than {max_output} bytes (output limit)"
    return b"".join(stdout), b"".join(stderr), problem
