"""Health checks written in Lua with Argo CD's contract, run in a sandbox. The ONLY lupa importer.

A script sees the object as the global ``obj`` and returns a table ``{status = "...", message = "..."}``.
The scripts Argo CD users already have work unchanged: the interpreter is Lua 5.1, the language of Argo CD's
interpreter, with ``string``, ``table``, ``math`` and ``os.time``/``os.date``/``os.clock``. Everything that reaches
outside the script is absent: no ``io``, ``require``, ``dofile``, ``loadfile``, ``load``/``loadstring``,
``string.dump``, ``debug``, ``coroutine``, ``os.execute``/``remove``/``rename``/``exit``/``getenv``/``tmpname``,
and no way back into Python. Each run gets a fresh interpreter, a CPU time limit and a memory limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from lupa import lua51  # type: ignore[import-untyped]  # lupa ships no type information

from reconcile.errors import ConfigurationError
from reconcile.health._patterns import PatternTable
from reconcile.health.status import Health, HealthCheck
from reconcile.model import GroupKind, HealthStatus, Manifest

SCRIPT_FILE = "health.lua"
DEFAULT_TIME_LIMIT = 1.0  # seconds, as Argo CD allows
DEFAULT_MAX_MEMORY = 64 * 1024 * 1024  # bytes per run, the object included

_TIMEOUT = "reconcile: health script exceeded its time limit"
_INVALID_STATUS = "Lua returned an invalid health status"
_VALID = frozenset(status.value for status in HealthStatus)

# Runs in a fresh interpreter before each script: keeps what the runner needs in locals, then hands the script an
# environment holding only the allowed names. getfenv/setfenv are left out: getfenv(0) would reach the real globals.
_SETUP = r"""
local sethook, clock, byte = debug.sethook, os.clock, string.byte
local loadstring, setfenv, pcall, error = loadstring, setfenv, pcall, error
local timeout = ...
string.dump = nil  -- the real table stays reachable through the string metatable
python = nil
local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end
local env = {}
for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
                       "type", "unpack", "xpcall", "rawequal", "rawget", "rawset", "setmetatable", "getmetatable",
                       "_VERSION"}) do
  env[name] = _G[name]
end
env.string, env.table, env.math = copy(string), copy(table), copy(math)
env.os = {time = os.time, date = os.date, clock = os.clock}
env._G = env
return function(source, chunkname, obj, limit)
  if byte(source, 1) == 27 then error("precompiled Lua chunks are not allowed", 0) end
  local fn, err = loadstring(source, "=" .. chunkname)
  if not fn then error(err, 0) end
  env.obj = obj
  setfenv(fn, env)
  local deadline = clock() + limit
  local function hook()
    if clock() > deadline then
      sethook(hook, "", 1)  -- from now on every instruction fails, so a pcall in the script cannot swallow it
      error(timeout, 0)
    end
  end
  sethook(hook, "", 1000)
  local ok, result = pcall(fn)
  sethook()
  if not ok then error(result, 0) end
  return result
end
"""

_CHECK_SYNTAX = r"""
local source, chunkname = ...
if string.byte(source, 1) == 27 then return "precompiled Lua chunks are not allowed" end
local fn, err = loadstring(source, "=" .. chunkname)
return err
"""


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python objects is not allowed")


def _runtime(max_memory: int) -> Any:
    return lua51.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=False,
        max_memory=max_memory,
        attribute_filter=_deny_attributes,
    )


def _plain(value: Any) -> Any:
    """A copy holding only JSON types, so nothing but data crosses into Lua."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


@attrs.frozen
class LuaScript:
    """One compiled-on-demand health script; calling it assesses an object.

    Attributes:
        source: The Lua source.
        origin: Where it came from (a file path or a ``group/Kind`` key), for messages.
        time_limit: CPU seconds one run may take.
        max_memory: Bytes one run may allocate, the object included.
    """

    source: str = attrs.field(repr=False)
    origin: str
    time_limit: float = DEFAULT_TIME_LIMIT
    max_memory: int = DEFAULT_MAX_MEMORY

    def __call__(self, obj: Manifest) -> Health:
        """Run the script on ``obj``: its verdict, or Unknown with the reason when it fails or misbehaves."""
        runtime = _runtime(self.max_memory)
        try:
            runner = runtime.execute(_SETUP, _TIMEOUT)
            table = runtime.table_from(_plain(obj), recursive=True)
            result = runner(self.source, self.origin, table, self.time_limit)
            return _verdict(result)
        except lua51.LuaMemoryError:
            return Health(HealthStatus.UNKNOWN, f"{self.origin}: health script exceeded its memory limit")
        except lua51.LuaError as exc:
            # lupa appends the runner's stack traceback, which names our sandbox code rather than the script.
            message = str(exc).split("\nstack traceback:", 1)[0]
            if _TIMEOUT in message:
                message = f"{self.origin}: health script exceeded its time limit of {self.time_limit:g}s"
            return Health(HealthStatus.UNKNOWN, message)


def _verdict(result: Any) -> Health:
    kind = lua51.lua_type(result)
    if kind != "table":
        return Health(HealthStatus.UNKNOWN, f"expect table output from Lua script, not {kind or _lua_name(result)}")
    status, message = result["status"], result["message"]
    if not isinstance(status, str) or status not in _VALID:
        return Health(HealthStatus.UNKNOWN, _INVALID_STATUS)
    if message is None:
        message = ""
    elif isinstance(message, bool) or not isinstance(message, str | int | float):
        return Health(HealthStatus.UNKNOWN, "Lua returned a health message that is not a string")
    elif not isinstance(message, str):
        message = f"{message:g}" if isinstance(message, float) else str(message)
    return Health(HealthStatus(status), message)


def _lua_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


class LuaHealthChecks:
    """Lua health scripts per group and kind; usable as ``checks`` in :func:`~reconcile.health.assess`.

    Build with :meth:`from_directory` (Argo CD's ``resource_customizations`` layout) or :meth:`from_scripts`.
    Scripts are checked for syntax when loaded; each run is sandboxed and limited in time and memory.
    """

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        if time_limit <= 0 or max_memory <= 0:
            raise ConfigurationError("Lua health checks need a positive time limit and memory limit")
        self.time_limit = time_limit
        self.max_memory = max_memory
        self._table: PatternTable[LuaScript] = PatternTable()

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

        Raises:
            ConfigurationError: The folder is missing, a ``health.lua`` sits elsewhere, or a script cannot be read
                or does not compile; the error names the file.
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
            checks.add(group.replace("_", "*"), kind.replace("_", "*"), source, origin=str(file))
        return checks

    def add(self, group: str, kind: str, source: str, *, origin: str = "") -> None:
        """Register one script for a group and kind pattern, checking its syntax first.

        Raises:
            ConfigurationError: The script does not compile or is precompiled bytecode (``origin`` is named).
        """
        origin = origin or (f"{group}/{kind}" if group else kind)
        runtime = _runtime(self.max_memory)
        try:
            problem = runtime.execute(_CHECK_SYNTAX, source, origin)
        except lua51.LuaError as exc:
            problem = str(exc)
        if problem is not None:
            raise ConfigurationError(f"{origin}: invalid Lua health script: {problem}")
        script = LuaScript(source=source, origin=origin, time_limit=self.time_limit, max_memory=self.max_memory)
        self._table.add(group, kind, script)

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The most specific script for ``group_kind``, or ``None``."""
        return self._table.find(group_kind)

    def patterns(self) -> tuple[tuple[str, str], ...]:
        """The ``(group, kind)`` patterns that have a script, in load order."""
        return self._table.patterns()
