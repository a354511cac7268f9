"""Resource actions with Argo CD's contract: ``discovery.lua`` lists what an object offers, ``action.lua`` does it.

Argo CD's ``resource_customizations`` folder keeps, per group and kind, ``actions/discovery.lua`` (returns a table
of action names to ``{disabled, displayName, iconClass, params}``) and ``actions/<name>/action.lua`` (sees the live
object as ``obj`` and the parameters as ``actionParams``, and returns either the changed object, or a list of
``{operation = "patch" | "create", resource = {...}}``). The scripts run in the same sandbox as health scripts,
with the same limits; ``require("os")`` gives the restricted ``os`` table, as Argo CD's scripts expect.

Running an action only computes the change (:class:`ImpactedResource`); applying it to a cluster is the
Reconciler's part (:meth:`~reconcile.reconciler.Reconciler.run_action`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from reconcile.errors import ActionError, ConfigurationError
from reconcile.health import _lua_sandbox
from reconcile.health._lua import DEFAULT_MAX_MEMORY, DEFAULT_TIME_LIMIT, LuaSandbox, plain_data, run_in_sandbox
from reconcile.health._patterns import PatternTable
from reconcile.model import GroupKind, Manifest, ResourceKey

__all__ = ["GO_ZERO_TIME", "ActionParameter", "ImpactedResource", "LuaActions", "ResourceAction"]

GO_ZERO_TIME = -62135596800.0
"""0001-01-01T00:00:00Z in Unix seconds: the clock Argo CD's own action tests freeze (Go's zero ``time.Time``)."""

_ACTIONS = "actions"
_DISCOVERY = "discovery.lua"
_ACTION = "action.lua"
_OPERATIONS = ("patch", "create")


@attrs.frozen
class ActionParameter:
    """A parameter an action takes (``params`` in ``discovery.lua``), passed to it as text.

    Attributes:
        name: The parameter's name (``actionParams["replicas"]`` in the script).
        type: Its declared type, when the script gives one (informational).
        default: Its declared default, when the script gives one.
    """

    name: str
    type: str | None = None
    default: str | None = None


@attrs.frozen
class ResourceAction:
    """An action a live object offers, as its ``discovery.lua`` describes it.

    Attributes:
        name: The action's name (``restart``, ``scale``, ``create-job``).
        disabled: Whether it is offered but not available now (``resume`` on a running Deployment).
        display_name: The label Argo CD's UI shows (``""`` when none).
        icon_class: The UI's icon (informational).
        params: The parameters it takes.
    """

    name: str
    disabled: bool = False
    display_name: str = ""
    icon_class: str = ""
    params: tuple[ActionParameter, ...] = ()


@attrs.frozen
class ImpactedResource:
    """What an action asks for: the source object patched, or a new object created.

    Attributes:
        operation: ``patch`` (the object as the action left it) or ``create``.
        object: The object.
    """

    operation: Literal["patch", "create"]
    object: Manifest = attrs.field(eq=False)


@attrs.frozen
class _ActionSet:
    """One group and kind's actions: the discovery script and the scripts by action name."""

    origin: str
    discovery: str | None
    scripts: Mapping[str, str]


class LuaActions:
    """Resource actions per group and kind, loaded from Argo CD's ``resource_customizations`` layout.

    ::

        actions = LuaActions.from_directory("resource_customizations")
        offered = actions.discover(live_deployment)             # (ResourceAction(name="restart", ...), ...)
        changes = actions.run(live_deployment, "scale", {"replicas": "3"})
    """

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        if time_limit <= 0 or max_memory <= 0:
            raise ConfigurationError("Lua actions need a positive time limit and memory limit")
        self.time_limit = time_limit
        self.max_memory = max_memory
        self._table: PatternTable[_ActionSet] = PatternTable()
        self._sandbox = LuaSandbox()
        self.problems: dict[str, str] = {}
        """Scripts that do not compile, by file: their actions fail with that reason when run."""

    @classmethod
    def from_directory(
        cls, path: str | Path, *, time_limit: float = DEFAULT_TIME_LIMIT, max_memory: int = DEFAULT_MAX_MEMORY
    ) -> LuaActions:
        """Load ``<group>/<Kind>/actions/discovery.lua`` and ``.../actions/<name>/action.lua`` files.

        ``<Kind>/actions/...`` is the core group; ``_`` in a folder name is a wildcard, as for health scripts.

        Raises:
            ConfigurationError: The folder is missing, or a script cannot be read (naming the file).
        """
        root = Path(path)
        if not root.is_dir():
            raise ConfigurationError(f"{root}: not a folder of resource customizations")
        actions = cls(time_limit=time_limit, max_memory=max_memory)
        for folder in sorted(root.rglob(_ACTIONS)):
            parts = folder.relative_to(root).parts
            if not folder.is_dir() or len(parts) not in (2, 3):
                continue
            group, kind = ("", parts[0]) if len(parts) == 2 else (parts[0], parts[1])  # noqa: PLR2004
            discovery = _read(folder / _DISCOVERY) if (folder / _DISCOVERY).is_file() else None
            scripts = {
                child.name: _read(child / _ACTION) for child in sorted(folder.iterdir()) if (child / _ACTION).is_file()
            }
            for file, source in [(folder / _DISCOVERY, discovery)] + [
                (folder / n / _ACTION, s) for n, s in scripts.items()
            ]:
                if source is not None and (problem := _lua_sandbox.check_syntax(source, str(file), max_memory)):
                    actions.problems[str(file)] = problem
            actions._table.add(
                group.replace("_", "*"),
                kind.replace("_", "*"),
                _ActionSet(origin=str(folder), discovery=discovery, scripts=scripts),
            )
        return actions

    def has_actions(self, group_kind: GroupKind) -> bool:
        """Whether any action script is registered for the group and kind."""
        return self._table.find(group_kind) is not None

    def discover(self, obj: Manifest) -> tuple[ResourceAction, ...]:
        """The actions ``obj`` offers, by name; none when its kind has no ``discovery.lua``.

        Raises:
            ActionError: The discovery script failed or returned something that is not a table of actions.
        """
        found = self._table.find(ResourceKey.from_manifest(obj).group_kind)
        if found is None or found.discovery is None:
            return ()
        origin = f"{found.origin}/{_DISCOVERY}"
        result = self._run(found.discovery, origin, obj, mode="discovery")
        if isinstance(result, list) and not result:
            return ()  # an empty table
        if not isinstance(result, dict):
            raise ActionError(f"{origin}: discovery returned {type(result).__name__}, not a table of actions")
        return tuple(_action(name, spec, origin) for name, spec in sorted(result.items()))

    def run(
        self,
        obj: Manifest,
        name: str,
        params: Mapping[str, str] | None = None,
        *,
        now: float | None = None,
    ) -> tuple[ImpactedResource, ...]:
        """Run the action ``name`` on ``obj``: what it would patch and create (nothing is applied here).

        Args:
            obj: The live object.
            name: The action's name.
            params: Its parameters, as text (Argo CD passes every parameter as a string).
            now: The clock the script sees, in Unix seconds (``os.date``, ``os.time``); the real one by default.
                Argo CD's action tests freeze it at :data:`GO_ZERO_TIME`.

        Raises:
            ActionError: No such action for the object's kind, the script failed (its own ``error(...)`` message
                is kept), or it returned something that is not an object or a list of operations.
        """
        key = ResourceKey.from_manifest(obj)
        found = self._table.find(key.group_kind)
        source = found.scripts.get(name) if found is not None else None
        if found is None or source is None:
            offered = ", ".join(sorted(found.scripts)) if found is not None else "none"
            raise ActionError(
                f"{key}: no action {name!r} (actions for {key.group_kind}: {offered})", key=key, action=name
            )
        origin = f"{found.origin}/{name}/{_ACTION}"
        text_params = {str(k): str(v) for k, v in (params or {}).items()}
        result = self._run(source, origin, obj, mode="action", params=text_params, now=now, name=name)
        return _impacted(result, obj, origin, key, name)

    def patterns(self) -> tuple[tuple[str, str], ...]:
        """The ``(group, kind)`` patterns that have actions, in load order."""
        return self._table.patterns()

    def close(self) -> None:
        """Stop the worker process the scripts run in."""
        self._sandbox.close()

    def _run(
        self,
        source: str,
        origin: str,
        obj: Manifest,
        *,
        mode: str,
        params: dict[str, str] | None = None,
        now: float | None = None,
        name: str = "",
    ) -> Any:
        if origin in self.problems:
            raise ActionError(f"{origin}: invalid Lua script: {self.problems[origin]}", action=name)
        request = {"mode": mode, "params": params, "now": now}
        answer = run_in_sandbox(
            self._sandbox, source, origin, obj, time_limit=self.time_limit, max_memory=self.max_memory, extra=request
        )
        if answer.get("timeout"):
            raise ActionError(f"{origin}: the script exceeded its time limit of {self.time_limit:g}s", action=name)
        if answer.get("memory"):
            raise ActionError(f"{origin}: the script exceeded its memory limit", action=name)
        if "unknown" in answer:
            raise ActionError(str(answer["unknown"]), action=name)
        return answer.get("result")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{file}: cannot read action script: {exc}") from exc


def _action(name: str, spec: Any, origin: str) -> ResourceAction:
    if not isinstance(spec, Mapping):
        spec = {}  # Argo CD tolerates actions["x"] = {} (an empty table reads as an empty list)
    params = []
    for item in spec.get("params") or ():
        if not isinstance(item, Mapping) or not item.get("name"):
            raise ActionError(f"{origin}: action {name!r} has a parameter without a name")
        default, kind = item.get("default"), item.get("type")
        params.append(
            ActionParameter(
                str(item["name"]), None if kind is None else str(kind), None if default is None else str(default)
            )
        )
    return ResourceAction(
        name=name,
        disabled=bool(spec.get("disabled", False)),
        display_name=str(spec.get("displayName") or ""),
        icon_class=str(spec.get("iconClass") or ""),
        params=tuple(params),
    )


def _impacted(result: Any, obj: Manifest, origin: str, key: ResourceKey, name: str) -> tuple[ImpactedResource, ...]:
    """The action's result as operations: an object is a patch of the source; a list names its operations."""
    if isinstance(result, dict):
        return (ImpactedResource("patch", _restore_maps(result, obj)),)
    if not isinstance(result, list) or not result:
        raise ActionError(f"{origin}: the action returned {type(result).__name__}, not an object", key=key, action=name)
    impacted = []
    for number, item in enumerate(result, 1):
        operation = item.get("operation") if isinstance(item, dict) else None
        resource = item.get("resource") if isinstance(item, dict) else None
        if operation not in _OPERATIONS or not isinstance(resource, dict):
            raise ActionError(
                f"{origin}: operation {number} must be {{operation = 'patch' or 'create', resource = {{...}}}}",
                key=key,
                action=name,
            )
        if operation == "patch":
            target = ResourceKey.from_manifest(resource)
            if target != key:
                raise ActionError(f"{origin}: an action may patch only {key}, not {target}", key=key, action=name)
            resource = _restore_maps(resource, obj)
        impacted.append(ImpactedResource(operation, resource))
    return tuple(impacted)


def _restore_maps(new: Any, old: Any) -> Any:
    """Lua cannot tell an empty map from an empty list; where the object had a map, a map it stays."""
    if isinstance(new, list) and not new and isinstance(old, dict):
        return {}
    if isinstance(new, dict):
        before = old if isinstance(old, dict) else {}
        return {k: _restore_maps(v, before.get(k)) for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list):
        return [_restore_maps(v, old[i] if i < len(old) else None) for i, v in enumerate(new)]
    return plain_data(new)
