"""Every fixture of the shared conformance corpus gets the reference's verdict (and message, where it has one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconcile.health import assess

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "health"


def _rows() -> list[Any]:
    table = CORPUS / "expected.tsv"
    if not table.is_file():
        return [
            pytest.param(None, None, None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))
        ]
    rows = []
    for line in table.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            fixture, status, hint = line.split("\t")
            rows.append(pytest.param(fixture, status, hint, id=fixture))
    return rows


def _load(fixture: str) -> dict[str, Any]:
    # The reference parses with Go's YAML, which lets a repeated key (statefulset-ondelete.yaml) win silently.
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    documents = [doc for doc in yaml.load_all((CORPUS / "fixtures" / fixture).read_text(encoding="utf-8")) if doc]
    assert len(documents) == 1
    return documents[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("fixture", "status", "hint"), _rows())
def test_fixture_gets_the_reference_verdict(fixture: str, status: str, hint: str) -> None:
    verdict = assess(_load(fixture))
    if status == "none":
        assert verdict is None
        return
    assert verdict is not None
    assert verdict.status.value == status
    # '-' means the reference returns no message: ours must be empty too.
    assert verdict.message == ("" if hint == "-" else hint)
