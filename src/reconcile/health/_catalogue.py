"""Argo CD's catalogue of health checks and resource actions, loaded in one call from where the host keeps it.

Argo CD ships ``resource_customizations``: per group and kind, a ``health.lua`` (about 240 of them: Argo Rollouts,
cert-manager, Crossplane, Strimzi, Flux, KEDA...) and ``actions/`` (restart a Deployment, promote a Rollout,
create a Job from a CronJob). reconcile does not copy them: the host points at a checkout, or at a Git repository
and revision, and :meth:`ArgoCDCatalogue.load` reads it (a Git revision through :class:`~reconcile.sources.GitSource`,
cached by commit).

The catalogue is both health checks (give it as ``health_checks=``) and resource actions (``actions=``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from reconcile.errors import ConfigurationError
from reconcile.health._actions import ImpactedResource, LuaActions, ResourceAction
from reconcile.health._lua import DEFAULT_MAX_MEMORY, DEFAULT_TIME_LIMIT, LuaHealthChecks
from reconcile.model import GroupKind, Manifest, Revision
from reconcile.protocols import HealthCheck
from reconcile.sources import Credentials, GitSource

__all__ = ["DEFAULT_FOLDER", "ArgoCDCatalogue"]

DEFAULT_FOLDER = "resource_customizations"
"""Where the catalogue sits in Argo CD's repository."""

_GIT_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://", "git@")


@attrs.frozen
class ArgoCDCatalogue:
    """Argo CD's ``resource_customizations``: health checks and resource actions, from a folder or Git.

    ::

        catalogue = rc.health.ArgoCDCatalogue.load("https://github.com/argoproj/argo-cd", revision="v3.1.0")
        reconciler = rc.Reconciler(..., health_checks=catalogue, actions=catalogue)

    Attributes:
        health_checks: The ``health.lua`` scripts by group and kind.
        actions: The ``actions/`` scripts by group and kind.
        root: The folder read.
        revision: The Git commit it was read at, when it came from Git.
    """

    health_checks: LuaHealthChecks = attrs.field(repr=False)
    actions: LuaActions = attrs.field(repr=False)
    root: Path
    revision: Revision | None = None

    @classmethod
    def load(
        cls,
        location: str | os.PathLike[str],
        revision: str = "HEAD",
        *,
        path: str = DEFAULT_FOLDER,
        cache_dir: str | os.PathLike[str] | None = None,
        credentials: Credentials | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> ArgoCDCatalogue:
        """Read the catalogue from a local folder, or from a Git repository at a revision.

        Args:
            location: A folder (the ``resource_customizations`` folder itself, or a checkout holding it at
                ``path``), or a Git URL (``https://``, ``ssh://``, ``git@host:repo``, ``file://``).
            revision: For Git: the branch, tag or commit.
            path: The catalogue's folder in the repository or checkout.
            cache_dir: For Git: where clones are cached (:class:`~reconcile.sources.GitSource`'s default).
            credentials: For Git: repository credentials by URL.
            time_limit: CPU seconds one script run may take.
            max_memory: Bytes one script run may allocate.

        Raises:
            ConfigurationError: The folder does not exist or holds no scripts, or a script cannot be read. A script
                that does not compile fails only its own kind (see ``health_checks.problems``).
            SourceError: The Git repository or revision could not be fetched.
        """
        text = os.fspath(location)
        found_revision = None
        if text.startswith(_GIT_SCHEMES):
            snapshot = GitSource(text, revision, path, cache_dir=cache_dir, credentials=credentials).fetch()
            root, found_revision = snapshot.directory, snapshot.revision
        else:
            root = Path(text).expanduser()
            if (root / path).is_dir():
                root = root / path
        if not root.is_dir():
            raise ConfigurationError(f"{root}: not a folder of Argo CD resource customizations")
        health = LuaHealthChecks.from_directory(root, time_limit=time_limit, max_memory=max_memory)
        actions = LuaActions.from_directory(root, time_limit=time_limit, max_memory=max_memory)
        if not health.patterns() and not actions.patterns():
            raise ConfigurationError(f"{root}: holds no health.lua or actions/ scripts")
        return cls(health_checks=health, actions=actions, root=root, revision=found_revision)

    # ---------------------------------------------------------------------------- the HealthChecks protocol

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The health script for ``group_kind``, as Argo CD chooses it (the most specific pattern)."""
        return self.health_checks.find(group_kind)

    # ------------------------------------------------------------------------- the ResourceActions protocol

    def discover(self, obj: Manifest) -> tuple[ResourceAction, ...]:
        """The actions ``obj`` offers (see :meth:`LuaActions.discover <reconcile.health.LuaActions.discover>`)."""
        return self.actions.discover(obj)

    def run(
        self, obj: Manifest, name: str, params: Mapping[str, str] | None = None, *, now: float | None = None
    ) -> tuple[ImpactedResource, ...]:
        """What the action would change (see :meth:`LuaActions.run <reconcile.health.LuaActions.run>`)."""
        return self.actions.run(obj, name, params, now=now)

    def close(self) -> None:
        """Stop the worker processes the scripts run in."""
        self.health_checks.close()
        self.actions.close()
