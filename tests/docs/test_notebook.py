"""examples/notebook.ipynb runs top to bottom in a kernel of the current interpreter and shows what it promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


def _outputs(cell: Any) -> tuple[str, str]:
    """The cell's printed text and its rich HTML output, each joined over all outputs."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", ()) if o["output_type"] == "stream")
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", ()))
    return text, html


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is ipykernel's own kernel: it runs on sys.executable, so the notebook sees this environment.
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("notebook"))}},
    )
    client.execute()  # raises CellExecutionError naming the cell when any cell fails
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_no_cell_fails_and_every_cell_ran(executed):
    assert executed
    for cell in executed:
        assert cell.execution_count is not None
        assert not [o for o in cell.get("outputs", ()) if o["output_type"] == "error"], cell.source


def test_the_story_is_told_in_html(executed):
    htmls = [_outputs(cell)[1] for cell in executed]
    plan = next(h for h in htmls if "sync plan for grade-api-prod: 4 to create" in h)  # the first plan
    assert "<td>CreateNamespace</td>" in plan
    assert "<table" in plan
    results = [h for h in htmls if "grade-api-prod" in h and "<table" in h]
    assert len(results) >= 4  # the first pass, health, prune and the HPA passes render as tables
    assert any("Healthy" in h for h in results)
    drift = next(h for h in htmls if "reconcile-diff-result" in h)  # kubectl scale, as a colored unified diff
    assert "OutOfSync: 1 of 3 objects differs" in drift
    assert "-  replicas: 5</div>" in drift
    assert "+  replicas: 2</div>" in drift


def test_the_printed_facts_are_the_story(executed):
    printed = "".join(_outputs(cell)[0] for cell in executed)
    assert "Healthy\n" in printed
    assert "live replicas: 2\n" in printed  # self-heal undid kubectl scale
    assert "ConfigMap live: False\n" in printed  # pruned after it left Git
    assert "live replicas after the fight: 2\n" in printed  # without ignoreDifferences, self-heal fights the HPA
    assert "Synced ghcr.io/example/grade-api:1.5.0 4\n" in printed  # the new image, the HPA's replicas


def test_the_tree_is_a_picture_and_text(executed):
    last = executed[-1]
    text, _ = _outputs(last)
    assert text.startswith("grade-api-prod (Application)")
    assert "└─ HorizontalPodAutoscaler grades/grade-api" in text
    pictures = "".join(o.get("data", {}).get("image/svg+xml", "") for o in last.get("outputs", ()))
    assert pictures.startswith("<svg")
    assert "grade-api" in pictures
