"""The OCI registry helper: Debian's docker-registry, with charts pushed by the real helm."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reconcile.testing import ControlPlaneError, OCIRegistry, write_chart

pytestmark = pytest.mark.integration  # a real registry process and the real helm


def _package(tmp_path: Path, helm: str, version: str = "1.2.0") -> Path:
    chart = write_chart(tmp_path / "src", "web", version, {"templates/cm.yaml": "kind: ConfigMap\n"})
    out = tmp_path / "packages"
    subprocess.run([helm, "package", str(chart), "--destination", str(out)], check=True, capture_output=True)
    return out / f"web-{version}.tgz"


def _push(helm: str, archive: Path, registry: OCIRegistry, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [helm, "push", str(archive), f"oci://{registry.host}/charts", "--plain-http", *extra]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_a_chart_pushed_by_helm_is_listed_with_the_digest_helm_reports(tmp_path, helm_binary):
    archive = _package(tmp_path, helm_binary)
    with OCIRegistry(tmp_path / "registry") as registry:
        pushed = _push(helm_binary, archive, registry)
        assert pushed.returncode == 0, pushed.stderr
        assert registry.tags("charts/web") == ["1.2.0"]
        reported = re.search(r"Digest: (sha256:[0-9a-f]{64})", pushed.stdout + pushed.stderr)
        assert reported is not None, pushed.stdout + pushed.stderr
        assert registry.manifest_digest("charts/web", "1.2.0") == reported.group(1)


def test_a_registry_with_a_password_refuses_anonymous_pushes(tmp_path, helm_binary):
    archive = _package(tmp_path, helm_binary)
    with OCIRegistry(tmp_path / "registry", username="ci", password="push-token-9") as registry:
        refused = _push(helm_binary, archive, registry)
        assert refused.returncode != 0
        accepted = _push(helm_binary, archive, registry, "--username", "ci", "--password", "push-token-9")
        assert accepted.returncode == 0, accepted.stderr
        assert registry.tags("charts/web") == ["1.2.0"]


def test_a_stopped_registry_keeps_its_storage_and_a_missing_binary_is_named(tmp_path, helm_binary):
    archive = _package(tmp_path, helm_binary)
    with OCIRegistry(tmp_path / "registry") as registry:
        assert _push(helm_binary, archive, registry).returncode == 0
    with OCIRegistry(tmp_path / "registry") as again:
        assert again.tags("charts/web") == ["1.2.0"]
    with pytest.raises(ControlPlaneError, match="docker-registry is not at"):
        OCIRegistry(tmp_path / "r2", binary=tmp_path / "nope").start()
