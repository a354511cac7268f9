"""Reading Application manifests: each field checked and named by its path, tool settings mapped to renderers.

Everything here raises a :class:`~reconcile.errors.ConfigurationError` naming the path in the manifest
(``spec.source.helm.valueFiles[1]``), and passes a field Argo CD honours but reconcile does not to ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from reconcile.errors import ConfigurationError
from reconcile.reconciler import SyncPolicy
from reconcile.renderers import JsonnetRenderer
from reconcile.sync import RetryPolicy, SyncOptions

_Warn = Callable[[str], None]
_T = TypeVar("_T")


_MAX_SHOWN = 40  # characters of a wrong value shown in a message: a long one may be a secret


def _keys(supported: str, ignored: str = "") -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(supported.split()), frozenset(ignored.split())


# Keys reconcile reads, and keys Argo CD has that reconcile ignores (with a warning), per place in the manifest.
_TOP = _keys("apiVersion kind metadata spec status", "operation")
_SPEC = _keys(
    "project source sources destination syncPolicy ignoreDifferences", "info revisionHistoryLimit sourceHydrator"
)
_SOURCE = _keys("repoURL path targetRevision chart ref name helm kustomize directory plugin")


_HELM = _keys(
    "releaseName valueFiles values valuesObject parameters fileParameters skipCrds skipTests skipSchemaValidation "
    "ignoreMissingValueFiles namespace kubeVersion apiVersions passCredentials version"
)
_KUSTOMIZE = _keys(
    # The renderer always replaces same-named labels and annotations, which is what the "force" options ask for.
    "namePrefix nameSuffix images commonLabels commonAnnotations namespace replicas components forceCommonLabels "
    "forceCommonAnnotations",
    "version commonAnnotationsEnvsubst patches kubeVersion apiVersions labelWithoutSelector labelIncludeTemplates "
    "ignoreMissingComponents",
)
_DIRECTORY = _keys("recurse include exclude jsonnet")


_JSONNET = _keys("extVars tlas libs")
_DESTINATION = _keys("server name namespace")


_SYNC_POLICY = _keys("automated syncOptions retry managedNamespaceMetadata", "")
_AUTOMATED = _keys("prune selfHeal allowEmpty enabled")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _fail(path: str, expected: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"{path}: expected {expected}, got {_describe(value)}")


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "a mapping", value)
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "a string", value)
    return value


def _optional_string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else _string(value, f"{path}.{key}")


def _boolean(obj: Mapping[str, Any], key: str, path: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise _fail(f"{path}.{key}", "a boolean", value)
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "a list", value)
    return value


def _strings(obj: Mapping[str, Any], key: str, path: str) -> list[str]:
    return [_string(item, f"{path}.{key}[{i}]") for i, item in enumerate(_list(obj.get(key), f"{path}.{key}"))]


def _string_map(obj: Mapping[str, Any], key: str, path: str) -> dict[str, str] | None:
    value = obj.get(key)
    if value is None:
        return None
    return {name: _string(item, f"{path}.{key}.{name}") for name, item in _mapping(value, f"{path}.{key}").items()}


def _items(obj: Mapping[str, Any], key: str, path: str) -> list[tuple[str, dict[str, Any]]]:
    """The list at ``obj[key]`` as (path, mapping) pairs."""
    out = []
    for i, item in enumerate(_list(obj.get(key), f"{path}.{key}")):
        where = f"{path}.{key}[{i}]"
        out.append((where, _mapping(item, where)))
    return out


def _check_keys(obj: Mapping[str, Any], path: str, keys: tuple[frozenset[str], frozenset[str]], warn: _Warn) -> None:
    supported, ignored = keys
    for key in obj:
        where = f"{path}.{key}" if path else key
        if key in ignored:
            warn(where)
        elif key not in supported:
            raise ConfigurationError(f"{where}: unknown field")


def _named(item: Mapping[str, Any], where: str, keys: frozenset[str] | set[str]) -> str:
    for key in item:
        if key not in keys:
            raise ConfigurationError(f"{where}.{key}: unknown field")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}.name", "a non-empty string", name)
    return name


def _wrapped(path: str, build: Callable[[], _T]) -> _T:
    """``build()``, its ConfigurationError prefixed with the manifest path it came from."""
    try:
        return build()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc.message}") from exc


def _helm_options(raw: Mapping[str, Any], path: str, warn: _Warn) -> dict[str, Any]:
    """HelmRenderer arguments from ``source.helm`` (``value_sources`` and defaults are the caller's)."""
    _check_keys(raw, path, _HELM, warn)
    options: dict[str, Any] = {
        "release_name": _optional_string(raw, "releaseName", path),
        "namespace": _optional_string(raw, "namespace", path),
        "value_files": _strings(raw, "valueFiles", path),
        "ignore_missing_value_files": _boolean(raw, "ignoreMissingValueFiles", path),
        "skip_crds": _boolean(raw, "skipCrds", path),
        "skip_tests": _boolean(raw, "skipTests", path),
        "skip_schema_validation": _boolean(raw, "skipSchemaValidation", path),
        "kube_version": _optional_string(raw, "kubeVersion", path),
        "api_versions": _strings(raw, "apiVersions", path),
    }
    _boolean(raw, "passCredentials", path)  # used by the chart source
    version = _optional_string(raw, "version", path)
    if version not in (None, "", "v3"):
        warn(f"{path}.version")  # only helm 3 is supported
    # valuesObject wins over values, as in Argo CD.
    if raw.get("valuesObject") is not None:
        options["values"] = _mapping(raw["valuesObject"], f"{path}.valuesObject")
    elif raw.get("values") is not None:
        options["values"] = _string(raw["values"], f"{path}.values")
    parameters: dict[str, str] = {}
    strings: dict[str, str] = {}
    for where, item in _items(raw, "parameters", path):
        name = _named(item, where, {"name", "value", "forceString"})
        target = strings if _boolean(item, "forceString", where) else parameters
        target[name] = _string(item.get("value", ""), f"{where}.value")
    files = {}
    for where, item in _items(raw, "fileParameters", path):
        files[_named(item, where, {"name", "path"})] = _string(item.get("path"), f"{where}.path")
    options.update(parameters=parameters, string_parameters=strings, file_parameters=files)
    return options


def _kustomize_options(raw: Mapping[str, Any], path: str, warn: _Warn) -> dict[str, Any]:
    _check_keys(raw, path, _KUSTOMIZE, warn)
    _boolean(raw, "forceCommonLabels", path)
    _boolean(raw, "forceCommonAnnotations", path)
    replicas = []
    for where, item in _items(raw, "replicas", path):
        name = _named(item, where, {"name", "count"})
        count = item.get("count")
        if isinstance(count, bool) or not isinstance(count, int | str):
            raise _fail(f"{where}.count", "an integer", count)
        replicas.append({"name": name, "count": count})
    return {
        "name_prefix": _optional_string(raw, "namePrefix", path),
        "name_suffix": _optional_string(raw, "nameSuffix", path),
        "images": _strings(raw, "images", path),
        "common_labels": _string_map(raw, "commonLabels", path),
        "common_annotations": _string_map(raw, "commonAnnotations", path),
        "namespace": _optional_string(raw, "namespace", path),
        "replicas": replicas,
        "components": _strings(raw, "components", path),
    }


def _directory_options(raw: Mapping[str, Any], path: str, warn: _Warn) -> dict[str, Any]:
    """DirectoryRenderer arguments, its Jsonnet renderer's included (``*.jsonnet`` files are evaluated always)."""
    _check_keys(raw, path, _DIRECTORY, warn)
    options: dict[str, Any] = {"recurse": _boolean(raw, "recurse", path)}
    include = _optional_string(raw, "include", path)
    exclude = _optional_string(raw, "exclude", path)
    if include:
        options["include"] = include
    if exclude:
        options["exclude"] = exclude
    jsonnet = _mapping(raw.get("jsonnet") or {}, f"{path}.jsonnet")
    where = f"{path}.jsonnet"
    _check_keys(jsonnet, where, _JSONNET, warn)
    variables: dict[str, dict[str, str]] = {"ext_vars": {}, "ext_code": {}, "tlas": {}, "tla_code": {}}
    for key, plain, code in (("extVars", "ext_vars", "ext_code"), ("tlas", "tlas", "tla_code")):
        for item_path, item in _items(jsonnet, key, where):
            name = _named(item, item_path, {"name", "value", "code"})
            target = code if _boolean(item, "code", item_path) else plain
            variables[target][name] = _string(item.get("value", ""), f"{item_path}.value")
    libs = _strings(jsonnet, "libs", where)
    settings: dict[str, Any] = {name: values for name, values in variables.items() if values}
    return {**options, "jsonnet": JsonnetRenderer(**settings, libs=libs)}


def _known_option(name: str) -> bool:
    for value in ("true", "foreground"):
        try:
            SyncOptions.parse([f"{name}={value}"])
        except ConfigurationError:
            continue
        return True
    return False


def _read_policy(raw: Any, path: str, warn: _Warn) -> SyncPolicy:
    obj = _mapping(raw or {}, path)
    _check_keys(obj, path, _SYNC_POLICY, warn)
    flags: dict[str, bool] = {}
    if obj.get("automated") is not None:
        where = f"{path}.automated"
        automated = _mapping(obj["automated"], where)
        _check_keys(automated, where, _AUTOMATED, warn)
        enabled = automated.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _fail(f"{where}.enabled", "a boolean", enabled)
        flags = {
            "automated": enabled,
            "prune": _boolean(automated, "prune", where),
            "self_heal": _boolean(automated, "selfHeal", where),
            "allow_empty": _boolean(automated, "allowEmpty", where),
        }
    options = []
    for i, text in enumerate(_strings(obj, "syncOptions", path)):
        where = f"{path}.syncOptions[{i}]"
        name = text.strip().partition("=")[0]
        if not _known_option(name):
            warn(f"{where} ({name})")  # Argo CD ignores option names it does not know; so do we, saying so
            continue
        _wrapped(where, partial(SyncOptions.parse, [text]))
        options.append(text)
    retry = None
    if obj.get("retry") is not None:
        settings = dict(_mapping(obj["retry"], f"{path}.retry"))
        if settings.pop("refresh", None) is not None:
            warn(f"{path}.retry.refresh")
        try:
            retry = RetryPolicy.from_argo(settings)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}.{exc.message}") from exc  # its messages start with "retry"
    metadata = None
    if obj.get("managedNamespaceMetadata") is not None:
        where = f"{path}.managedNamespaceMetadata"
        raw_metadata = _mapping(obj["managedNamespaceMetadata"], where)
        _check_keys(raw_metadata, where, _keys("labels annotations", ""), warn)
        metadata = {part: _string_map(raw_metadata, part, where) or {} for part in raw_metadata}
    arguments: dict[str, Any] = {
        **flags,
        "sync_options": tuple(options),
        "retry": retry,
        "managed_namespace_metadata": metadata,
    }
    return SyncPolicy(**arguments)
