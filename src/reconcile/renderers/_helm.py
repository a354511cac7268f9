"""Helm charts rendered with the real ``helm template``, as Argo CD's repo-server renders them.

The chart folder is ``snapshot.directory``. Before helm runs, the chart is copied into a private temporary folder:
symlinks are followed while they stay inside the repository and refused when they leave it (CVE-2022-31036), so
helm itself never meets a symlink, and ``file://`` dependencies are copied into the copy's ``charts/`` (they are
"built" offline; nothing is ever downloaded). Value files and file parameters are resolved and confined the same
way (CVE-2022-24348): relative to the chart folder, a leading ``/`` meaning the repository root, and ``$name/...``
meaning the root of another source's checkout (Argo CD's multi-source ``$values/...`` reference).

Every rendered object keeps its annotations, so Helm hooks (``helm.sh/hook``) reach the syncer, which runs them.
Each object's :class:`~reconcile.model.Location` is the template that produced it (from helm's ``# Source:``
comments), relative to the repository root.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from reconcile.errors import ConfigurationError, PathEscapeError, RenderError, ToolError, ToolNotFoundError
from reconcile.manifests import check_unique, dump_yaml, load_manifests, validate_manifest
from reconcile.model import Capabilities, Location, Resource, ResourceKey, Snapshot
from reconcile.protocols import Source
from reconcile.renderers._tools import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, Tool

__all__ = ["HelmRenderer"]

_SOURCE_COMMENT = "# Source: "
_MAX_DEPENDENCY_DEPTH = 10  # file:// dependencies of dependencies; deeper is a cycle or a mistake
Scalar = str | int | float | bool


# ------------------------------------------------------------------------------------------------- converters


def _strings(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigurationError(f"expected a list of strings, got the string {value!r}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"expected non-empty strings, got {item!r}")
    return items


_T = TypeVar("_T")


def _pairs(value: Mapping[str, _T] | Iterable[tuple[str, _T]] | None) -> Iterable[tuple[str, _T]]:
    """A mapping's items, or pairs as given (what the converters produce, when ``attrs.evolve`` runs them again)."""
    if value is None:
        return ()
    return value.items() if isinstance(value, Mapping) else value


def _parameters(value: Mapping[str, Scalar] | Iterable[tuple[str, Scalar]] | None) -> tuple[tuple[str, str], ...]:
    """``{"image.tag": "v1"}`` as ordered pairs of strings (booleans spelled as helm spells them)."""
    pairs = []
    for name, raw in _pairs(value):
        if not isinstance(name, str) or not name or "=" in name:
            raise ConfigurationError(f"a helm parameter needs a name without '=', got {name!r}")
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, str | int | float):
            text = str(raw)
        else:
            raise ConfigurationError(f"helm parameter {name!r} must be a string, number or boolean")
        pairs.append((name, text))
    return tuple(pairs)


def _values_text(value: str | Mapping[str, Any] | None) -> str | None:
    """Inline values kept as YAML text: a mapping is written out once, so the renderer stays hashable."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError("values must be YAML text or a mapping")
    try:
        return dump_yaml(dict(value))
    except Exception as exc:  # noqa: BLE001 - the YAML dumper raises several types for non-JSON values
        raise ConfigurationError(f"values must be JSON-like (maps, lists, strings, numbers): {exc}") from None


def _sources(value: Mapping[str, Source] | Iterable[tuple[str, Source]] | None) -> tuple[tuple[str, Source], ...]:
    pairs = []
    for name, source in sorted(_pairs(value), key=lambda pair: pair[0]):
        if not name or "/" in name or "$" in name:
            raise ConfigurationError(f"value source name {name!r} must be a plain name (used as '${name}/...')")
        if not isinstance(source, Source):
            raise ConfigurationError(f"value source {name!r} must be a Source (with a fetch() method)")
        pairs.append((name, source))
    return tuple(pairs)


# ------------------------------------------------------------------------------------------------- renderer


@attrs.frozen(kw_only=True)
class HelmRenderer:
    """Renders the Helm chart in ``snapshot.directory`` with ``helm template``.

    Attributes:
        release_name: ``.Release.Name``. Argo CD uses the application's name; by default this is the chart
            folder's name (the chart's own name when the chart is the repository root).
        namespace: ``.Release.Namespace`` (``--namespace``); helm's ``default`` when ``None``.
        value_files: ``-f`` files in order: relative to the chart folder, ``/x.yaml`` from the repository root,
            ``$name/x.yaml`` from the root of ``value_sources[name]``'s checkout. None may leave its root.
        ignore_missing_value_files: Skip value files that do not exist instead of failing (Argo CD's option).
        values: Inline values, YAML text or a mapping (kept as YAML text); applied after every value file.
        parameters: ``--set`` values, ``path.in.values -> value``; applied after the value files and ``values``.
            Commas in values are escaped as Argo CD does (a ``{a,b}`` list is passed as written).
        string_parameters: ``--set-string`` values.
        file_parameters: ``--set-file`` values: ``path.in.values -> file``, the file resolved like a value file.
        skip_crds: Leave out the chart's ``crds/`` folder (``--skip-crds``); otherwise ``--include-crds``.
        skip_tests: Leave out ``helm.sh/hook: test`` objects (``--skip-tests``).
        skip_schema_validation: Do not check values against ``values.schema.json``.
        api_versions: ``Capabilities.APIVersions`` (``--api-versions``), e.g. ``monitoring.coreos.com/v1``.
        kube_version: ``Capabilities.KubeVersion`` (``--kube-version``), e.g. ``1.30.0``.
        value_sources: Other sources whose checkouts ``$name/...`` value files read. They are fetched at every
            render, so their content is read at render time and is not part of :meth:`fingerprint`.
        helm: Path of the helm executable; ``None`` finds ``helm`` on ``PATH``.
        timeout: Seconds one helm run may take.
        max_output: Bytes of rendered output allowed; more is a :class:`~reconcile.errors.ToolError`.
    """

    release_name: str | None = None
    namespace: str | None = None
    value_files: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    ignore_missing_value_files: bool = False
    values: str | None = attrs.field(default=None, converter=_values_text)
    parameters: tuple[tuple[str, str], ...] = attrs.field(default=None, converter=_parameters)
    string_parameters: tuple[tuple[str, str], ...] = attrs.field(default=None, converter=_parameters)
    file_parameters: tuple[tuple[str, str], ...] = attrs.field(default=None, converter=_parameters)
    skip_crds: bool = False
    skip_tests: bool = False
    skip_schema_validation: bool = False
    api_versions: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    kube_version: str | None = None
    value_sources: tuple[tuple[str, Source], ...] = attrs.field(default=None, converter=_sources)
    helm: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT
    _memo: dict[str, str] = attrs.field(init=False, factory=dict, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.release_name is not None and not self.release_name.strip():
            raise ConfigurationError("release_name must not be empty")
        known = {name for name, _ in self.value_sources}
        written = [*self.value_files, *(path for _, path in self.file_parameters)]
        for path in written:
            if path.startswith("$"):
                name = path[1:].partition("/")[0]
                if name not in known:
                    raise ConfigurationError(f"{path!r} refers to ${name}, which is not one of value_sources")

    def for_cluster(self, capabilities: Capabilities) -> HelmRenderer:
        """This renderer with the cluster's version and API versions, unless they were given explicitly."""
        return attrs.evolve(
            self,
            kube_version=self.kube_version or capabilities.kube_version or None,
            api_versions=self.api_versions or capabilities.api_versions,
        )

    def fingerprint(self) -> str:
        """The whole configuration and helm's version, as stable text (part of render-cache keys).

        ``timeout``, ``max_output`` and the executable's path are left out: they do not change what renders.
        Value sources count by their configuration (their ``repr``), not by their content.

        Raises:
            ToolNotFoundError: helm is not installed.
        """
        cached = self._memo.get("fingerprint")
        if cached is None:
            config = {
                "release_name": self.release_name,
                "namespace": self.namespace,
                "value_files": list(self.value_files),
                "ignore_missing_value_files": self.ignore_missing_value_files,
                "values": self.values,
                "parameters": [list(pair) for pair in self.parameters],
                "string_parameters": [list(pair) for pair in self.string_parameters],
                "file_parameters": [list(pair) for pair in self.file_parameters],
                "skip_crds": self.skip_crds,
                "skip_tests": self.skip_tests,
                "skip_schema_validation": self.skip_schema_validation,
                "api_versions": list(self.api_versions),
                "kube_version": self.kube_version,
                "value_sources": {name: repr(source) for name, source in self.value_sources},
            }
            version = Tool("helm", self.helm).version(("version", "--short"))
            cached = f"helm {version} " + json.dumps(config, sort_keys=True, separators=(",", ":"))
            self._memo["fingerprint"] = cached
        return cached

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Run ``helm template`` on the chart and return its objects, sorted by key.

        Raises:
            PathEscapeError: A symlink in the chart, a value file, a file parameter or a ``file://`` dependency
                resolves outside the repository (or outside its value source's checkout).
            ToolNotFoundError: helm is not installed.
            ToolError: helm failed (its message, and the template file when it names one), timed out, or wrote
                more than ``max_output``.
            RenderError: The folder is not a chart, a value file is missing, or a dependency is not vendored.
            ManifestError: helm's output holds an object without its identity.
            DuplicateResourceError: Two rendered objects have the same key.
        """
        with RenderError.naming(snapshot.revision):
            return self._render(snapshot)

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        root = os.path.realpath(snapshot.root)
        label = posixpath.normpath(Path(snapshot.path).as_posix())
        chart_dir = os.path.realpath(snapshot.directory)
        if not _inside(chart_dir, root):
            raise PathEscapeError(f"chart folder {label!r} is outside the repository", path=label)
        if not Path(chart_dir, "Chart.yaml").is_file():
            raise RenderError(f"{label!r} is not a Helm chart: it has no Chart.yaml")
        tool = Tool("helm", self.helm)
        tool.executable()  # a missing helm fails before any copying
        resolver = _Resolver(chart_dir=chart_dir, root=root, sources=dict(self.value_sources))
        with tempfile.TemporaryDirectory(prefix="reconcile-helm-") as work:
            chart = _Chart.copy(chart_dir, Path(work, "chart"), root=root, label=label)
            args = self._arguments(chart, resolver, Path(work))
            try:
                output = tool.run(args, cwd=work, timeout=self.timeout, max_output=self.max_output)
            except ToolNotFoundError:
                raise
            except ToolError as exc:
                raise chart.tool_error(exc, work) from None
        resources = list(_parse(output, chart, self.max_output))
        resources.sort(key=lambda r: (r.key, r.source.file if r.source else ""))
        check_unique(resources)
        return tuple(resources)

    def _arguments(self, chart: _Chart, resolver: _Resolver, work: Path) -> list[str]:
        release = self.release_name or (chart.label.rpartition("/")[2] if chart.label != "." else chart.name)
        args = ["template", release, str(chart.path)]
        if self.namespace:
            args += ["--namespace", self.namespace]
        for written in self.value_files:
            found = resolver.resolve(written, kind="value file", missing_ok=self.ignore_missing_value_files)
            if found is not None:
                args += ["--values", found]
        if self.values is not None:
            inline = work / "inline-values.yaml"
            inline.write_text(self.values, encoding="utf-8")
            args += ["--values", str(inline)]
        args += [arg for name, value in self.parameters for arg in ("--set", f"{name}={_escape(value)}")]
        args += [arg for name, value in self.string_parameters for arg in ("--set-string", f"{name}={_escape(value)}")]
        for name, written in self.file_parameters:
            found = resolver.resolve(written, kind="file parameter", missing_ok=False)
            args += ["--set-file", f"{name}={_escape(str(found))}"]
        args.append("--skip-crds" if self.skip_crds else "--include-crds")
        if self.skip_tests:
            args.append("--skip-tests")
        if self.skip_schema_validation:
            args.append("--skip-schema-validation")
        args += [arg for api in self.api_versions for arg in ("--api-versions", api)]
        if self.kube_version:
            args += ["--kube-version", self.kube_version]
        return args


def _escape(value: str) -> str:
    """Escape commas the way Argo CD does, so ``a,b`` stays one value; ``{a,b}`` is helm's list and stays as is."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# ------------------------------------------------------------------------------------------------- paths


@attrs.define(kw_only=True)
class _Resolver:
    """Resolves value files and file parameters, each confined to the root it is relative to."""

    chart_dir: str
    root: str
    sources: dict[str, Source]
    fetched: dict[str, str] = attrs.field(factory=dict)

    def resolve(self, written: str, *, kind: str, missing_ok: bool) -> str | None:
        """The real path of ``written``; ``None`` when it is missing and ``missing_ok``.

        Raises:
            PathEscapeError: It leaves its root, lexically (``..``) or through a symlink.
            RenderError: It does not exist (and not ``missing_ok``) or is not a file.
        """
        if written.startswith("$"):
            name, _, rest = written[1:].partition("/")
            base, where = self._source_root(name), f"the checkout of ${name}"
            candidate = str(Path(base, rest))
        elif written.startswith("/"):
            base, where = self.root, "the repository"
            candidate = str(Path(base, written.lstrip("/")))
        else:
            base, where = self.root, "the repository"
            candidate = str(Path(self.chart_dir, written))
        if not _inside(os.path.normpath(candidate), base) or not _inside(os.path.realpath(candidate), base):
            raise PathEscapeError(f"{kind} {written!r} resolves outside {where}", path=written)
        real = os.path.realpath(candidate)
        if not Path(real).exists():
            if missing_ok:
                return None
            raise RenderError(f"{kind} {written!r} does not exist")
        if not Path(real).is_file():
            raise RenderError(f"{kind} {written!r} is not a file")
        return real

    def _source_root(self, name: str) -> str:
        if name not in self.fetched:
            self.fetched[name] = os.path.realpath(self.sources[name].fetch().root)
        return self.fetched[name]


# ------------------------------------------------------------------------------------------------- chart copy


@attrs.define(kw_only=True)
class _Chart:
    """The private copy of a chart helm renders, and how its files map back to the repository."""

    path: Path
    name: str
    label: str
    # "charts/<name>" (relative to the chart) -> the repository folder a file:// dependency was copied from.
    vendored: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def copy(cls, source: str, dest: Path, *, root: str, label: str) -> _Chart:
        """Copy the chart at ``source`` (``label`` relative to ``root``) and its ``file://`` dependencies.

        Raises:
            PathEscapeError: A symlink or a ``file://`` dependency leaves ``root``.
            RenderError: A dependency is neither vendored in ``charts/`` nor a local ``file://`` chart.
        """
        _copy_tree(source, dest, root=root, label=label, ancestors=frozenset({source}))
        chart = cls(path=dest, name=_metadata(dest, label).get("name") or "", label=label)
        if not chart.name:
            raise RenderError(f"{label}/Chart.yaml has no name")
        chart.vendor(source, dest, root=root, label=label, prefix="", depth=0)
        return chart

    def vendor(self, source: str, dest: Path, *, root: str, label: str, prefix: str, depth: int) -> None:
        """Copy the ``file://`` dependencies of the chart copied from ``source`` to ``dest`` into its ``charts/``."""
        if depth > _MAX_DEPENDENCY_DEPTH:
            raise RenderError(f"{label}: file:// dependencies nest deeper than {_MAX_DEPENDENCY_DEPTH} levels")
        present = _vendored_names(dest / "charts", label)
        for dependency in _dependencies(dest, label):
            name = str(dependency.get("name") or "")
            repository = str(dependency.get("repository") or "")
            if not name or name in present:
                continue
            if not repository.startswith("file://"):
                where = f"from {repository}" if repository else "with no repository"
                raise RenderError(
                    f"{label}: chart dependency {name!r} ({where}) is not vendored in charts/; reconcile never "
                    "downloads dependencies: run `helm dependency build` and commit the charts/ folder"
                )
            written = repository.removeprefix("file://")
            candidate = os.path.normpath(Path(source, written))
            real = os.path.realpath(candidate)
            if not _inside(candidate, root) or not _inside(real, root):
                raise PathEscapeError(
                    f"{label}: dependency {name!r} ({repository}) is outside the repository", path=repository
                )
            dep_label = posixpath.normpath(Path(os.path.relpath(real, root)).as_posix())
            if not Path(real, "Chart.yaml").is_file():
                raise RenderError(f"{label}: dependency {name!r} ({repository}) is not a chart folder")
            target = dest / "charts" / name
            _copy_tree(real, target, root=root, label=dep_label, ancestors=frozenset({real}))
            shown = str(dependency.get("alias") or _metadata(target, dep_label).get("name") or name)
            self.vendored[f"{prefix}charts/{shown}"] = dep_label
            self.vendor(real, target, root=root, label=dep_label, prefix=f"{prefix}charts/{shown}/", depth=depth + 1)

    def location(self, source: str) -> str:
        """The repository file behind helm's ``# Source: <chart>/templates/x.yaml`` name."""
        rest = source.partition("/")[2]
        for prefix in sorted(self.vendored, key=len, reverse=True):
            if rest.startswith(prefix + "/"):
                return f"{self.vendored[prefix]}{rest[len(prefix) :]}"
        return rest if self.label == "." else f"{self.label}/{rest}"

    def tool_error(self, exc: ToolError, work: str) -> ToolError:
        """``exc`` with private paths shown as the repository's, and the template file helm named."""
        chart_folder = str(self.path)

        def clean(text: str) -> str:
            return text.replace(chart_folder, self.label).replace(work, "<private>")

        stderr = clean(exc.stderr)
        named = re.search(rf"(?<![\w.-]){re.escape(self.name)}/([\w./-]+\.\w+)", stderr)
        file = self.location(f"{self.name}/{named.group(1)}") if named else None
        return ToolError(clean(exc.message), tool=exc.tool, exit_code=exc.exit_code, stderr=stderr, file=file)


def _copy_tree(source: str, dest: Path, *, root: str, label: str, ancestors: frozenset[str]) -> None:
    """Copy ``source`` to ``dest`` following symlinks that stay inside ``root``; ``.git`` folders are skipped."""
    dest.mkdir(parents=True, exist_ok=True)
    with os.scandir(source) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name == ".git":
            continue
        name = f"{label}/{entry.name}" if label != "." else entry.name
        real = os.path.realpath(entry.path)
        if entry.is_symlink() and not _inside(real, root):
            raise PathEscapeError(f"symlink {name!r} points outside the repository", path=name)
        if entry.is_dir():
            if real not in ancestors:  # a symlink to an enclosing folder would recurse for ever
                _copy_tree(real, dest / entry.name, root=root, label=name, ancestors=ancestors | {real})
        elif entry.is_file():
            shutil.copyfile(real, dest / entry.name)
        elif entry.is_symlink():
            raise RenderError(f"symlink {name!r} points to nothing")


def _metadata(chart: Path, label: str) -> dict[str, Any]:
    """The chart's ``Chart.yaml`` as a mapping."""
    file = f"{label}/Chart.yaml" if label != "." else "Chart.yaml"
    documents = load_manifests((chart / "Chart.yaml").read_bytes(), file=file)
    return documents[0][0] if documents else {}


def _dependencies(chart: Path, label: str) -> list[dict[str, Any]]:
    """Dependencies from ``Chart.yaml`` (apiVersion v2) or ``requirements.yaml`` (v1 charts)."""
    found = _metadata(chart, label).get("dependencies")
    requirements = chart / "requirements.yaml"
    if not found and requirements.is_file():
        documents = load_manifests(requirements.read_bytes(), file=f"{label}/requirements.yaml")
        found = documents[0][0].get("dependencies") if documents else None
    return [item for item in found or () if isinstance(item, dict)]


def _vendored_names(charts: Path, label: str) -> set[str]:
    """Names of the charts in a ``charts/`` folder: unpacked folders by their name, archives by file name."""
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            names.add(str(_metadata(entry, f"{label}/charts/{entry.name}").get("name") or entry.name))
        elif entry.name.endswith(".tgz"):
            # name-1.2.3.tgz: the version starts at the last '-' followed by a digit (names may hold '-' too).
            match = re.match(r"(.+?)-v?\d[^-]*(?:-[^-]+)*\.tgz$", entry.name)
            names.add(match.group(1) if match else entry.name.removesuffix(".tgz"))
    return names


# ------------------------------------------------------------------------------------------------- output


def _documents(text: str) -> Iterator[tuple[str | None, str]]:
    """Split helm's output into ``(# Source: name, document)`` pairs."""
    lines: list[str] = []
    for line in [*text.splitlines(keepends=True), "---\n"]:
        if line.rstrip() == "---":
            if lines:
                source = next((x[len(_SOURCE_COMMENT) :].strip() for x in lines if x.startswith(_SOURCE_COMMENT)), None)
                yield source, "".join(lines)
            lines = []
        else:
            lines.append(line)


def _parse(output: str, chart: _Chart, max_bytes: int) -> Iterator[Resource]:
    fallback = chart.label if chart.label != "." else "Chart.yaml"
    for source, document in _documents(output):
        file = chart.location(source) if source else fallback
        for obj, _ in load_manifests(document, file=file, max_bytes=max_bytes):
            validate_manifest(obj, file=file, line=None)
            # load_manifests built obj for us alone, so it needs no defensive copy.
            yield Resource(key=ResourceKey.from_manifest(obj), manifest=obj, source=Location(file=file))
