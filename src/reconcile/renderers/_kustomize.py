"""Kustomize overlays, rendered by the real kustomize (``kubectl kustomize`` or a standalone ``kustomize build``).

Argo CD applies its overrides (name prefix, images, labels...) by running ``kustomize edit`` in the application's
folder. This renderer does the same to a private copy of the repository, so the checkout is never touched: the
repository is copied into a temporary folder (without ``.git``), the overrides are written into the copied
kustomization file, and kustomize builds the copy.

Safety: every symlink in the repository must resolve inside it (as Argo CD checks since CVE-2022-24904); the
paths a kustomization names (resources, bases, components, patches, generator files...) may not resolve outside
the repository; kustomize runs with its default load restrictor (files only from the kustomization's own root),
without exec or Go plugins, and with Helm charts only when ``enable_helm`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from reconcile.errors import ConfigurationError, ManifestError, PathEscapeError, RenderError, ToolError
from reconcile.manifests import MAX_FILE_BYTES, check_unique, dump_yaml, load_manifests, validate_manifest
from reconcile.model import Location, Resource, ResourceKey, Snapshot
from reconcile.renderers._tools import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, Tool, string_map

__all__ = ["KUSTOMIZATION_FILES", "KustomizeRenderer", "copy_repository", "parse_image"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names kustomize looks for in a folder, in its order."""

# Kustomization fields holding paths (or lists of them); a path may not resolve outside the repository.
_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_PATH_IN_ITEMS = ("patches", "patchesJson6902", "replacements")  # items with a ``path``
_GENERATORS = ("configMapGenerator", "secretGenerator")  # items with ``files``, ``envs`` and ``env``
_TAG = re.compile(r"^(.*):([a-zA-Z0-9._-]*|\*)$")  # kustomize's own pattern for ``image:tag``
_TARGET = re.compile(r"couldn't make target for path '([^']+)'")


def parse_image(spec: str) -> dict[str, str]:
    """An Argo CD / ``kustomize edit set image`` override as a kustomization ``images`` entry.

    The forms are ``name=newName``, ``name=newName:tag``, ``name=newName@digest``, ``name=newName:tag@digest``,
    ``name:tag``, ``name@digest`` and ``name:tag@digest``.

    Raises:
        ConfigurationError: The text matches none of them.
    """
    name, equals, target = spec.partition("=")
    if equals:
        new_name, tag, digest = _split_reference(target)
        if not (name and new_name):
            raise ConfigurationError(f"image override {spec!r} is not name=newName[:tag][@digest]")
        entry = {"name": name, "newName": new_name}
    else:
        name, tag, digest = _split_reference(spec)
        if not name or (tag is None and digest is None):
            raise ConfigurationError(f"image override {spec!r} needs a tag or digest (name:tag or name@digest)")
        entry = {"name": name}
    if tag is not None:
        entry["newTag"] = tag
    if digest is not None:
        entry["digest"] = digest
    return entry


def _split_reference(text: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` as its three parts (a registry's ``host:port/`` is part of the name)."""
    head, at, digest = text.partition("@")
    match = _TAG.match(head)
    if match:
        return match.group(1), match.group(2), digest if at else None
    return head, None, digest if at else None


def _images(value: Sequence[str] | str) -> tuple[str, ...]:
    images = (value,) if isinstance(value, str) else tuple(value)
    for spec in images:
        parse_image(spec)
    return images


def _string_map(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    return string_map(value, "labels and annotations")


def _replicas(value: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    out = []
    for entry in value:
        name, count = entry.get("name"), entry.get("count")
        if isinstance(count, str) and count.isdigit():
            count = int(count)
        if not isinstance(name, str) or not name or isinstance(count, bool) or not isinstance(count, int):
            raise ConfigurationError(f"a replicas override is {{'name': str, 'count': int}}, got {dict(entry)!r}")
        if count < 0:
            raise ConfigurationError(f"replicas count for {name!r} is negative: {count}")
        out.append({"name": name, "count": count})
    return tuple(out)


def _paths(value: Sequence[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class KustomizeRenderer:
    """Builds the kustomization in ``snapshot.directory``, with Argo CD's overrides.

    Attributes:
        name_prefix: ``namePrefix`` to set (``kustomize edit set nameprefix``).
        name_suffix: ``nameSuffix`` to set.
        images: Image overrides as Argo CD writes them (see :func:`parse_image`); an entry for an image the
            kustomization already overrides updates that entry.
        common_labels: Labels added to ``commonLabels`` (selectors included), replacing same-named ones.
        common_annotations: Annotations added to ``commonAnnotations``, replacing same-named ones.
        namespace: ``namespace`` to set.
        replicas: ``{"name": ..., "count": ...}`` entries for ``replicas``, replacing same-named ones.
        components: Component folders (relative to the kustomization) appended to ``components``.
        enable_helm: Pass ``--enable-helm`` (the kustomization's ``helmCharts`` run helm).
        helm: The helm executable for ``enable_helm`` (default: ``helm`` on ``PATH``).
        kustomize: The executable: ``kubectl`` or ``kustomize``; ``None`` finds ``kubectl`` on ``PATH``.
        command: ``"kubectl"`` (``kubectl kustomize``) or ``"kustomize"`` (``kustomize build``); ``None`` picks by
            the executable's name.
        timeout: Seconds one build may take.
        max_output: Bytes of YAML one build may produce.
    """

    name_prefix: str | None = None
    name_suffix: str | None = None
    images: tuple[str, ...] = attrs.field(default=(), converter=_images)
    common_labels: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    common_annotations: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    namespace: str | None = None
    replicas: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_replicas)
    components: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    enable_helm: bool = False
    helm: str | None = None
    kustomize: str | None = None
    command: Literal["kubectl", "kustomize"] | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT
    _memo: dict[str, str] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.command not in (None, "kubectl", "kustomize"):
            raise ConfigurationError(f"command must be 'kubectl' or 'kustomize', not {self.command!r}")

    @property
    def _standalone(self) -> bool:
        if self.command is not None:
            return self.command == "kustomize"
        return self.kustomize is not None and Path(self.kustomize).name.startswith("kustomize")

    def _tool(self) -> Tool:
        return Tool("kustomize" if self._standalone else "kubectl", self.kustomize)

    def fingerprint(self) -> str:
        """This configuration and the kustomize version, as stable text (part of render cache keys).

        Raises:
            ToolNotFoundError: kubectl or kustomize is not installed.
        """
        if "fingerprint" not in self._memo:
            tool = self._tool()
            if self._standalone:
                version = tool.version(("version",))
            else:
                version = json.loads(tool.version(("version", "--client", "-o", "json"))).get("kustomizeVersion", "")
            config = {
                field.name: getattr(self, field.name)
                for field in attrs.fields(type(self))
                if field.name not in ("_memo", "timeout", "max_output", "kustomize", "helm")
            }
            self._memo["fingerprint"] = json.dumps(
                {"renderer": "kustomize", "version": version, "config": config}, sort_keys=True
            )
        return self._memo["fingerprint"]

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Copy the repository, apply the overrides to the copy, build it and load the objects.

        Raises:
            PathEscapeError: A symlink in the repository, or a path a kustomization names, resolves outside it.
            ToolNotFoundError: kubectl (or kustomize) is not installed.
            ToolError: kustomize failed (its message, with the file it named), timed out, or wrote too much.
            ManifestError: A kustomization file or the output is malformed, or an object lacks its identity.
            DuplicateResourceError: Two objects have the same key.
        """
        with RenderError.naming(snapshot.revision):
            return self._render(snapshot)

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        root = Path(os.path.realpath(snapshot.root))
        app_path = Path(os.path.normpath(snapshot.path)).as_posix()
        if app_path == ".." or app_path.startswith("../") or Path(app_path).is_absolute():
            raise PathEscapeError(f"application folder {app_path!r} is outside the repository", path=app_path)
        if not (root / app_path).is_dir():
            raise RenderError(f"application folder {app_path!r} does not exist")
        tool = self._tool()
        tool.executable()  # a missing tool is reported before the copy is made
        with tempfile.TemporaryDirectory(prefix="reconcile-kustomize-") as temp:
            copy = Path(temp) / "repo"
            copy_repository(root, copy)
            app = copy / app_path
            kustomization = _kustomization_file(app)
            label = _relative(kustomization, copy) if kustomization else f"{app_path}/kustomization.yaml"
            if kustomization is not None:
                _check_references(app, copy)
                if self._has_overrides():
                    self._apply_overrides(kustomization, label)
            output = self._build(tool, app, copy, label)
        return self._load(output, label)

    def _has_overrides(self) -> bool:
        return bool(
            self.name_prefix is not None
            or self.name_suffix is not None
            or self.images
            or self.common_labels
            or self.common_annotations
            or self.namespace is not None
            or self.replicas
            or self.components
        )

    def _apply_overrides(self, path: Path, label: str) -> None:
        """Edit the copied kustomization as ``kustomize edit set/add`` would."""
        data = _load_kustomization(path, label)
        if self.name_prefix is not None:
            data["namePrefix"] = self.name_prefix
        if self.name_suffix is not None:
            data["nameSuffix"] = self.name_suffix
        if self.namespace is not None:
            data["namespace"] = self.namespace
        for spec in self.images:
            _set_image(data, parse_image(spec), label)
        for field, values in (("commonLabels", self.common_labels), ("commonAnnotations", self.common_annotations)):
            if values:
                data[field] = {**_mapping_field(data, field, label), **values}
        for replica in self.replicas:
            entries = [e for e in _list_field(data, "replicas", label) if _name_of(e) != replica["name"]]
            data["replicas"] = [*entries, dict(replica)]
        for component in self.components:
            present = _list_field(data, "components", label)
            if component not in present:
                data["components"] = [*present, component]
        path.write_text(dump_yaml(data), encoding="utf-8")

    def _build(self, tool: Tool, app: Path, copy: Path, label: str) -> str:
        args = ["build" if self._standalone else "kustomize", str(app), "--load-restrictor=LoadRestrictionsRootOnly"]
        if self.enable_helm:
            args.append("--enable-helm")
            if self.helm is not None:
                args += ["--helm-command", self.helm]
        try:
            return tool.run(args, cwd=app, timeout=self.timeout, max_output=self.max_output)
        except ToolError as exc:
            raise _relabel(exc, copy, label) from None

    def _load(self, output: str, label: str) -> tuple[Resource, ...]:
        resources = []
        max_bytes = max(self.max_output, MAX_FILE_BYTES)
        for obj, _line in load_manifests(output, file=label, max_bytes=max_bytes):
            # Lines of kustomize's output mean nothing to the repository's author: the object names the file.
            validate_manifest(obj, file=label, line=None)
            resources.append(Resource(key=ResourceKey.from_manifest(obj), manifest=obj, source=Location(file=label)))
        check_unique(resources)
        return tuple(resources)


# ----------------------------------------------------------------------------------------------------
# The private copy.


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def copy_repository(root: Path, copy: Path) -> None:
    """Copy ``root`` to ``copy`` without ``.git``: regular files, folders, and symlinks that stay inside.

    Symlinks are recreated as relative links to the same place in the copy, so none leads back to the checkout.

    Raises:
        PathEscapeError: A symlink resolves outside ``root``.
    """
    real_root = str(root)
    copy.mkdir()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (d == ".git" and Path(folder) == root))
        here = Path(folder)
        target_folder = copy / here.relative_to(root)
        for name in [*dirs, *sorted(files)]:
            if name == ".git" and here == root:
                continue
            source = here / name
            destination = target_folder / name
            if source.is_symlink():
                real = os.path.realpath(source)
                if not _inside(real, real_root):
                    where = _relative(source, root)
                    raise PathEscapeError(f"symlink {where!r} points outside the repository", path=where)
                destination.symlink_to(os.path.relpath(copy / os.path.relpath(real, real_root), target_folder))
                if name in dirs:
                    dirs.remove(name)  # os.walk does not follow it; its target is copied where it lives
            elif source.is_dir():
                destination.mkdir()
            elif source.is_file():
                shutil.copyfile(source, destination)
            # Sockets, pipes and devices are not repository content: left out.


def _kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def _load_kustomization(path: Path, label: str) -> dict[str, Any]:
    data = path.read_bytes()
    documents = load_manifests(data, file=label)
    if len(documents) != 1:
        raise ManifestError(f"a kustomization is one YAML document, found {len(documents)}", file=label)
    return documents[0][0]


def _check_references(app: Path, copy: Path) -> None:
    """Refuse any path named by the kustomization, or by those it includes, that resolves outside the copy."""
    root = os.path.realpath(copy)
    seen: set[str] = set()
    pending = [app]
    while pending:
        folder = Path(os.path.realpath(pending.pop()))
        kustomization = _kustomization_file(folder)
        if str(folder) in seen or kustomization is None:
            continue
        seen.add(str(folder))
        label = _relative(kustomization, copy)
        for reference in _references(_load_kustomization(kustomization, label)):
            if "\n" in reference:
                continue  # an inline patch or configuration, not a path
            resolved = os.path.realpath(folder / reference)
            if Path(reference).is_absolute() or not _inside(resolved, root):
                raise PathEscapeError(f"{label}: {reference!r} resolves outside the repository", path=reference)
            if Path(resolved).is_dir():
                pending.append(Path(resolved))


def _references(data: Mapping[str, Any]) -> Iterator[str]:
    """Every local path a kustomization names (remote URLs included: they cannot resolve outside)."""
    for field in _PATH_LISTS:
        yield from _strings(data.get(field))
    for field in _PATH_IN_ITEMS:
        for item in _dicts(data.get(field)):
            yield from _strings(item.get("path"))
    for field in _GENERATORS:
        for item in _dicts(data.get(field)):
            for entry in _strings(item.get("files")):
                yield entry.partition("=")[2] or entry
            yield from _strings(item.get("envs"))
            yield from _strings(item.get("env"))
    for item in _dicts(data.get("helmCharts")):
        yield from _strings(item.get("valuesFile"))
        yield from _strings(item.get("additionalValuesFiles"))
    for item in _dicts(data.get("helmGlobals")):
        yield from _strings(item.get("chartHome"))
    for item in _dicts(data.get("openapi")):
        yield from _strings(item.get("path"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


# ----------------------------------------------------------------------------------------------------
# Overrides.


def _list_field(data: Mapping[str, Any], field: str, label: str) -> list[Any]:
    value = data.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{field} must be a list", file=label)
    return value


def _mapping_field(data: Mapping[str, Any], field: str, label: str) -> dict[str, Any]:
    value = data.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{field} must be a mapping", file=label)
    return value


def _name_of(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, dict) else None


def _set_image(data: dict[str, Any], image: dict[str, str], label: str) -> None:
    """Add or update an ``images`` entry as ``kustomize edit set image`` does (a new tag drops a digest)."""
    entries = _list_field(data, "images", label)
    for index, entry in enumerate(entries):
        if _name_of(entry) == image["name"]:
            updated = dict(entry)
            if "newName" in image:
                updated["newName"] = image["newName"]
            if "newTag" in image or "digest" in image:
                updated.pop("newTag", None)
                updated.pop("digest", None)
            updated.update({k: v for k, v in image.items() if k in ("newTag", "digest")})
            data["images"] = [*entries[:index], updated, *entries[index + 1 :]]
            return
    data["images"] = [*entries, image]


# ----------------------------------------------------------------------------------------------------
# Errors.


def _relabel(exc: ToolError, copy: Path, label: str) -> ToolError:
    """The tool's error with paths in the private copy shown relative to the repository, and the file named."""
    prefixes = sorted({str(copy), os.path.realpath(copy)}, key=len, reverse=True)

    def clean(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix + os.sep, "").replace(prefix, ".")
        return text

    file = label
    target = _TARGET.search(exc.stderr)
    if target:
        folder = Path(target.group(1))
        found = _kustomization_file(folder) if folder.is_dir() else None
        file = clean(str(found or folder))
    return type(exc)(
        clean(exc.message),
        tool=exc.tool,
        exit_code=exc.exit_code,
        stderr=clean(exc.stderr),
        file=file,
        retryable=exc.retryable,
    )
