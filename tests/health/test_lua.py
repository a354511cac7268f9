"""Lua health scripts: Argo CD's contract, the sandbox, the limits, and loading from a folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import ConfigurationError
from reconcile.health import LuaHealthChecks, LuaScript, assess
from reconcile.model import GroupKind, Health, HealthStatus

UNKNOWN = HealthStatus.UNKNOWN

WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "ns"},
    "spec": {"items": [10, 20, 30], "enabled": True, "ratio": 0.5, "nothing": None},
    "status": {"phase": "Ready"},
}

# Argo CD's style: a global `hs` table, Lua 5.1 idioms such as table.getn.
ARGO_STYLE = """
hs = {}
if obj.status ~= nil and obj.status.phase == "Ready" then
  hs.status = "Healthy"
  hs.message = "items=" .. table.getn(obj.spec.items) .. " first=" .. obj.spec.items[1]
    .. " " .. tostring(obj.spec.enabled)
  return hs
end
hs.status = "Progressing"
hs.message = "waiting"
return hs
"""


def run(source: str, obj: dict[str, Any] = WIDGET, **limits: Any) -> Health:
    checks = LuaHealthChecks.from_scripts({"example.com/Widget": source}, **limits)
    result = assess(obj, checks)
    assert result is not None
    return result


def test_contract_obj_in_table_out() -> None:
    assert run(ARGO_STYLE) == Health(HealthStatus.HEALTHY, "items=3 first=10 true")
    waiting = {**WIDGET, "status": {}}
    assert run(ARGO_STYLE, waiting) == Health(HealthStatus.PROGRESSING, "waiting")


def test_every_status_string_is_accepted() -> None:
    for status in HealthStatus:
        assert run(f'return {{status = "{status.value}", message = "m"}}') == Health(status, "m")


def test_allowed_libraries_work() -> None:
    source = """
    local parts = {}
    for word in string.gmatch("a b c", "%a+") do table.insert(parts, string.upper(word)) end
    local t = os.time({year = 2024, month = 1, day = 1, hour = 0})
    local ok = type(os.date("!%Y", t)) == "string" and os.clock() >= 0 and math.floor(2.7) == 2
    return {status = "Healthy", message = table.concat(parts, ",") .. " " .. tostring(ok) .. " " .. ("x"):rep(2)}
    """
    assert run(source) == Health(HealthStatus.HEALTHY, "A,B,C true xx")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('return {status = "Bogus"}', "Lua returned an invalid health status"),
        ("return {status = 1}", "Lua returned an invalid health status"),
        ("return {}", "Lua returned an invalid health status"),
        ("return 5", "expect table output from Lua script, not number"),
        ("return nil", "expect table output from Lua script, not nil"),
        ('return "Healthy"', "expect table output from Lua script, not string"),
        ('return {status = "Healthy", message = {}}', "Lua returned a health message that is not a string"),
        ('error("boom")', "example.com/Widget:1: boom"),
        ("local x = nil; return x.y", "example.com/Widget:1: attempt to index local 'x' (a nil value)"),
    ],
)
def test_bad_results_and_errors_are_unknown(source: str, message: str) -> None:
    assert run(source) == Health(UNKNOWN, message)


def test_numeric_messages_are_text() -> None:
    assert run('return {status = "Healthy", message = 3}') == Health(HealthStatus.HEALTHY, "3")


@pytest.mark.parametrize(
    "source",
    [
        'return io.open("/etc/passwd")',
        'os.execute("touch reconcile-escaped")',
        'os.remove("/tmp/x")',
        'os.rename("/tmp/x", "/tmp/y")',
        "os.exit(1)",
        'return os.getenv("HOME")',
        "return os.tmpname()",
        'dofile("/etc/passwd")',
        'loadfile("/etc/passwd")',
        'return load("return 1")',
        'return loadstring("return 1")',
        "return load(string.dump(function() end))",
        'return (""):dump()',
        "debug.sethook()",
        "return coroutine.create(function() end)",
        "return getfenv(0)",
        "setfenv(1, {})",
        'return python.eval("1")',
        "return package.loaded",
        "return module('x')",
    ],
)
def test_sandbox_refuses_escapes(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(source)
    assert result.status is UNKNOWN
    assert "nil value" in result.message
    assert list(tmp_path.iterdir()) == []


def test_require_gives_only_the_restricted_os_table() -> None:
    same = 'return {status = "Healthy", message = tostring(require("os") == os and os.execute == nil)}'
    assert run(same) == Health(HealthStatus.HEALTHY, "true")
    for module in ("io", "ffi", "jit", "debug"):
        refused = run(f'return require("{module}")')
        assert refused.status is UNKNOWN
        assert f"module '{module}' is not available" in refused.message


def test_globals_hold_only_the_allowed_names() -> None:
    source = """
    local names = {}
    for name in pairs(_G) do table.insert(names, name) end
    table.sort(names)
    local osnames = {}
    for name in pairs(os) do table.insert(osnames, name) end
    table.sort(osnames)
    return {status = "Healthy", message = table.concat(names, " ") .. " | " .. table.concat(osnames, " ")}
    """
    expected = (
        "_G _VERSION assert error getmetatable ipairs math next obj os pairs pcall rawequal rawget rawset require "
        "select "
        "setmetatable string table tonumber tostring type unpack xpcall | clock date time"
    )
    assert run(source) == Health(HealthStatus.HEALTHY, expected)


def test_precompiled_chunks_are_refused_when_loading() -> None:
    with pytest.raises(ConfigurationError, match="precompiled Lua chunks are not allowed"):
        LuaHealthChecks.from_scripts({"Pod": "\x1bLua"})


def test_an_endless_loop_hits_the_time_limit() -> None:
    result = run("while true do end", time_limit=0.1)
    assert result == Health(UNKNOWN, "example.com/Widget: health script exceeded its time limit of 0.1s")


def test_a_script_cannot_swallow_the_time_limit() -> None:
    source = "while true do pcall(function() while true do end end) end"
    assert run(source, time_limit=0.1).message == "example.com/Widget: health script exceeded its time limit of 0.1s"


def test_a_run_stuck_inside_the_pattern_matcher_is_stopped_from_outside() -> None:
    # No count hook fires inside C's backtracking matcher: only the watchdog can stop this run.
    stuck = "string.find(string.rep('a', 40), string.rep('.-', 40) .. 'b') return {status = 'Healthy'}"
    checks = LuaHealthChecks.from_scripts(
        {"example.com/Widget": stuck, "example.com/Gadget": ARGO_STYLE}, time_limit=0.2
    )
    started = time.monotonic()
    result = assess(WIDGET, checks)
    took = time.monotonic() - started
    assert result == Health(UNKNOWN, "example.com/Widget: health script exceeded its time limit of 0.2s")
    assert took < 2.0, took
    # The killed worker is replaced: the next run, of this script set, works.
    gadget = {**WIDGET, "kind": "Gadget"}
    assert assess(gadget, checks) == Health(HealthStatus.HEALTHY, "items=3 first=10 true")
    checks.close()
    assert assess(gadget, checks) == Health(HealthStatus.HEALTHY, "items=3 first=10 true")
    checks.close()


def test_a_script_run_alone_has_a_sandbox_of_its_own() -> None:
    script = LuaScript(source='return {status = "Degraded", message = obj.status.phase}', origin="widget")
    assert script(WIDGET) == Health(HealthStatus.DEGRADED, "Ready")
    script.sandbox.close()


def test_memory_is_limited() -> None:
    result = run('local s = string.rep("x", 64 * 1024 * 1024) return {status = "Healthy"}', max_memory=8 * 1024 * 1024)
    assert result == Health(UNKNOWN, "example.com/Widget: health script exceeded its memory limit")


def test_runs_do_not_share_globals() -> None:
    checks = LuaHealthChecks.from_scripts(
        {"example.com/Widget": 'counter = (counter or 0) + 1 return {status = "Healthy", message = tostring(counter)}'}
    )
    assert [assess(WIDGET, checks) for _ in range(2)] == [Health(HealthStatus.HEALTHY, "1")] * 2


def test_the_script_cannot_change_the_callers_object() -> None:
    obj = {**WIDGET, "spec": {"items": [1]}}
    run('obj.spec.items[1] = 99 obj.metadata = nil return {status = "Healthy"}', obj)
    assert obj["spec"] == {"items": [1]}
    assert obj["metadata"] == {"name": "w", "namespace": "ns"}


def test_lua_checks_override_builtin_ones() -> None:
    checks = LuaHealthChecks.from_scripts({"Service": 'return {status = "Degraded", message = "lua"}'})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert assess(service, checks) == Health(HealthStatus.DEGRADED, "lua")
    assert assess(service) == Health(HealthStatus.HEALTHY)


def test_script_keys_and_wildcards() -> None:
    checks = LuaHealthChecks.from_scripts(
        {
            "*.crossplane.io/*": 'return {status = "Healthy", message = "any"}',
            "s3.crossplane.io/Bucket": 'return {status = "Healthy", message = "bucket"}',
        }
    )
    assert checks.patterns() == (("*.crossplane.io", "*"), ("s3.crossplane.io", "Bucket"))
    bucket, other = (
        checks.find(GroupKind("s3.crossplane.io", "Bucket")),
        checks.find(GroupKind("ec2.crossplane.io", "X")),
    )
    assert bucket is not None
    assert other is not None
    assert bucket({}) == Health(HealthStatus.HEALTHY, "bucket")
    assert other({}) == Health(HealthStatus.HEALTHY, "any")
    assert checks.find(GroupKind("crossplane.io", "X")) is None


@pytest.mark.parametrize("key", ["", "/Pod", "a/b/Pod", "apps/"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="is not 'group/Kind' or 'Kind'"):
        LuaHealthChecks.from_scripts({key: 'return {status = "Healthy"}'})


def test_syntax_errors_name_the_script() -> None:
    with pytest.raises(ConfigurationError, match=r"^argoproj.io/Rollout: invalid Lua health script: .*'end' expected"):
        LuaHealthChecks.from_scripts({"argoproj.io/Rollout": "if true then"})


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        LuaHealthChecks(time_limit=0)


# ----------------------------------------------------------------------------------------------------
# Loading a resource_customizations folder


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def healthy(message: str) -> str:
    return f'hs = {{}}\nhs.status = "Healthy"\nhs.message = "{message}"\nreturn hs\n'


def test_from_directory_reads_argo_cd_layout(tmp_path: Path) -> None:
    write(tmp_path, "argoproj.io/Rollout/health.lua", healthy("rollout"))
    write(tmp_path, "argoproj.io/Rollout/health_test.yaml", "tests: []\n")
    write(tmp_path, "argoproj.io/Rollout/testdata/healthy.yaml", "kind: Rollout\n")
    write(tmp_path, "argoproj.io/Rollout/actions/restart/action.lua", "return obj\n")
    write(tmp_path, "_.crossplane.io/_/health.lua", healthy("crossplane"))
    write(tmp_path, "Pod/health.lua", healthy("pod"))
    checks = LuaHealthChecks.from_directory(tmp_path)
    assert sorted(checks.patterns()) == [("", "Pod"), ("*.crossplane.io", "*"), ("argoproj.io", "Rollout")]

    def message(api_version: str, kind: str) -> str | None:
        result = assess({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}, checks)
        return None if result is None else result.message

    assert message("argoproj.io/v1alpha1", "Rollout") == "rollout"
    assert message("s3.aws.crossplane.io/v1", "Bucket") == "crossplane"
    assert message("v1", "Pod") == "pod"
    assert message("example.com/v1", "Widget") is None


def test_from_directory_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a folder of health scripts"):
        LuaHealthChecks.from_directory(tmp_path / "absent")
    misplaced = write(tmp_path / "layout", "a/b/c/health.lua", healthy("deep"))
    with pytest.raises(ConfigurationError, match=f"^{misplaced}: expected <group>/<Kind>/health.lua"):
        LuaHealthChecks.from_directory(tmp_path / "layout")
    top = write(tmp_path / "top", "health.lua", healthy("top"))
    with pytest.raises(ConfigurationError, match=f"^{top}: expected"):
        LuaHealthChecks.from_directory(tmp_path / "top")
    binary = tmp_path / "binary" / "Pod" / "health.lua"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigurationError, match=f"^{binary}: cannot read health script"):
        LuaHealthChecks.from_directory(tmp_path / "binary")
    unreadable = write(tmp_path / "dir", "Pod/health.lua", "")
    unreadable.unlink()
    unreadable.mkdir()  # a folder named health.lua cannot be read as a file
    with pytest.raises(ConfigurationError, match="cannot read health script"):
        LuaHealthChecks.from_directory(tmp_path / "dir")


def test_a_script_that_does_not_compile_fails_only_its_own_kind(tmp_path: Path) -> None:
    bad = write(tmp_path, "example.com/Widget/health.lua", "return {status = ")
    write(tmp_path, "example.com/Gadget/health.lua", healthy("gadget"))
    checks = LuaHealthChecks.from_directory(tmp_path)
    assert list(checks.problems) == [str(bad)]
    gadget = assess({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}, checks)
    assert gadget == Health(HealthStatus.HEALTHY, "gadget")
    widget = assess(WIDGET, checks)
    assert widget is not None
    assert widget.status is UNKNOWN
    assert widget.message.startswith(f"{bad}: invalid Lua health script: ")
    with pytest.raises(ConfigurationError, match="invalid Lua health script"):
        LuaHealthChecks.from_scripts({"example.com/Widget": "return {status = "})  # one script given: refused


def test_goto_compiles_and_runs_as_on_argo_cds_interpreter() -> None:
    source = """
hs = {status = "Healthy", message = ""}
for _, condition in ipairs(obj.spec.items) do
  if condition == 20 then goto continue end
  hs.message = hs.message .. condition .. ","
  ::continue::
end
return hs
"""
    assert run(source) == Health(HealthStatus.HEALTHY, "10,30,")
