"""The Kubernetes API server's semantics, by release: kinds, schemas, field sets, defaults, write rewrites.

One home for what the API server decides, shared by the in-memory cluster (which plays a server of a chosen
release), the differ (which predicts what a server would store) and the real-cluster adapter (which fills what a
server needs). Nothing here does I/O beyond reading the installed schema data.

- :class:`APISchema`: one release's built-in kinds (:class:`Kind`) and type schemas, from the schema data of
  ``kubernetes-validate``; :func:`supported_versions`, :func:`newest_version`, :class:`KubeVersion`.
- :class:`ListType` and friends: how server-side apply merges lists and maps (:func:`list_type`).
- :mod:`reconcile.apiserver.fields`: field sets (``managedFields``), merging an apply, ownership.
- :func:`apply_defaults`: the defaults a server fills in.
- :func:`schema_problems`, :func:`without_undeclared`: an object checked against its schema as a server checks it.
- :data:`SERVER_SET_METADATA`: the ``metadata`` fields only the server sets (never drift, never applied).
- :class:`APIServer`: a server of one release in memory (the store, the write path, admission, the built-in
  controllers), which :class:`reconcile.MemoryCluster` fronts; :class:`Watch` and :class:`WatchEvent` for its
  change stream.
"""

from reconcile.apiserver import fields
from reconcile.apiserver._builtin import (
    CRD,
    LAST_APPLIED,
    NAMESPACE,
    SECRET,
    SERVER_SET_METADATA,
    SERVICE,
    builtin_lists,
    crd_kind,
    fill_list_keys,
    fold_string_data,
    is_atomic_map,
    is_builtin_group,
    list_type,
    no_match_message,
    omit_empty_metadata,
    pod_spec_path,
)
from reconcile.apiserver._defaults import INITIAL_STATUS, apply_defaults, metadata_of, spec_of
from reconcile.apiserver._durations import canonical_duration, duration_nanoseconds, format_duration
from reconcile.apiserver._kinds import Kind, version_priority
from reconcile.apiserver._lists import ATOMIC, SET, FieldPath, ListType, SchemaOverrides, list_types
from reconcile.apiserver._schema import (
    OLDEST_SUPPORTED,
    APISchema,
    newest_version,
    resolve_version,
    supported_versions,
)
from reconcile.apiserver._schemacheck import Checker, SchemaProblem, schema_problems, without_undeclared
from reconcile.apiserver._server import APIServer
from reconcile.apiserver._validate import ValidationProblem, validate
from reconcile.apiserver._versions import KubeVersion
from reconcile.apiserver._watch import Watch, WatchEvent

__all__ = [
    "ATOMIC",
    "CRD",
    "INITIAL_STATUS",
    "LAST_APPLIED",
    "NAMESPACE",
    "OLDEST_SUPPORTED",
    "SECRET",
    "SERVER_SET_METADATA",
    "SERVICE",
    "SET",
    "APISchema",
    "APIServer",
    "Checker",
    "FieldPath",
    "Kind",
    "KubeVersion",
    "ListType",
    "SchemaOverrides",
    "SchemaProblem",
    "ValidationProblem",
    "Watch",
    "WatchEvent",
    "apply_defaults",
    "builtin_lists",
    "canonical_duration",
    "crd_kind",
    "duration_nanoseconds",
    "fields",
    "fill_list_keys",
    "fold_string_data",
    "format_duration",
    "is_atomic_map",
    "is_builtin_group",
    "list_type",
    "list_types",
    "metadata_of",
    "newest_version",
    "no_match_message",
    "omit_empty_metadata",
    "pod_spec_path",
    "resolve_version",
    "schema_problems",
    "spec_of",
    "supported_versions",
    "validate",
    "version_priority",
    "without_undeclared",
]
