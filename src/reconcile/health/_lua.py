"""Health checks written in Lua with Argo CD's contract, run in a sandbox in a worker process.

A script sees the object as the global ``obj`` and returns a table ``{status = "...", message = "..."}``.
The scripts Argo CD users already have work unchanged: Argo CD runs them on gopher-lua, Lua 5.1 plus ``goto``;
reconcile runs them on LuaJIT 2.1 (Lua 5.1 semantics, ``goto`` included) with its compiler off, with ``string``,
``table``, ``math`` and ``os.time``/``os.date``/``os.clock``. Everything that reaches
outside the script is absent: no ``io``, ``require``, ``dofile``, ``loadfile``, ``load``/``loadstring``,
``string.dump``, ``debug``, ``coroutine``, ``os.execute``/``remove``/``rename``/``exit``/``getenv``/``tmpname``,
and no way back into Python. Each run gets a fresh interpreter, a CPU time limit and a memory limit.

Scripts run in a worker process (``_lua_sandbox``), one per :class:`LuaHealthChecks`, started on first use.
Inside it the CPU limit is enforced by Lua's count hook; a run stuck inside a C function (the pattern matcher
backtracking for ever), where no hook fires, is stopped by a watchdog here: past the limit plus a grace the
worker is killed, the verdict is Unknown, and the next run starts a fresh worker.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from reconcile.errors import ConfigurationError
from reconcile.health import _lua_sandbox
from reconcile.health._patterns import PatternTable
from reconcile.model import GroupKind, Health, HealthStatus, Manifest
from reconcile.protocols import HealthCheck

SCRIPT_FILE = "health.lua"
DEFAULT_TIME_LIMIT = 1.0  # seconds, as Argo CD allows
DEFAULT_MAX_MEMORY = 64 * 1024 * 1024  # bytes per run, the object included

_INVALID_STATUS = "Lua returned an invalid health status"
_VALID = frozenset(status.value for status in HealthStatus)
_FRAME = struct.Struct(">I")
_WORKER = Path(_lua_sandbox.__file__)
# The watchdog's clock is the wall clock; the script's limit is CPU time. A run is stopped from outside once it
# has taken its limit and half as much again, plus a quarter second for the worker's own work.
_GRACE_FACTOR, _GRACE = 1.5, 0.25


def plain_data(value: Any) -> Any:
    """A copy holding only JSON types, so nothing but data crosses into Lua."""
    if isinstance(value, dict):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


class _WorkerStoppedError(Exception):
    """The worker died, or was killed by the watchdog (``overstayed``)."""

    def __init__(self, overstayed: bool, detail: str = "") -> None:
        super().__init__(detail)
        self.overstayed = overstayed


class LuaSandbox:
    """The worker process scripts run in, and the watchdog that stops it; shared by the scripts of one set.

    Thread-safe: runs are taken one at a time. The worker starts on the first run, again after it was killed,
    and in a forked child (which must not share its parent's pipes). :meth:`close` stops it; so does garbage
    collection of the sandbox and the end of the host process (the worker exits when its input closes).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = 0
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def run(self, request: Mapping[str, Any], wall_limit: float) -> dict[str, Any]:
        """Send one request; the worker's answer, or raise :class:`_WorkerStoppedError` past ``wall_limit`` seconds."""
        data = json.dumps(request).encode()
        with self._lock:
            process = self._ensure()
            assert process.stdin is not None  # noqa: S101 - started with pipes
            assert process.stdout is not None  # noqa: S101
            try:
                process.stdin.write(_FRAME.pack(len(data)) + data)
                process.stdin.flush()
                deadline = time.monotonic() + wall_limit
                header = self._read(process.stdout.fileno(), _FRAME.size, deadline)
                answer = self._read(process.stdout.fileno(), _FRAME.unpack(header)[0], deadline)
            except _WorkerStoppedError:
                self._stop()
                raise
            except OSError as exc:
                self._stop()
                raise _WorkerStoppedError(overstayed=False, detail=str(exc)) from exc
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        """Stop the worker, if one runs."""
        with self._lock:
            self._stop()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._process is not None and (self._owner != os.getpid() or self._process.poll() is not None):
            self._stop()
        if self._process is None:
            # -P: the worker's folder is not put on sys.path (its neighbours are not meant to be top-level modules).
            self._process = subprocess.Popen(
                [sys.executable, "-P", str(_WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._owner = os.getpid()
            self._finalizer = weakref.finalize(self, _kill, self._process)
        return self._process

    def _read(self, fd: int, size: int, deadline: float) -> bytes:
        chunks = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _WorkerStoppedError(overstayed=True)
            chunk = os.read(fd, size)
            if not chunk:
                code = self._process.wait() if self._process is not None else None
                raise _WorkerStoppedError(overstayed=False, detail=f"exit code {code}")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # kills and reaps the worker once
        self._process = None
        self._finalizer = None


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def run_in_sandbox(
    sandbox: LuaSandbox,
    source: str,
    origin: str,
    obj: Manifest,
    *,
    time_limit: float,
    max_memory: int,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a script on ``obj`` in the worker; its answer, with a stopped worker reported as the protocol does."""
    request = {
        "source": source,
        "origin": origin,
        "obj": plain_data(obj),
        "time_limit": time_limit,
        "max_memory": max_memory,
        **(extra or {}),
    }
    try:
        return sandbox.run(request, time_limit * _GRACE_FACTOR + _GRACE)
    except _WorkerStoppedError as stopped:
        return {"timeout": True} if stopped.overstayed else {"unknown": f"{origin}: the Lua worker stopped ({stopped})"}


@attrs.frozen
class LuaScript:
    """One health script; calling it assesses an object in the sandbox.

    Attributes:
        source: The Lua source.
        origin: Where it came from (a file path or a ``group/Kind`` key), for messages.
        time_limit: CPU seconds one run may take.
        max_memory: Bytes one run may allocate, the object included.
        sandbox: The worker the script runs in (a :class:`LuaHealthChecks` shares one among its scripts).
        problem: Why the script cannot run (it did not compile); every verdict is then Unknown with that reason.
    """

    source: str = attrs.field(repr=False)
    origin: str
    time_limit: float = DEFAULT_TIME_LIMIT
    max_memory: int = DEFAULT_MAX_MEMORY
    sandbox: LuaSandbox = attrs.field(factory=LuaSandbox, eq=False, repr=False)
    problem: str | None = None

    def __call__(self, obj: Manifest) -> Health:
        """Run the script on ``obj``: its verdict, or Unknown with the reason when it fails or misbehaves."""
        if self.problem is not None:
            return Health(HealthStatus.UNKNOWN, f"{self.origin}: invalid Lua health script: {self.problem}")
        answer = run_in_sandbox(
            self.sandbox, self.source, self.origin, obj, time_limit=self.time_limit, max_memory=self.max_memory
        )
        if answer.get("timeout"):
            return Health(
                HealthStatus.UNKNOWN, f"{self.origin}: health script exceeded its time limit of {self.time_limit:g}s"
            )
        if answer.get("memory"):
            return Health(HealthStatus.UNKNOWN, f"{self.origin}: health script exceeded its memory limit")
        if "unknown" in answer:
            return Health(HealthStatus.UNKNOWN, str(answer["unknown"]))
        status = answer.get("status")
        if status not in _VALID:
            return Health(HealthStatus.UNKNOWN, _INVALID_STATUS)
        return Health(HealthStatus(status), str(answer.get("message", "")))


class LuaHealthChecks:
    """Lua health scripts per group and kind; usable as ``checks`` in :func:`~reconcile.health._assess`.

    Build with :meth:`from_directory` (Argo CD's ``resource_customizations`` layout) or :meth:`from_scripts`.
    Scripts are checked for syntax when loaded; each run is sandboxed and limited in time and memory.
    """

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        if time_limit <= 0 or max_memory <= 0:
            raise ConfigurationError("Lua health checks need a positive time limit and memory limit")
        self.time_limit = time_limit
        self.max_memory = max_memory
        self._table: PatternTable[LuaScript] = PatternTable()
        self._sandbox = LuaSandbox()
        self.problems: dict[str, str] = {}
        """Scripts loaded from a folder that do not compile, by origin: their kinds' health is Unknown, saying why."""

    @classmethod
    def from_scripts(
        cls,
        scripts: Mapping[str, str],
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> LuaHealthChecks:
        """Scripts keyed like Argo CD's ``resource.customizations``.

        Keys are ``"argoproj.io/Rollout"``, ``"Pod"`` (core group), with shell wildcards (``"*.crossplane.io/*"``).

        Raises:
            ConfigurationError: A key is malformed or a script does not compile (the key is named).
        """
        checks = cls(time_limit=time_limit, max_memory=max_memory)
        for key, source in scripts.items():
            group, slash, kind = key.rpartition("/")
            if not kind or "/" in group or (slash and not group):
                raise ConfigurationError(f"health script key {key!r} is not 'group/Kind' or 'Kind'")
            checks.add(group, kind, source, origin=key)
        return checks

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> LuaHealthChecks:
        """Load a folder laid out like Argo CD's ``resource_customizations``.

        Scripts are ``<group>/<Kind>/health.lua`` (``<Kind>/health.lua`` for the core group); ``_`` in a folder
        name is a wildcard (``_.crossplane.io/_``). Other files (tests, test data, actions) are ignored.

        A script that does not compile fails only its own kind: objects of that kind get an Unknown verdict naming
        the file and the compiler's words, and :attr:`problems` lists it. The other scripts load.

        Raises:
            ConfigurationError: The folder is missing, a ``health.lua`` sits elsewhere, or a script cannot be read;
                the error names the file.
        """
        root = Path(path)
        if not root.is_dir():
            raise ConfigurationError(f"{root}: not a folder of health scripts")
        checks = cls(time_limit=time_limit, max_memory=max_memory)
        for file in sorted(root.rglob(SCRIPT_FILE)):
            parts = file.relative_to(root).parts
            if len(parts) not in (2, 3):
                raise ConfigurationError(f"{file}: expected <group>/<Kind>/{SCRIPT_FILE} or <Kind>/{SCRIPT_FILE}")
            group, kind = ("", parts[0]) if len(parts) == 2 else (parts[0], parts[1])  # noqa: PLR2004
            try:
                source = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"{file}: cannot read health script: {exc}") from exc
            # Group and kind names cannot hold "_", so Argo CD spells "*" that way in folder names.
            checks._register(group.replace("_", "*"), kind.replace("_", "*"), source, str(file), tolerate=True)
        return checks

    def add(self, group: str, kind: str, source: str, *, origin: str = "") -> None:
        """Register one script for a group and kind pattern, checking its syntax first.

        Raises:
            ConfigurationError: The script does not compile or is precompiled bytecode (``origin`` is named).
        """
        self._register(group, kind, source, origin or (f"{group}/{kind}" if group else kind), tolerate=False)

    def _register(self, group: str, kind: str, source: str, origin: str, *, tolerate: bool) -> None:
        problem = _lua_sandbox.check_syntax(source, origin, self.max_memory)
        if problem is not None and not tolerate:
            raise ConfigurationError(f"{origin}: invalid Lua health script: {problem}")
        if problem is not None:
            self.problems[origin] = problem
        script = LuaScript(
            source=source,
            origin=origin,
            time_limit=self.time_limit,
            max_memory=self.max_memory,
            sandbox=self._sandbox,
            problem=problem,
        )
        self._table.add(group, kind, script)

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The most specific script for ``group_kind``, or ``None``."""
        return self._table.find(group_kind)

    def script(self, group: str, kind: str) -> LuaScript | None:
        """The script registered for exactly this ``(group, kind)`` pattern (``"*.crossplane.io"``, ``"*"``)."""
        return self._table.get(group, kind)

    def close(self) -> None:
        """Stop the worker process the scripts run in (the next run starts another)."""
        self._sandbox.close()

    def patterns(self) -> tuple[tuple[str, str], ...]:
        """The ``(group, kind)`` patterns that have a script, in load order."""
        return self._table.patterns()
