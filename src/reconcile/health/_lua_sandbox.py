"""The Lua sandbox: the ONLY lupa importer, and the program of the worker process that runs health scripts.

Scripts run in a process of their own (``python -P <this file>``), so that a run which never returns can be
stopped from outside: Lua's count hook, which enforces the CPU limit inside the interpreter, never fires while a
C function runs (``string.find(string.rep('a', 40), string.rep('.-', 40) .. 'b')`` backtracks for ever inside
the pattern matcher), and nothing in a process can interrupt that. The parent (``reconcile.health._lua``) kills
the worker when a run overstays and starts another.

This file imports only the standard library and lupa: the worker runs it by path, without the package.

Each run gets a fresh interpreter, a CPU time limit (the count hook) and a memory limit (lupa's allocator).
Requests and answers are JSON, framed by a 4-byte big-endian length, on the worker's stdin and stdout:
``{"source", "origin", "obj", "time_limit", "max_memory"}`` (and for actions ``"mode"``, ``"params"``, ``"now"``)
in; ``{"status", "message"}``, ``{"result": data}``, ``{"unknown": why}``, ``{"timeout": true}`` or
``{"memory": true}`` out.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import Any

from lupa import luajit21 as lua  # type: ignore[import-untyped]  # lupa ships no type information

_TIMEOUT = "reconcile: health script exceeded its time limit"
_FRAME = struct.Struct(">I")

# Runs in a fresh interpreter before each script: keeps what the runner needs in locals, then hands the script an
# environment holding only the allowed names. getfenv/setfenv are left out: getfenv(0) would reach the real globals.
# The JIT compiler is off: compiled traces run no hooks, and the count hook is the CPU limit.
_SETUP = r"""
jit.off()
local sethook, clock, byte = debug.sethook, os.clock, string.byte
local loadstring, setfenv, pcall, error = loadstring, setfenv, pcall, error
local real_date, real_time, floor, format = os.date, os.time, math.floor, string.format
local timeout = ...
string.dump = nil  -- the real table stays reachable through the string metatable
python = nil
local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end

-- os.date as Argo CD's interpreter formats (Go's strftime): years padded to four digits, so that a clock frozen at
-- Go's zero time prints 0001-01-01T00:00:00Z; the C library prints year 1 as "1".
local names = {a = "%a", A = "%A", b = "%b", B = "%B", p = "%p"}
local function strftime(fmt, t, utc)
  local d = real_date(utc and "!*t" or "*t", t)
  local fields = {
    Y = format("%04d", d.year), y = format("%02d", d.year % 100), m = format("%02d", d.month),
    d = format("%02d", d.day), H = format("%02d", d.hour), M = format("%02d", d.min), S = format("%02d", d.sec),
    j = format("%03d", d.yday), e = format("%2d", d.day), I = format("%02d", (d.hour + 11) % 12 + 1),
    Z = utc and "UTC" or real_date("%Z", t), z = utc and "+0000" or real_date("%z", t), ["%"] = "%",
  }
  fields.X = fields.H .. ":" .. fields.M .. ":" .. fields.S
  fields.T = fields.X
  fields.F = fields.Y .. "-" .. fields.m .. "-" .. fields.d
  fields.x = fields.m .. "/" .. fields.d .. "/" .. fields.y
  fields.D = fields.x
  return (fmt:gsub("%%(.)", function(c)
    if fields[c] then return fields[c] end
    if names[c] then return real_date((utc and "!" or "") .. names[c], t) end
    return "%" .. c
  end))
end

local function make_os(now)
  local function current() return now or real_time() end
  return {
    time = function(t) if t == nil then return current() end return real_time(t) end,
    clock = os.clock,
    date = function(fmt, t)
      fmt = fmt or "%c"
      t = t or current()
      local utc = fmt:sub(1, 1) == "!"
      if utc then fmt = fmt:sub(2) end
      if fmt == "*t" then return real_date(utc and "!*t" or "*t", t) end
      return strftime(fmt, t, utc)
    end,
  }
end

local base = {}
for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
                       "type", "unpack", "xpcall", "rawequal", "rawget", "rawset", "setmetatable", "getmetatable",
                       "_VERSION"}) do
  base[name] = _G[name]
end
local string_lib, table_lib, math_lib = copy(string), copy(table), copy(math)
return function(source, chunkname, obj, limit, params, now)
  if byte(source, 1) == 27 then error("precompiled Lua chunks are not allowed", 0) end
  local fn, err = loadstring(source, "=" .. chunkname)
  if not fn then error(err, 0) end
  local env = copy(base)
  env.string, env.table, env.math = string_lib, table_lib, math_lib
  env.os = make_os(now)
  -- Argo CD's action scripts begin with require("os"); nothing else can be required.
  env.require = function(name)
    if name == "os" then return env.os end
    error("module '" .. tostring(name) .. "' is not available", 0)
  end
  env._G = env
  env.obj = obj
  env.actionParams = params
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
jit.off()
local source, chunkname = ...
if string.byte(source, 1) == 27 then return "precompiled Lua chunks are not allowed" end
local fn, err = loadstring(source, "=" .. chunkname)
return err
"""


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python objects is not allowed")


def _runtime(max_memory: int) -> Any:
    return lua.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=False,
        max_memory=max_memory,
        attribute_filter=_deny_attributes,
    )


def check_syntax(source: str, origin: str, max_memory: int) -> str | None:
    """Why ``source`` does not compile (or is precompiled bytecode), or ``None``; compiling runs nothing."""
    try:
        problem = _runtime(max_memory).execute(_CHECK_SYNTAX, source, origin)
    except lua.LuaError as exc:
        return str(exc)
    return None if problem is None else str(problem)


def run(
    source: str,
    origin: str,
    obj: Any,
    *,
    time_limit: float,
    max_memory: int,
    mode: str = "health",
    params: dict[str, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Run one script on ``obj`` (JSON data) in a fresh interpreter; the answer as the protocol spells it.

    ``mode`` is ``health`` (a verdict), ``discovery`` or ``action`` (the script's result as JSON data).
    """
    runtime = _runtime(max_memory)
    try:
        runner = runtime.execute(_SETUP, _TIMEOUT)
        table = runtime.table_from(obj, recursive=True)
        lua_params = runtime.table_from(params or {}) if mode == "action" else None
        result = runner(source, origin, table, time_limit, lua_params, now)
        if mode == "health":
            return _verdict(result)
        return {"result": _from_lua(result, 0)}
    except lua.LuaMemoryError:
        return {"memory": True}
    except lua.LuaError as exc:
        # lupa appends the runner's stack traceback, which names our sandbox code rather than the script.
        message = str(exc).split("\nstack traceback:", 1)[0]
        return {"timeout": True} if _TIMEOUT in message else {"unknown": message}
    except _NotDataError as exc:
        return {"unknown": f"{origin}: {exc}"}


class _NotDataError(Exception):
    """A script returned something that is not JSON data (a function, a cycle, a structure too deep)."""


_MAX_DEPTH = 100


def _from_lua(value: Any, depth: int) -> Any:
    """A script's result as JSON data: arrays for tables keyed 1..n, objects otherwise.

    An empty table is an empty array, as Argo CD reads it; the caller puts maps back where the object had maps.
    Integral numbers become integers (Lua has only doubles; ``replicas: 6`` must not become ``6.0``).
    """
    if depth > _MAX_DEPTH:
        raise _NotDataError(f"the result is nested deeper than {_MAX_DEPTH} levels")
    kind = lua.lua_type(value)
    if kind == "table":
        items = list(value.items())
        keys = [key for key, _ in items]
        if all(isinstance(key, int | float) and not isinstance(key, bool) for key in keys) and sorted(keys) == list(
            range(1, len(keys) + 1)
        ):
            return [_from_lua(value[index], depth + 1) for index in range(1, len(keys) + 1)]
        return {str(key): _from_lua(item, depth + 1) for key, item in items}
    if kind is not None:
        raise _NotDataError(f"a Lua {kind} cannot be part of the result")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _verdict(result: Any) -> dict[str, Any]:
    kind = lua.lua_type(result)
    if kind != "table":
        return {"unknown": f"expect table output from Lua script, not {kind or _lua_name(result)}"}
    status, message = result["status"], result["message"]
    if not isinstance(status, str):
        return {"status": None}
    if message is None:
        message = ""
    elif isinstance(message, bool) or not isinstance(message, str | int | float):
        return {"unknown": "Lua returned a health message that is not a string"}
    elif not isinstance(message, str):
        message = f"{message:g}" if isinstance(message, float) else str(message)
    return {"status": status, "message": message}


def _lua_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def serve(read_fd: int, write_fd: int) -> None:
    """Answer requests until the parent closes the pipe."""
    while (header := _read_exactly(read_fd, _FRAME.size)) is not None:
        body = _read_exactly(read_fd, _FRAME.unpack(header)[0])
        if body is None:
            return
        request = json.loads(body)
        answer = run(
            request["source"],
            request["origin"],
            request["obj"],
            time_limit=request["time_limit"],
            max_memory=request["max_memory"],
            mode=request.get("mode", "health"),
            params=request.get("params"),
            now=request.get("now"),
        )
        data = json.dumps(answer).encode()
        frame = memoryview(_FRAME.pack(len(data)) + data)
        while frame:
            frame = frame[os.write(write_fd, frame) :]


if __name__ == "__main__":
    serve(sys.stdin.fileno(), sys.stdout.fileno())
