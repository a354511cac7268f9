"""The error tree. Every error the library raises is a :class:`ReconcileError`.

::

    ReconcileError
    ├── ConfigurationError          the host passed options that cannot work
    ├── SourceError                 fetching the desired state failed
    │   ├── RepositoryUnreachableError   network, DNS, missing repository (retryable)
    │   ├── AuthenticationError          credentials missing or refused
    │   ├── RevisionNotFoundError        no branch, tag or commit by that name
    │   └── PathNotFoundError            the application's folder is not in that revision
    ├── RenderError                 turning files into objects failed
    │   ├── ManifestError               one file or object is malformed (file and line)
    │   │   └── DuplicateResourceError  two manifests name the same object (both places)
    │   ├── PathEscapeError             a path or symlink in the repository points outside it
    │   └── ToolError                   helm, kustomize or jsonnet failed (tool, exit code, its message)
    │       └── ToolNotFoundError       the tool is not installed (how to install it)
    ├── DiffError                   comparing desired and live state failed
    ├── SyncError                   a sync operation failed (per-object results attached)
    ├── ActionError                 a resource action failed: unknown, refused by its script, or a bad result
    └── ClusterError                the Kubernetes API refused or failed a call (key, HTTP status, reason)
        ├── NotFoundError               404
        ├── ConflictError               409 (already exists, stale resourceVersion, field manager conflict)
        ├── InvalidError                422 (names the field)
        ├── UnknownKindError            the server serves no such kind
        └── WatchExpiredError           410 on a watch: its resourceVersion is too old, list again

Errors carry structured fields and ``retryable`` says whether trying again unchanged can help. Messages name what
was wrong and where; they never carry a Secret value or a credential.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from reconcile.model import Location, ResourceKey, Revision

__all__ = [
    "ActionError",
    "AuthenticationError",
    "ClusterError",
    "ConfigurationError",
    "ConflictError",
    "DiffError",
    "DuplicateResourceError",
    "InvalidError",
    "ManifestError",
    "NotFoundError",
    "PathEscapeError",
    "PathNotFoundError",
    "ReconcileError",
    "RenderError",
    "RepositoryUnreachableError",
    "RevisionNotFoundError",
    "SourceError",
    "SyncError",
    "ToolError",
    "ToolNotFoundError",
    "UnknownKindError",
    "WatchExpiredError",
]

_SERVER_ERRORS = 500  # 5xx: the server failed, the request may be fine


class ReconcileError(Exception):
    """The root of every error the library raises.

    Attributes:
        retryable: Whether the same call may succeed later without any change (network, throttling, conflicts).
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class ConfigurationError(ReconcileError):
    """The host passed options that cannot work (a bad URL, conflicting settings, an argument of the wrong type).

    Attributes:
        file: The file the configuration came from (an Application manifest), when it came from one.
        line: The 1-based line in it, when known.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line

    @classmethod
    def argument(cls, argument: str, expected: str, value: object) -> ConfigurationError:
        """The error for an argument of the wrong type or an empty value, at the public API's boundary.

        It names the argument, what it must be, and the type it had (``None``, or ``''`` for an empty string):
        never the value itself, which may be a secret.
        """
        got = "None" if value is None else "an empty string" if value == "" else type(value).__name__
        return cls(f"{argument}: expected {expected}, got {got}")


class SourceError(ReconcileError):
    """Fetching the desired state failed.

    Attributes:
        url: The repository or folder, with any credential removed.
        revision: The revision asked for, when there was one.
    """

    def __init__(
        self, message: str, *, url: str = "", revision: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.url = url
        self.revision = revision


class RepositoryUnreachableError(SourceError):
    """The repository could not be reached or read (network, DNS, no such repository)."""

    retryable = True


class AuthenticationError(SourceError):
    """The repository asked for credentials that were missing or refused."""


class RevisionNotFoundError(SourceError):
    """No branch, tag or commit matches the revision."""


class PathNotFoundError(SourceError):
    """The application's folder does not exist at the resolved revision."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        revision: str | None = None,
        path: str = "",
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, url=url, revision=revision, retryable=retryable)
        self.path = path


class RenderError(ReconcileError):
    """Turning the snapshot's files into objects failed.

    Attributes:
        revision: The revision being rendered, when known.
    """

    def __init__(self, message: str, *, revision: Revision | None = None, retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.revision = revision

    @staticmethod
    @contextlib.contextmanager
    def naming(revision: Revision) -> Iterator[None]:
        """Make every render error raised inside name ``revision`` (unless it names one already)."""
        try:
            yield
        except RenderError as exc:
            if exc.revision is None:
                exc.revision = revision
            raise


class ManifestError(RenderError):
    """A file or an object in it is malformed.

    Attributes:
        file: The file, relative to the snapshot root where there is one.
        line: The 1-based line, when known.
        key: The object, when it could be identified.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: ResourceKey | None = None,
    ) -> None:
        where = f"{file}:{line}" if file and line else (file or "")
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line
        self.key = key


class DuplicateResourceError(ManifestError):
    """Two manifests in one render name the same object.

    Attributes:
        first: Where the object was defined first.
        second: Where it was defined again.
    """

    def __init__(self, key: ResourceKey, first: Location | None, second: Location | None) -> None:
        message = f"{key} is defined twice: in {first or 'an unnamed source'} and in {second or 'an unnamed source'}"
        super().__init__(message, key=key)
        self.first = first
        self.second = second


class PathEscapeError(RenderError):
    """A file, value file, import or symlink of the repository resolves outside it (or outside where allowed).

    The message names the path as the repository wrote it, never the content of what it points to.

    Attributes:
        path: The offending path, as written in the repository (relative to its root where possible).
    """

    def __init__(self, message: str, *, path: str, revision: Revision | None = None) -> None:
        super().__init__(message, revision=revision, retryable=False)
        self.path = path


class ToolError(RenderError):
    """A rendering tool (helm, kustomize, jsonnet) failed, timed out, or wrote more than allowed.

    Attributes:
        tool: The tool's name.
        exit_code: Its exit code (``None`` when it was stopped or did not start).
        stderr: The end of what it wrote to stderr, credentials masked.
        file: The file it named as the problem, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        exit_code: int | None = None,
        stderr: str = "",
        file: str | None = None,
        revision: Revision | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, revision=revision, retryable=retryable)
        self.tool = tool
        self.exit_code = exit_code
        self.stderr = stderr
        self.file = file


class ToolNotFoundError(ToolError):
    """The tool is neither where it was given nor on ``PATH``; the message says how to install it."""


class DiffError(ReconcileError):
    """Comparing desired and live state failed."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message)
        self.key = key


class SyncError(ReconcileError):
    """A sync operation did not succeed.

    Attributes:
        result: The :class:`~reconcile.sync.SyncResult` with each object's outcome, when the sync got that far.
    """

    def __init__(self, message: str, *, result: object | None = None, retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.result = result


class ActionError(ReconcileError):
    """A resource action (Argo CD's ``action.lua``) could not run.

    There is no such action, its script failed or refused (``error("invalid number: ...")``), or its result is
    not something to apply.

    Attributes:
        key: The object the action was asked of.
        action: The action's name.
    """

    def __init__(self, message: str, *, key: ResourceKey | None = None, action: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.action = action


class ClusterError(ReconcileError):
    """The Kubernetes API refused or failed a call.

    Attributes:
        key: The object the call was about, when there was one.
        status: The HTTP status (0 when the server was not reached).
        reason: The API's machine-readable reason (``NotFound``, ``Conflict``, ``Invalid``...).
    """

    def __init__(
        self,
        message: str,
        *,
        key: ResourceKey | None = None,
        status: int = 0,
        reason: str = "",
        retryable: bool | None = None,
    ) -> None:
        if retryable is None:
            retryable = status in (0, 409, 429) or status >= _SERVER_ERRORS
        super().__init__(message, retryable=retryable)
        self.key = key
        self.status = status
        self.reason = reason


class NotFoundError(ClusterError):
    """The object (or its namespace) does not exist: HTTP 404."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message, key=key, status=404, reason="NotFound")


class ConflictError(ClusterError):
    """The write conflicts with the current state: HTTP 409.

    Attributes:
        fields: For field-manager conflicts, the conflicting field paths and their owners.
    """

    def __init__(
        self,
        message: str,
        *,
        key: ResourceKey | None = None,
        reason: str = "Conflict",
        fields: tuple[str, ...] = (),
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, key=key, status=409, reason=reason, retryable=retryable)
        self.fields = fields


class InvalidError(ClusterError):
    """The object is invalid: HTTP 422.

    Attributes:
        field: The offending field path (``spec.ports[0].protocol``), when known.
    """

    def __init__(self, message: str, *, key: ResourceKey | None = None, field: str = "") -> None:
        super().__init__(message, key=key, status=422, reason="Invalid")
        self.field = field


class UnknownKindError(ClusterError):
    """The server serves no such kind (a CRD is missing, or the apiVersion is wrong)."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message, key=key, status=404, reason="NotFound", retryable=False)


class WatchExpiredError(ClusterError):
    """A watch's ``resourceVersion`` is too old (HTTP 410 Gone): list again and watch from the new version."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message, key=key, status=410, reason="Expired", retryable=True)
