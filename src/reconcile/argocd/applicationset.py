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

Parameters fill the template in Argo CD's two forms. By default (fasttemplate) ``{{name}}`` in any string is
replaced by the flattened parameter, and a tag naming no parameter is left as written. With ``goTemplate: true``
each string is a Go template over the nested parameters (``{{ .path.basename }}``, ``{{ index .path.segments 1 }}``),
with Sprig's and Argo CD's functions and ``goTemplateOptions`` (``missingkey=error``), and ``templatePatch`` is
rendered and merged into each Application. The cluster, SCM-provider, pull-request and plugin generators need
services reconcile does not reach and are refused by name. Generated Applications carry Argo CD's
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

from reconcile.argocd import _gotemplate as gotemplate
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
Params = dict[str, Any]
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
        if "templatePatch" in spec and not spec.get("goTemplate"):
            raise ConfigurationError(f"{where}: spec.templatePatch needs goTemplate: true")
        options = spec.get("goTemplateOptions") or []
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise ConfigurationError(f"{where}: spec.goTemplateOptions must be a list of strings")
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

    @property
    def _templating(self) -> _Templating:
        spec = self.manifest.get("spec") or {}
        return _Templating(bool(spec.get("goTemplate")), tuple(spec.get("goTemplateOptions") or ()), self.name)

    def parameters(
        self, *, cache_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None
    ) -> list[Params]:
        """The parameter sets the generators produce, in Argo CD's order (nested, as Go templates see them).

        Raises:
            ConfigurationError: A generator is malformed, or a template in one fails.
            SourceError: A Git generator's repository or revision could not be read.
        """
        fetch = _git_fetcher(cache_dir, credentials)
        spec = self.manifest.get("spec") or {}
        found: list[Params] = []
        for generator in spec["generators"]:
            found += _generate(generator, fetch, self._templating, {})
        return found

    def generate(
        self, *, cache_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None
    ) -> tuple[Application, ...]:
        """The Applications: the template filled with each parameter set (and ``templatePatch`` merged in).

        Raises:
            ConfigurationError: A template fails, a generated Application is malformed (naming the parameter set),
                or two have one name.
            SourceError: A Git generator's repository or revision could not be read.
        """
        spec = self.manifest.get("spec") or {}
        preserve = bool((spec.get("syncPolicy") or {}).get("preserveResourcesOnDeletion"))
        templating = self._templating
        apps: list[Application] = []
        names: dict[tuple[str, str], Params] = {}
        for params in self.parameters(cache_dir=cache_dir, credentials=credentials):
            manifest = _application(spec["template"], params, self.namespace, preserve, templating)
            if "templatePatch" in spec:
                manifest = _patched(manifest, spec["templatePatch"], params, templating)
            try:
                app = Application.parse(manifest)
            except ConfigurationError as exc:
                raise ConfigurationError(f"ApplicationSet {self.name}: parameters {_flat(params)}: {exc}") from exc
            key = (app.namespace, app.name)
            if key in names:
                raise ConfigurationError(
                    f"ApplicationSet {self.name}: two parameter sets generate Application {app.name!r}: "
                    f"{_flat(names[key])} and {_flat(params)}"
                )
            names[key] = params
            apps.append(app)
        return tuple(apps)


@attrs.frozen
class _Templating:
    """How templates are filled: Go templates (with options) or fasttemplate."""

    go: bool
    options: tuple[str, ...]
    where: str

    def fill(self, value: Any, params: Params) -> Any:
        """``value`` with every string (and map key) filled from ``params``."""
        if isinstance(value, str):
            return self.text(value, params)
        if isinstance(value, list):
            return [self.fill(item, params) for item in value]
        if isinstance(value, Mapping):
            return {self.text(str(k), params): self.fill(v, params) for k, v in value.items()}
        return value

    def text(self, text: str, params: Params) -> str:
        if not self.go:
            flat = _flat(params)
            return _TAG.sub(lambda m: flat.get(m.group(1).strip(), m.group(0)), text)
        try:
            return gotemplate.render(text, params, options=self.options)
        except gotemplate.TemplateError as exc:
            raise ConfigurationError(f"ApplicationSet {self.where}: template {text!r}: {exc}") from None


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


def _generate(generator: Mapping[str, Any], fetch: Fetch, templating: _Templating, outer: Params) -> list[Params]:
    kind = next(k for k in generator if k not in ("selector", "template"))
    body = templating.fill(generator[kind], outer) if outer else generator[kind]
    where = f"ApplicationSet {templating.where}"
    if kind == "list":
        elements = body.get("elements") or ()
        for element in elements:
            if not isinstance(element, Mapping):
                raise ConfigurationError(f"{where}: list elements must be mappings")
        return [deep_copy(dict(element)) for element in elements]
    if kind == "git":
        return _git(body, fetch, where, templating)
    if kind == "matrix":
        first, second = body["generators"]
        found = []
        for left in _generate(first, fetch, templating, outer):
            for right in _generate(second, fetch, templating, _merged(outer, left)):
                found.append(_merged(left, right))
        return found
    return _merge(body, fetch, templating, outer)


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> Params:
    """``override``'s parameters over ``base``'s, nested maps merged."""
    out: Params = deep_copy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(out[key], value)
        else:
            out[key] = deep_copy(value)
    return out


def _merge(body: Mapping[str, Any], fetch: Fetch, templating: _Templating, outer: Params) -> list[Params]:
    keys = body.get("mergeKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigurationError(f"ApplicationSet {templating.where}: merge.mergeKeys must be parameter names")
    generators = body["generators"]
    merged = _generate(generators[0], fetch, templating, outer)
    for other in generators[1:]:
        overrides = _generate(other, fetch, templating, outer)
        for position in range(len(merged)):
            identity = tuple(_flat(merged[position]).get(k) for k in keys)
            for override in overrides:
                if tuple(_flat(override).get(k) for k in keys) == identity:
                    merged[position] = _merged(merged[position], override)
    return merged


def _git(body: Mapping[str, Any], fetch: Fetch, where: str, templating: _Templating) -> list[Params]:
    url, revision = body.get("repoURL"), str(body.get("revision") or "HEAD")
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{where}: git.repoURL is required")
    root = fetch(url, revision)
    prefix = str(body.get("pathParamPrefix") or "")
    values = body.get("values") or {}
    found: list[Params]
    if "directories" in body:
        found = [_path_params(folder, prefix) for folder in _directories(root, body["directories"], where)]
    elif "files" in body:
        found = []
        for file in _files(root, body["files"], where):
            params = _file_params(root / file, file, where)
            folder = str(PurePosixPath(file).parent)
            found.append(_merged(params, _path_params(folder, prefix, filename=PurePosixPath(file).name)))
    else:
        raise ConfigurationError(f"{where}: a git generator needs directories or files")
    for params in found:
        params["values"] = {str(k): templating.text(str(v), params) for k, v in values.items()}
        if not params["values"]:
            del params["values"]
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
    """The ``path`` parameter of a Git generator, nested as Go templates see it (``.path.basename``)."""
    posix = PurePosixPath(folder)
    path: dict[str, Any] = {
        "path": folder,
        "basename": posix.name,
        "basenameNormalized": _normalized(posix.name),
        "segments": list(posix.parts),
    }
    if filename is not None:
        path["filename"] = filename
        path["filenameNormalized"] = _normalized(filename)
    return {prefix: {"path": path}} if prefix else {"path": path}


def _normalized(name: str) -> str:
    """A name made fit for Kubernetes, as Argo CD's ``basenameNormalized``: other characters become ``-``."""
    return _NORMALIZE.sub("-", name).lower()


def _file_params(file: Path, label: str, where: str) -> Params:
    try:
        documents = load_manifests(file.read_bytes(), file=label)
    except (OSError, ManifestError) as exc:
        raise ConfigurationError(f"{where}: git file {label} is not JSON or YAML: {exc}") from exc
    if len(documents) != 1 or not isinstance(documents[0][0], Mapping):
        raise ConfigurationError(f"{where}: git file {label} must hold one mapping")
    return deep_copy(dict(documents[0][0]))


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The parameters as fasttemplate names them.

    Nested maps become ``a.b.c``; a Git ``path`` becomes ``path``, ``path.basename``, ``path[N]``...; lists JSON,
    scalars text.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and key == "path" and "segments" in value:
            flat[name] = str(value["path"])
            flat.update({f"{name}.{k}": str(v) for k, v in value.items() if k not in ("path", "segments")})
            flat.update({f"{name}[{i}]": part for i, part in enumerate(value["segments"])})
        elif isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value)
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = "" if value is None else str(value)
    return flat


# -------------------------------------------------------------------------------------------- templates


def _application(
    template: Mapping[str, Any], params: Params, namespace: str, preserve: bool, templating: _Templating
) -> Manifest:
    filled = templating.fill(deep_copy(dict(template)), params)
    metadata = dict(filled.get("metadata") or {})
    metadata.setdefault("namespace", namespace)
    if not preserve:
        metadata["finalizers"] = [*(metadata.get("finalizers") or []), RESOURCES_FINALIZER]
    return {"apiVersion": API_VERSION, "kind": "Application", "metadata": metadata, "spec": filled.get("spec") or {}}


def _patched(manifest: Manifest, patch: Any, params: Params, templating: _Templating) -> Manifest:
    """``templatePatch`` rendered as one Go template, read as YAML and merged in (maps merged, lists replaced)."""
    if not isinstance(patch, str):
        raise ConfigurationError(f"ApplicationSet {templating.where}: templatePatch must be a string")
    text = templating.text(patch, params)
    try:
        documents = load_manifests(text, file="templatePatch") if text.strip() else []
    except ManifestError as exc:
        raise ConfigurationError(f"ApplicationSet {templating.where}: templatePatch is not YAML: {exc}") from exc
    if not documents:
        return manifest
    return _merged(manifest, documents[0][0])


def _git_fetcher(cache_dir: str | os.PathLike[str] | None, credentials: Credentials | None) -> Fetch:
    fetched: dict[tuple[str, str], Path] = {}

    def fetch(url: str, revision: str) -> Path:
        if (url, revision) not in fetched:
            git_cache = Path(cache_dir) / "git" if cache_dir is not None else None
            snapshot = GitSource(url, revision, cache_dir=git_cache, credentials=credentials).fetch()
            fetched[(url, revision)] = snapshot.root
        return fetched[(url, revision)]

    return fetch
