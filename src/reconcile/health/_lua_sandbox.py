"""The Lua sandbox: the ONLY lupa importer, and the program of the worker process that runs health scripts.

Scripts run in a process of their own (``python -P <this file>``), so that a run which never returns can be
stopped from outside: Lua's count hook, which enforces the CPU limit inside the interpreter, never fires while a
C function runs (``string.find(string.rep('a', 40), string.rep('.-', 40) .. 'b')`` backtracks for ever inside
the pattern matcher), and nothing in a process can interrupt that. The parent (``reconcile.health._lua``) kills
the worker when a run overstays and starts another.

This file imports only the standard library and lupa: the worker runs it by path, without the package.

Each run gets a fresh interpreter, a CPU time limit (the count hook) and a memory limit (lupa's allocator).
Requests and answers are JSON, framed by a 4-byte big-endian length, on the worker's stdin and stdout:
``{"source", "origin", "obj", "time_limit", "max_memory"}`` in; ``{"status", "message"}``, ``{"unknown": why}``,
``{"timeout": true}`` or ``{"memory": true}`` out.
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


def run(source: str, origin: str, obj: Any, *, time_limit: float, max_memory: int) -> dict[str, Any]:
    """Run one script on ``obj`` (JSON data) in a fresh interpreter; the answer as the protocol spells it."""
    runtime = _runtime(max_memory)
    try:
        runner = runtime.execute(_SETUP, _TIMEOUT)
        table = runtime.table_from(obj, recursive=True)
        return _verdict(runner(source, origin, table, time_limit))
    except lua.LuaMemoryError:
        return {"memory": True}
    except lua.LuaError as exc:
        # lupa appends the runner's stack traceback, which names our sandbox code rather than the script.
        message = str(exc).split("\nstack traceback:", 1)[0]
        return {"timeout": True} if _TIMEOUT in message else {"unknown": message}


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
        )
        data = json.dumps(answer).encode()
        frame = memoryview(_FRAME.pack(len(data)) + data)
        while frame:
            frame = frame[os.write(write_fd, frame) :]


if __name__ == "__main__":
    serve(sys.stdin.fileno(), sys.stdout.fileno())
