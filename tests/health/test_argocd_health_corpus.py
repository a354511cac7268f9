"""Argo CD's own health catalogue: every case of every ``health_test.yaml`` through our Lua runner.

The scripts and their cases are Argo CD's ``resource_customizations`` at a pinned commit, in
``../shared/conformance`` (not copied into the project). Like Argo CD's harness, each case calls its folder's
script on the case's input (the first YAML document of it), the script chosen for the object's group and kind
as Argo CD chooses it (the most specific pattern: ``pkg.crossplane.io/Provider`` before ``*.crossplane.io/*``),
and compares status and message. Calling the script itself skips the engine's rules that come before scripts
(an object being deleted is "Pending deletion" in a real assessment), as Argo CD's harness does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import ManifestError
from reconcile.health import LuaHealthChecks
from reconcile.manifests import load_manifests
from reconcile.model import ResourceKey
from support import read_yaml_leniently

CATALOGUE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argocd-resource-customizations"


def _cases() -> list[tuple[str, str, dict[str, str]]]:
    if not CATALOGUE.is_dir():
        return []
    found = []
    for test_file in sorted(CATALOGUE.rglob("health_test.yaml")):
        folder = test_file.parent
        document = load_manifests(test_file.read_text(), file=str(test_file))[0][0]
        for number, case in enumerate(document.get("tests") or ()):
            found.append((str(folder.relative_to(CATALOGUE)), f"{number}", case))
    return found


CASES = _cases()


def _first_object(text: str, file: str) -> dict[str, Any]:
    """The input's first document. Argo CD reads test data with go-yaml, where a repeated key's last value wins
    (one input, ``rabbitmq.com/User/testdata/unknown.yaml``, has ``status`` twice); reconcile's loader refuses
    duplicate keys as kubectl does, so such a file is read the lenient way."""
    try:
        return load_manifests(text, file=file)[0][0]
    except ManifestError as exc:
        if "duplicate key" not in str(exc):
            raise
    document: dict[str, Any] = read_yaml_leniently(text)
    return document


@pytest.fixture(scope="module")
def catalogue() -> LuaHealthChecks:
    if not CATALOGUE.is_dir():
        pytest.skip(f"Argo CD's resource customizations not found at {CATALOGUE}")
    checks = LuaHealthChecks.from_directory(CATALOGUE)
    yield checks
    checks.close()


def test_the_corpus_is_there_large_and_every_script_compiles(catalogue):
    assert len({folder for folder, _, _ in CASES}) >= 240
    assert len(CASES) >= 1100
    assert catalogue.problems == {}  # the nine scripts with goto (3scale, Gateway API) among them


@pytest.mark.parametrize(("folder", "number", "case"), CASES, ids=[f"{f}#{n}" for f, n, _ in CASES])
def test_each_case_gets_argo_cds_verdict(catalogue, folder, number, case):
    input_path = case.get("inputPath") or case.get("inputpath")
    obj = _first_object((CATALOGUE / folder / input_path).read_text(), input_path)
    script = catalogue.find(ResourceKey.from_manifest(obj).group_kind)
    assert script is not None, folder
    verdict = script(obj)
    expected = case["healthStatus"]
    assert verdict.status.value == expected["status"], verdict.message
    assert verdict.message == (expected.get("message") or ""), verdict.status
