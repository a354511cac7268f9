"""Health assessment with Argo CD's verdicts: built-in checks per kind, custom checks in Python or Lua; actions.

::

    from reconcile import health

    verdict = health.assess(live_object)                      # model.Health(status=..., message=...) or None
    lua = health.LuaHealthChecks.from_directory("resource_customizations")
    verdict = health.assess(live_object, lua)                 # custom scripts first, then the built-in checks
    overall = health.app_health([(obj, health.assess(obj)) for obj in live_objects])
    actions = health.LuaActions.from_directory("resource_customizations")
    offered = actions.discover(live_deployment)               # (ResourceAction(name="restart", ...), ...)
"""

from __future__ import annotations

from reconcile.health._actions import GO_ZERO_TIME, ActionParameter, ImpactedResource, LuaActions, ResourceAction
from reconcile.health._assess import app_health, assess
from reconcile.health._builtin import BuiltinHealthChecks
from reconcile.health._catalogue import ArgoCDCatalogue
from reconcile.health._custom import CustomHealthChecks
from reconcile.health._lua import LuaHealthChecks, LuaSandbox, LuaScript
from reconcile.health._status import ORDER, is_worse, worst

__all__ = [
    "GO_ZERO_TIME",
    "ORDER",
    "ActionParameter",
    "ArgoCDCatalogue",
    "BuiltinHealthChecks",
    "CustomHealthChecks",
    "ImpactedResource",
    "LuaActions",
    "LuaHealthChecks",
    "LuaSandbox",
    "LuaScript",
    "ResourceAction",
    "app_health",
    "assess",
    "is_worse",
    "worst",
]
