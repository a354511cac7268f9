"""The tool runner: no shell, limits, a clean environment, masked errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconcile.errors import ToolError, ToolNotFoundError
from reconcile.renderers._tools import Tool


def _script(tmp_path: Path, body: str) -> Tool:
    path = tmp_path / "tool"
    path.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    path.chmod(0o755)
    return Tool("tool", str(path))


def test_output_comes_back_and_the_environment_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HELM_REPOSITORY_CONFIG", "/home/me/.config/helm/repositories.yaml")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    tool = _script(tmp_path, "print(sys.argv[1:]); print(sorted(os.environ)); print(os.environ['HOME'])")

    out = tool.run(["template", "a b", "$(whoami)"], env={"EXTRA": "1"}).splitlines()

    assert out[0] == "['template', 'a b', '$(whoami)']"  # arguments as given: no shell
    names = eval(out[1])  # noqa: S307 - our own script printed a list literal
    assert "AWS_SECRET_ACCESS_KEY" not in names
    assert "HELM_REPOSITORY_CONFIG" not in names
    assert {"HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "EXTRA"} <= set(names)
    assert out[2] != str(Path("~").expanduser())
    assert not Path(out[2]).exists()  # the private home is removed afterwards


def test_a_failure_carries_the_tool_message_with_credentials_masked(tmp_path):
    tool = _script(
        tmp_path,
        "sys.stderr.write('Error: pulling https://bob:hunter2@charts.example.com/x failed, "
        "token=abc123, pw s3cr3t\\n'); sys.exit(3)",
    )
    with pytest.raises(ToolError) as caught:
        tool.run(["pull"], secrets=["s3cr3t"])
    error = caught.value
    assert error.exit_code == 3
    assert error.tool == "tool"
    assert "pulling https://charts.example.com/x failed" in str(error)
    for secret in ("hunter2", "abc123", "s3cr3t"):
        assert secret not in str(error)
        assert secret not in error.stderr


def test_time_and_output_limits_stop_the_tool(tmp_path):
    slow = _script(tmp_path, "time.sleep(30)")
    with pytest.raises(ToolError, match=r"stopped after 0\.5 s \(time limit\)"):
        slow.run(["x"], timeout=0.5)
    chatty = _script(tmp_path, "sys.stdout.write('x' * 1000000); sys.stdout.flush(); time.sleep(30)")
    with pytest.raises(ToolError, match="output limit"):
        chatty.run(["x"], max_output=1000)


def test_a_missing_tool_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFoundError, match=r"helm is not on PATH: install helm"):
        Tool("helm").run(["version"])
    with pytest.raises(ToolNotFoundError, match="not an executable file"):
        Tool("kubectl", str(tmp_path / "nope")).run(["version"])
