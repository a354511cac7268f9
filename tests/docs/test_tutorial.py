"""docs/tutorial.md runs as written: its files are created and its Python blocks run in order, in one namespace.

A fenced block with ``title="path"`` is a file the reader creates (written relative to a fresh folder, in page
order, so a later block with the same title replaces the file); a plain ``python`` block is code the reader runs.
Every other block (``text`` output, ``sh``) is prose. The page's own asserts check the story; this test checks the
end state once more.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import structlog

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(?P<path>[^"]+)"')


def blocks(text: str) -> list[tuple[str, str | None, str]]:
    """``(language, file title or None, body)`` for each fenced block, in page order."""
    found = []
    for match in FENCE.finditer(text):
        title = TITLE.search(match["attrs"])
        found.append((match["lang"], title["path"] if title else None, match["body"]))
    return found


def test_the_page_has_files_and_code():
    found = blocks(TUTORIAL.read_text())
    files = {title for _, title, _ in found if title}
    assert "platform/helm/grade-api/Chart.yaml" in files
    assert "platform/apps/grade-api-prod.yaml" in files
    assert sum(lang == "python" and title is None for lang, title, _ in found) >= 8


@pytest.fixture
def helm_on_path(helm_binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A reader has helm on PATH; the suite's helm_binary fixture finds it among the test assets (or on PATH).
    helm_dir = str(Path(helm_binary).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([helm_dir, os.environ.get("PATH", os.defpath)]))


@pytest.fixture
def keep_structlog_config() -> Any:
    # The tutorial configures structlog, as a host program does; give the rest of the suite its own config back.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.integration
@pytest.mark.usefixtures("helm_on_path", "keep_structlog_config")
def test_the_tutorial_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "tutorial"}
    for index, (lang, title, body) in enumerate(blocks(TUTORIAL.read_text())):
        if title is not None:
            path = tmp_path / title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif lang == "python":
            exec(compile(body, f"{TUTORIAL}:block{index}", "exec"), namespace)  # noqa: S102 - the page is ours

    rc = namespace["rc"]
    cluster = namespace["cluster"]
    deployment = cluster.get(rc.ResourceKey("apps", "Deployment", "grades", "grade-api"))
    assert deployment["spec"]["replicas"] == 4  # the autoscaler's value, respected by every later sync
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/grade-api:1.5.0"
    assert cluster.get(rc.ResourceKey("autoscaling", "HorizontalPodAutoscaler", "grades", "grade-api")) is None
    assert namespace["result"].sync_status is rc.SyncStatus.SYNCED
    assert namespace["repo"].resolve("main") == namespace["result"].revision.sha
