"""Argo CD ``ApplicationSet`` manifests as a generator of Applications a host reconciles.

An ApplicationSet combines generators, which produce sets of parameters, with a template, which becomes one
Application per set. reconcile reads the generators that need no cluster and no SCM provider:

- ``list``: the ``elements`` given;
- ``git`` with ``directories``: one set per folder matching a pattern (``apps/*``), ``exclude: true`` patterns
  removed; parameters ``path``, ``path.basename``, ``path.basenameNormalized``, ``path[N]``;
- ``git`` with ``files``: one set per JSON or YAML file matching a pattern (``**`` too), its content flattened with
  dots, plus ``path`` (the file's folder), ``path.basename``, ``path.filename``, ``path.basenameNormalized``,
  ``path.filenameNormalized``, ``path[N]``;
- ``matrix`` (two generators, every pair; the second may use the first's parameters) and ``merge`` (the first
  generator's sets, overridden by the others' sets that agree on ``mergeKeys``).

Parameters fill the template in Argo CD's default form (fasttemplate): ``{{name}}`` in any string is replaced, and a
tag naming no parameter is left as written. ``goTemplate: true`` (Go templates with Sprig functions) is refused by
name rather than rendered differently from Argo CD; so are the cluster, SCM-provider, pull-request and plugin
generators, which need services reconcile does not reach. Generated Applications carry Argo CD's
``resources-finalizer.argocd.argoproj.io`` unless ``syncPolicy.preserveResourcesOnDeletion`` is true.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from reconcile.argocd.application import Application
from reconcile.errors import ConfigurationError, ManifestError
from reconcile.jsonvalues import deep_copy
from reconcile.manifests import load_manifests
from reconcile.model import Manifest
from reconcile.sources import Credentials, GitSource

__all__ = ["API_VERSION", "RESOURCES_FINALIZER", "ApplicationSet"]

API_VERSION = "argoproj.io/v1alpha1"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
"""The finalizer Argo CD gives generated Applications, so deleting one deletes its objects."""

_TAG = re.compile(r"\{\{(.*?)\}\}")
_MATRIX_CHILDREN = 2  # Argo CD's matrix combines exactly two generators
_UNSUPPORTED = ("clusters", "clusterDecisionResource", "scmProvider", "pullRequest", "plugin")
_NORMALIZE = re.compile(r"[^a-zA-Z0-9-]+")
Params = dict[str, str]
Fetch = Callable[[str, str], Path]


@attrs.frozen
class ApplicationSet:
    """An ``ApplicationSet`` manifest; :meth:`generate` gives its Applications.

    ::

        appset = rc.argocd.applicationset.ApplicationSet.from_file("appset.yaml")
        for app in appset.generate():
            reconciler = app.reconciler(clusters)

    Attributes:
        name: ``metadata.name``.
        namespace: ``metadata.namespace`` (Argo CD's own by default).
        manifest: The manifest as read.
    """

    name: str
    namespace: str
    manifest: Manifest = attrs.field(repr=False, eq=False)

    @classmethod
    def from_manifest(cls, obj: Manifest) -> ApplicationSet:
        """Read an ApplicationSet manifest.

        Raises:
            ConfigurationError: It is not an ApplicationSet, lacks generators or a template, or uses what reconcile
                does not render (``goTemplate``, generators that need a cluster or an SCM provider), naming it.
        """
        if obj.get("kind") != "ApplicationSet" or obj.get("apiVersion") != API_VERSION:
            raise ConfigurationError(f"not an {API_VERSION} ApplicationSet: {obj.get('apiVersion')}/{obj.get('kind')}")
        metadata = obj.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigurationError("ApplicationSet: metadata.name is required")
        spec = obj.get("spec") or {}
        where = f"ApplicationSet {name}"
        if spec.get("goTemplate"):
            raise ConfigurationError(
                f"{where}: spec.goTemplate: Go templates are not supported yet; reconcile renders only the default "
                "{{param}} templates (rendering Go templates differently from Argo CD is worse than not at all)"
            )
        if "templatePatch" in spec:
            raise ConfigurationError(f"{where}: spec.templatePatch needs goTemplate, which is not supported yet")
        if not isinstance(spec.get("generators"), list) or not spec["generators"]:
            raise ConfigurationError(f"{where}: spec.generators must be a non-empty list")
        if not isinstance(spec.get("template"), Mapping):
            raise ConfigurationError(f"{where}: spec.template is required")
        for index, generator in enumerate(spec["generators"]):
            _check_generator(generator, f"{where}: spec.generators[{index}]")
        return cls(name=name, namespace=str(metadata.get("namespace") or "argocd"), manifest=deep_copy(dict(obj)))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ApplicationSet:
        """Read the one ApplicationSet of a YAML or JSON file.

        Raises:
            ConfigurationError: The file cannot be read, or holds other than one ApplicationSet.
        """
        file = os.fspath(path)
        try:
            documents = load_manifests(Path(file).read_bytes(), file=file)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {file}: {exc.strerror}") from exc
        except ManifestError as exc:
            raise ConfigurationError(str(exc), file=exc.file, line=exc.line) from exc
        if len(documents) != 1:
            raise ConfigurationError(f"{file}: expected one ApplicationSet, found {len(documents)} documents")
        return cls.from_manifest(documents[0][0])

    def parameters(
        self, *, cache_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None
    ) -> list[Params]:
        """The parameter sets the generators produce, in Argo CD's order.

        Raises:
            ConfigurationError: A generator is malformed.
            SourceError: A Git generator's repository or revision could not be read.
        """
        fetch = _git_fetcher(cache_dir, credentials)
        spec = self.manifest.get("spec") or {}
        found: list[Params] = []
        for generator in spec["generators"]:
            found += _generate(generator, fetch, f"ApplicationSet {self.name}", {})
        return found

    def generate(
        self, *, cache_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None
    ) -> tuple[Application, ...]:
        """The Applications: the template filled with each parameter set.

        Raises:
            ConfigurationError: A generated Application is malformed (naming the parameter set), or two have one
                name.
            SourceError: A Git generator's repository or revision could not be read.
        """
        spec = self.manifest.get("spec") or {}
        preserve = bool((spec.get("syncPolicy") or {}).get("preserveResourcesOnDeletion"))
        apps: list[Application] = []
        names: dict[tuple[str, str], Params] = {}
        for params in self.parameters(cache_dir=cache_dir, credentials=credentials):
            manifest = _application(spec["template"], params, self.namespace, preserve)
            try:
                app = Application.parse(manifest)
            except ConfigurationError as exc:
                raise ConfigurationError(f"ApplicationSet {self.name}: parameters {params}: {exc}") from exc
            key = (app.namespace, app.name)
            if key in names:
                raise ConfigurationError(
                    f"ApplicationSet {self.name}: two parameter sets generate Application {app.name!r}: "
                    f"{names[key]} and {params}"
                )
            names[key] = params
            apps.append(app)
        return tuple(apps)


# ------------------------------------------------------------------------------------------- generators


def _check_generator(generator: Any, where: str) -> None:
    if not isinstance(generator, Mapping) or len([k for k in generator if k not in ("selector", "template")]) != 1:
        raise ConfigurationError(f"{where} must name exactly one generator")
    kind = next(k for k in generator if k not in ("selector", "template"))
    if kind in _UNSUPPORTED:
        raise ConfigurationError(
            f"{where}: the {kind} generator needs a cluster or a service reconcile does not reach; not supported"
        )
    if kind not in ("list", "git", "matrix", "merge"):
        raise ConfigurationError(f"{where}: unknown generator {kind!r}")
    if "selector" in generator:
        raise ConfigurationError(f"{where}.selector: generator selectors are not supported yet")
    if kind in ("matrix", "merge"):
        children = (generator[kind] or {}).get("generators")
        if not isinstance(children, list) or (kind == "matrix" and len(children) != _MATRIX_CHILDREN) or not children:
            raise ConfigurationError(
                f"{where}.{kind}.generators: a {kind} needs {'two' if kind == 'matrix' else 'some'} generators"
            )
        for index, child in enumerate(children):
            _check_generator(child, f"{where}.{kind}.generators[{index}]")


def _generate(generator: Mapping[str, Any], fetch: Fetch, where: str, outer: Params) -> list[Params]:
    kind = next(k for k in generator if k not in ("selector", "template"))
    body = _fill(generator[kind], outer) if outer else generator[kind]
    if kind == "list":
        return [_flatten(element, f"{where}: list element") for element in body.get("elements") or ()]
    if kind == "git":
        return _git(body, fetch, where)
    if kind == "matrix":
        first, second = body["generators"]
        found = []
        for left in _generate(first, fetch, where, outer):
            for right in _generate(second, fetch, where, {**outer, **left}):
                found.append({**left, **right})
        return found
    return _merge(body, fetch, where, outer)


def _merge(body: Mapping[str, Any], fetch: Fetch, where: str, outer: Params) -> list[Params]:
    keys = body.get("mergeKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigurationError(f"{where}: merge.mergeKeys must be a non-empty list of parameter names")
    generators = body["generators"]
    merged = _generate(generators[0], fetch, where, outer)
    for other in generators[1:]:
        overrides = _generate(other, fetch, where, outer)
        for base in merged:
            identity = tuple(base.get(k) for k in keys)
            for override in overrides:
                if tuple(override.get(k) for k in keys) == identity:
                    base.update(override)
    return merged


def _git(body: Mapping[str, Any], fetch: Fetch, where: str) -> list[Params]:
    url, revision = body.get("repoURL"), str(body.get("revision") or "HEAD")
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{where}: git.repoURL is required")
    root = fetch(url, revision)
    prefix = str(body.get("pathParamPrefix") or "")
    values = body.get("values") or {}
    if "directories" in body:
        found = [_path_params(folder, prefix) for folder in _directories(root, body["directories"], where)]
    elif "files" in body:
        found = []
        for file in _files(root, body["files"], where):
            params = _file_params(root / file, file, where)
            params.update(_path_params(str(PurePosixPath(file).parent), prefix, filename=PurePosixPath(file).name))
            found.append(params)
    else:
        raise ConfigurationError(f"{where}: a git generator needs directories or files")
    for params in found:
        params.update({f"values.{k}": _substitute(str(v), params) for k, v in values.items()})
    return found


def _directories(root: Path, patterns: Sequence[Mapping[str, Any]], where: str) -> list[str]:
    """Folders matching an including pattern and no ``exclude: true`` one (hidden folders never match)."""
    folders = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_dir() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return _chosen(folders, patterns, where, "directories")


def _files(root: Path, patterns: Sequence[Mapping[str, Any]], where: str) -> list[str]:
    """Files matching an including pattern and no ``exclude: true`` one."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return _chosen(files, patterns, where, "files")


def _chosen(paths: list[str], patterns: Sequence[Mapping[str, Any]], where: str, field: str) -> list[str]:
    for pattern in patterns:
        if not isinstance(pattern, Mapping) or not isinstance(pattern.get("path"), str):
            raise ConfigurationError(f"{where}: git.{field} entries need a path")
    included = [p["path"] for p in patterns if not p.get("exclude")]
    excluded = [p["path"] for p in patterns if p.get("exclude")]
    return [
        path
        for path in paths
        if any(_match(path, pattern) for pattern in included) and not any(_match(path, e) for e in excluded)
    ]


def _match(path: str, pattern: str) -> bool:
    """Glob matching segment by segment (``*`` stays within a folder), ``**`` any number of folders."""
    parts, wanted = path.split("/"), pattern.strip("/").split("/")

    def walk(i: int, j: int) -> bool:
        if j == len(wanted):
            return i == len(parts)
        if wanted[j] == "**":
            return any(walk(k, j + 1) for k in range(i, len(parts) + 1))
        return i < len(parts) and fnmatch.fnmatchcase(parts[i], wanted[j]) and walk(i + 1, j + 1)

    return walk(0, 0)


def _path_params(folder: str, prefix: str, *, filename: str | None = None) -> Params:
    key = f"{prefix}.path" if prefix else "path"
    posix = PurePosixPath(folder)
    params = {
        key: folder,
        f"{key}.basename": posix.name,
        f"{key}.basenameNormalized": _normalized(posix.name),
    }
    params.update({f"{key}[{i}]": part for i, part in enumerate(posix.parts)})
    if filename is not None:
        params[f"{key}.filename"] = filename
        params[f"{key}.filenameNormalized"] = _normalized(filename)
    return params


def _normalized(name: str) -> str:
    """A name made fit for Kubernetes, as Argo CD's ``basenameNormalized``: other characters become ``-``."""
    return _NORMALIZE.sub("-", name).lower()


def _file_params(file: Path, label: str, where: str) -> Params:
    try:
        documents = load_manifests(file.read_bytes(), file=label)
    except (OSError, ManifestError) as exc:
        raise ConfigurationError(f"{where}: git file {label} is not JSON or YAML: {exc}") from exc
    if len(documents) != 1:
        raise ConfigurationError(f"{where}: git file {label} must hold one document")
    return _flatten(documents[0][0], f"{where}: git file {label}")


def _flatten(value: Any, where: str, prefix: str = "") -> Params:
    """Nested mappings as ``a.b.c`` parameters, as Argo CD flattens them; scalars as text."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} must be a mapping")
    flat: Params = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(_flatten(item, where, f"{name}."))
        elif isinstance(item, list):
            flat[name] = json.dumps(item)
        elif isinstance(item, bool):
            flat[name] = "true" if item else "false"
        else:
            flat[name] = "" if item is None else str(item)
    return flat


# -------------------------------------------------------------------------------------------- templates


def _substitute(text: str, params: Params) -> str:
    """Argo CD's fasttemplate: ``{{ name }}`` becomes the parameter; a tag naming none stays as written."""
    return _TAG.sub(lambda m: params.get(m.group(1).strip(), m.group(0)), text)


def _fill(value: Any, params: Params) -> Any:
    if isinstance(value, str):
        return _substitute(value, params)
    if isinstance(value, list):
        return [_fill(item, params) for item in value]
    if isinstance(value, Mapping):
        return {_substitute(str(k), params): _fill(v, params) for k, v in value.items()}
    return value


def _application(template: Mapping[str, Any], params: Params, namespace: str, preserve: bool) -> Manifest:
    filled = _fill(deep_copy(dict(template)), params)
    metadata = dict(filled.get("metadata") or {})
    metadata.setdefault("namespace", namespace)
    if not preserve:
        metadata["finalizers"] = [*(metadata.get("finalizers") or []), RESOURCES_FINALIZER]
    return {"apiVersion": API_VERSION, "kind": "Application", "metadata": metadata, "spec": filled.get("spec") or {}}


def _git_fetcher(cache_dir: str | os.PathLike[str] | None, credentials: Credentials | None) -> Fetch:
    fetched: dict[tuple[str, str], Path] = {}

    def fetch(url: str, revision: str) -> Path:
        if (url, revision) not in fetched:
            git_cache = Path(cache_dir) / "git" if cache_dir is not None else None
            snapshot = GitSource(url, revision, cache_dir=git_cache, credentials=credentials).fetch()
            fetched[(url, revision)] = snapshot.root
        return fetched[(url, revision)]

    return fetch
