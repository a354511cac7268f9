"""Argo CD's config management plugins: a ``ConfigManagementPlugin`` spec run as a renderer.

A plugin (``plugin.yaml``, ``kind: ConfigManagementPlugin``) names an ``init`` command (run first, e.g.
``helm dependency build``) and a ``generate`` command whose standard output is the manifests (YAML or JSON).
Argo CD runs them in a sidecar; reconcile runs them as it runs helm and kustomize: in a private copy of the
repository (the checkout is never written), the application's folder as the working folder, argument lists as the
plugin gives them (reconcile adds no shell), a time and an output limit, a private empty HOME and an environment
holding only ``PATH``, the locale and Argo CD's variables: ``ARGOCD_APP_NAME``, ``ARGOCD_APP_NAMESPACE``,
``ARGOCD_APP_REVISION`` (and ``_SHORT``, ``_SHORT_8``), ``ARGOCD_APP_SOURCE_PATH``, ``ARGOCD_APP_SOURCE_REPO_URL``,
``ARGOCD_APP_SOURCE_TARGET_REVISION``, ``KUBE_VERSION``, ``KUBE_API_VERSIONS``, ``ARGOCD_APP_PARAMETERS`` (JSON)
with ``PARAM_<NAME>`` for each parameter, and the Application's ``plugin.env`` entries as ``ARGOCD_ENV_<NAME>``.
No credential of the host's reaches a plugin.

A plugin is a program the host chose to trust; the copy, the limits and the environment keep it from the checkout
and the host's credentials, not from the rest of the machine (Argo CD isolates it with a container).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from reconcile.errors import ConfigurationError, ManifestError, PathEscapeError, RenderError, ToolError
from reconcile.manifests import MAX_FILE_BYTES, check_unique, load_manifests, validate_manifest
from reconcile.model import Capabilities, Location, Resource, ResourceKey, Snapshot
from reconcile.protocols import Renderer
from reconcile.renderers._kustomize import copy_repository
from reconcile.renderers._tools import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, Tool

__all__ = ["PluginRenderer", "PluginSpec"]

_KIND = "ConfigManagementPlugin"
_NAME = re.compile(r"[^A-Za-z0-9_]")


def _command(raw: Any, where: str) -> tuple[str, ...] | None:
    """``{command: [...], args: [...]}`` as one argument list."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where} must hold command (and args)")
    command, args = raw.get("command"), raw.get("args") or []
    if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
        raise ConfigurationError(f"{where}.command must be a non-empty list of strings")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigurationError(f"{where}.args must be a list of strings")
    return (*command, *args)


@attrs.frozen(kw_only=True)
class PluginSpec:
    """A ``ConfigManagementPlugin``: its name, commands and discovery rules.

    Attributes:
        name: ``metadata.name``.
        version: ``spec.version``; the plugin is then known as ``<name>-<version>``, as in Argo CD.
        init: The ``init`` argument list, run before ``generate``.
        generate: The ``generate`` argument list; its standard output is the manifests.
        discover_file: ``discover.fileName``: a glob the application folder must hold a match for.
        discover_glob: ``discover.find.glob``: a glob (``**`` included) some file below the folder must match.
        discover_command: ``discover.find.command``: discovery by a command that prints something.
    """

    name: str
    version: str | None = None
    init: tuple[str, ...] | None = None
    generate: tuple[str, ...]
    discover_file: str | None = None
    discover_glob: str | None = None
    discover_command: tuple[str, ...] | None = None

    @property
    def full_name(self) -> str:
        """The name an Application's ``plugin.name`` uses: ``<name>`` or ``<name>-<version>``."""
        return f"{self.name}-{self.version}" if self.version else self.name

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any], *, origin: str = "plugin.yaml") -> PluginSpec:
        """A spec from a ``ConfigManagementPlugin`` manifest.

        Raises:
            ConfigurationError: The manifest is not a plugin or a field is malformed (naming ``origin``).
        """
        if obj.get("kind") != _KIND:
            raise ConfigurationError(f"{origin}: kind must be {_KIND}, not {obj.get('kind')!r}")
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{origin}: metadata.name is required")
        spec = obj.get("spec") or {}
        if not isinstance(spec, Mapping):
            raise ConfigurationError(f"{origin}: spec must be a mapping")
        generate = _command(spec.get("generate"), f"{origin}: spec.generate")
        if generate is None:
            raise ConfigurationError(f"{origin}: spec.generate is required")
        discover = spec.get("discover") or {}
        find = discover.get("find") or {} if isinstance(discover, Mapping) else {}
        version = spec.get("version")
        return cls(
            name=name,
            version=str(version) if version else None,
            init=_command(spec.get("init"), f"{origin}: spec.init"),
            generate=generate,
            discover_file=discover.get("fileName") if isinstance(discover, Mapping) else None,
            discover_glob=find.get("glob") if isinstance(find, Mapping) else None,
            discover_command=_command(find, f"{origin}: spec.discover.find") if "command" in find else None,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PluginSpec:
        """A spec from a ``plugin.yaml`` file.

        Raises:
            ConfigurationError: The file cannot be read or is not a plugin (naming the file).
        """
        file = os.fspath(path)
        try:
            documents = load_manifests(Path(file).read_bytes(), file=file)
        except OSError as exc:
            raise ConfigurationError(f"cannot read plugin {file}: {exc.strerror}") from exc
        except ManifestError as exc:
            raise ConfigurationError(str(exc), file=exc.file, line=exc.line) from exc
        if len(documents) != 1:
            raise ConfigurationError(f"{file}: a plugin file holds one ConfigManagementPlugin")
        return cls.from_manifest(documents[0][0], origin=file)


@attrs.frozen
class PluginRenderer:
    """Renders with a config management plugin (Argo CD's ``source.plugin``).

    ::

        plugin = PluginSpec.from_file("plugin.yaml")
        renderer = PluginRenderer(plugin, app_name="guestbook", app_namespace="default")

    Attributes:
        spec: The plugin.
        app_name: ``ARGOCD_APP_NAME``.
        app_namespace: ``ARGOCD_APP_NAMESPACE``.
        repo_url: ``ARGOCD_APP_SOURCE_REPO_URL``.
        target_revision: ``ARGOCD_APP_SOURCE_TARGET_REVISION``.
        env: The Application's ``plugin.env``, given to the plugin as ``ARGOCD_ENV_<name>``.
        parameters: The Application's ``plugin.parameters`` (``{name, string | array | map}``), given as
            ``ARGOCD_APP_PARAMETERS`` and ``PARAM_<NAME>``.
        capabilities: The target cluster's version and API versions (``KUBE_VERSION``, ``KUBE_API_VERSIONS``).
        timeout: Seconds each command may take.
        max_output: Bytes of output ``generate`` may write.
    """

    spec: PluginSpec
    app_name: str = attrs.field(default="", kw_only=True)
    app_namespace: str = attrs.field(default="", kw_only=True)
    repo_url: str = attrs.field(default="", kw_only=True)
    target_revision: str = attrs.field(default="", kw_only=True)
    env: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    parameters: Sequence[Mapping[str, Any]] = attrs.field(default=(), kw_only=True)
    capabilities: Capabilities | None = attrs.field(default=None, kw_only=True)
    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, kw_only=True)
    max_output: int = attrs.field(default=DEFAULT_MAX_OUTPUT, kw_only=True)

    def for_cluster(self, capabilities: Capabilities) -> PluginRenderer:
        """This renderer with the target cluster's version and API versions in its environment."""
        return attrs.evolve(self, capabilities=capabilities)

    def discover(self, snapshot: Snapshot) -> bool:
        """Whether the plugin claims the application's folder, by Argo CD's rules.

        ``discover.fileName``: a file in the folder matches the glob; ``discover.find.glob``: some file below it
        does; ``discover.find.command``: the command, run in a private copy as ``generate`` is, prints something.

        Raises:
            ToolError, ToolNotFoundError: The discovery command failed or is missing.
        """
        folder = snapshot.directory
        if self.spec.discover_command is not None:
            return self._discover_by_command(snapshot)
        if self.spec.discover_file is not None:
            pattern = self.spec.discover_file.removeprefix("./")
            return any(fnmatch.fnmatch(child.name, pattern) for child in folder.iterdir())
        if self.spec.discover_glob is not None:
            pattern = self.spec.discover_glob.removeprefix("./")
            return any(fnmatch.fnmatch(path.relative_to(folder).as_posix(), pattern) for path in folder.rglob("*"))
        return False

    def _discover_by_command(self, snapshot: Snapshot) -> bool:
        command = self.spec.discover_command
        assert command is not None  # noqa: S101 - checked by the caller
        root = Path(os.path.realpath(snapshot.root))
        with tempfile.TemporaryDirectory(prefix="reconcile-plugin-") as temp:
            copy = Path(temp) / "repo"
            copy_repository(root, copy)
            app = copy / Path(os.path.normpath(snapshot.path)).as_posix()
            if not app.is_dir():
                return False
            printed = self._run(command, app, self._environment(snapshot), f"plugin {self.spec.full_name} discover")
        return bool(printed.strip())

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Run ``init`` then ``generate`` in a private copy of the repository, and read the manifests printed.

        Raises:
            PathEscapeError: A symlink in the repository points outside it.
            ToolNotFoundError: A command of the plugin is not installed.
            ToolError: A command failed (its own words), ran too long, or wrote too much.
            ManifestError: The output is not manifests, or an object lacks its identity.
            DuplicateResourceError: Two objects have the same key.
        """
        with RenderError.naming(snapshot.revision):
            return self._render(snapshot)

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        root = Path(os.path.realpath(snapshot.root))
        app_path = Path(os.path.normpath(snapshot.path)).as_posix()
        if app_path == ".." or app_path.startswith("../") or Path(app_path).is_absolute():
            raise PathEscapeError(f"application folder {app_path!r} is outside the repository", path=app_path)
        label = f"plugin {self.spec.full_name}"
        environment = self._environment(snapshot)
        with tempfile.TemporaryDirectory(prefix="reconcile-plugin-") as temp:
            copy = Path(temp) / "repo"
            copy_repository(root, copy)
            app = copy / app_path
            if not app.is_dir():
                raise RenderError(f"application folder {app_path!r} does not exist")
            if self.spec.init is not None:
                self._run(self.spec.init, app, environment, f"{label} init")
            output = self._run(self.spec.generate, app, environment, f"{label} generate")
        return self._load(output, f"{app_path} ({label})")

    def _run(self, command: tuple[str, ...], cwd: Path, env: Mapping[str, str], what: str) -> str:
        tool = Tool(command[0]) if "/" not in command[0] else Tool(Path(command[0]).name, command[0])
        try:
            return tool.run(command[1:], cwd=cwd, env=env, timeout=self.timeout, max_output=self.max_output)
        except ToolError as exc:
            raise ToolError(
                f"{what}: {exc.message}", tool=exc.tool, exit_code=exc.exit_code, stderr=exc.stderr
            ) from None

    def _environment(self, snapshot: Snapshot) -> dict[str, str]:
        sha = snapshot.revision.sha
        env = {
            "ARGOCD_APP_NAME": self.app_name,
            "ARGOCD_APP_NAMESPACE": self.app_namespace,
            "ARGOCD_APP_REVISION": sha,
            "ARGOCD_APP_REVISION_SHORT": sha[:7],
            "ARGOCD_APP_REVISION_SHORT_8": sha[:8],
            "ARGOCD_APP_SOURCE_PATH": snapshot.path,
            "ARGOCD_APP_SOURCE_REPO_URL": self.repo_url,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": self.target_revision,
            "ARGOCD_APP_PARAMETERS": json.dumps(list(self.parameters)),
        }
        if self.capabilities is not None:
            env["KUBE_VERSION"] = self.capabilities.kube_version.lstrip("v")
            env["KUBE_API_VERSIONS"] = ",".join(self.capabilities.api_versions)
        for parameter in self.parameters:
            name = _NAME.sub("_", str(parameter.get("name") or "")).upper()
            if not name:
                continue
            if "string" in parameter:
                env[f"PARAM_{name}"] = str(parameter["string"])
            elif "array" in parameter:
                for index, item in enumerate(parameter["array"] or ()):
                    env[f"PARAM_{name}_{index}"] = str(item)
            elif "map" in parameter:
                for key, item in (parameter["map"] or {}).items():
                    env[f"PARAM_{name}_{_NAME.sub('_', str(key)).upper()}"] = str(item)
        for key, value in self.env.items():
            env[f"ARGOCD_ENV_{key}"] = value
        return env

    def _load(self, output: str, label: str) -> tuple[Resource, ...]:
        resources = []
        for obj, _line in load_manifests(output, file=label, max_bytes=max(self.max_output, MAX_FILE_BYTES)):
            validate_manifest(obj, file=label, line=None)
            resources.append(Resource(key=ResourceKey.from_manifest(obj), manifest=obj, source=Location(file=label)))
        check_unique(resources)
        return tuple(resources)

    @classmethod
    def discovering(cls, specs: Sequence[PluginSpec], **settings: Any) -> Renderer:
        """A renderer that uses the first of ``specs`` whose discovery rules claim the application's folder.

        Argo CD's ``source.plugin`` without a name: each plugin's ``discover`` is tried in order.

        Raises:
            ConfigurationError: ``specs`` is empty.
        """
        if not specs:
            raise ConfigurationError("no config management plugin is registered to discover one")
        return _Discovering(tuple(cls(spec=spec, **settings) for spec in specs))


@attrs.frozen
class _Discovering:
    """Renders with the first plugin whose discovery rules match; a render error naming them when none does."""

    candidates: tuple[PluginRenderer, ...]

    def for_cluster(self, capabilities: Capabilities) -> _Discovering:
        return _Discovering(tuple(candidate.for_cluster(capabilities) for candidate in self.candidates))

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        for candidate in self.candidates:
            if candidate.discover(snapshot):
                return candidate.render(snapshot)
        names = ", ".join(candidate.spec.full_name for candidate in self.candidates)
        raise RenderError(f"no config management plugin claims {snapshot.path!r} (tried {names})")
