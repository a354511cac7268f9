"""The adapter to ``kubernetes-validate``: the API schemas of each Kubernetes release, as JSON.

The package ships, per minor release, one ``_definitions.json`` with every type of the built-in API as the
release's OpenAPI document describes it (``x-kubernetes-group-version-kind``, ``x-kubernetes-list-type``,
``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``, int-or-string and quantity types). This is the only
module that knows where those files are; it reads them without importing the package (whose import pulls in
a JSON Schema validator the library does not use).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from reconcile.errors import ConfigurationError

_PACKAGE = "kubernetes_validate"
_FOLDER = "kubernetes-json-schema"
_RELEASE = re.compile(r"v(\d+)\.(\d+)\.\d+-local")


def _schema_root() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / _FOLDER
        if folder.is_dir():
            return folder
    raise ConfigurationError(
        f"the Kubernetes API schemas are missing: the package {_PACKAGE.replace('_', '-')} is not installed "
        "(it is a dependency of reconcile; reinstall reconcile)"
    )


def releases() -> list[tuple[int, int]]:
    """The minor releases whose schemas are installed, oldest first (``[(1, 25), ..., (1, 37)]``)."""
    found = {
        (int(match.group(1)), int(match.group(2)))
        for entry in _schema_root().iterdir()
        if (match := _RELEASE.fullmatch(entry.name))
    }
    return sorted(found)


def definitions(release: tuple[int, int]) -> dict[str, Any]:
    """Every type definition of one release by its OpenAPI name (``io.k8s.api.apps.v1.Deployment``).

    References between them are JSON pointers of the form ``#/$defs/<name>``.
    """
    major, minor = release
    path = _schema_root() / f"v{major}.{minor}.0-local" / "_definitions.json"
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the Kubernetes {major}.{minor} API schema at {path}: {exc}") from exc
    found = document.get("$defs") if isinstance(document, dict) else None
    if not isinstance(found, dict):
        raise ConfigurationError(f"the Kubernetes {major}.{minor} API schema at {path} has no type definitions")
    return found
