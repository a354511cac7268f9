"""Reacting to live changes: run an app's pass when its objects change, Git on an interval, webhooks at once.

:func:`watch` (or a :class:`Watcher` used as a context manager) is the loop a host would otherwise write. Each
app is reconciled once at start, then:

- when a live object it manages changes (``kubectl edit``, ``kubectl scale``, a controller's status update), its
  pass runs after a short debounce (``debounce``, 0.2 s), so a self-healing app heals within about a second; a
  burst of changes makes one pass, and apps whose objects did not change are not run;
- every ``interval`` seconds (Argo CD's three minutes by default), for what only Git knows;
- when :meth:`Watcher.refresh_from_webhook` is handed a push event from GitHub, GitLab, Gitea or Gogs whose
  repository and branch an app follows (Argo CD's ``/api/webhook``).

Changes come from the live cache's watches (:meth:`reconcile.cluster.CachedCluster.add_listener`) or, for the
in-memory cluster, its own watch. The writes of an app's own pass come back as watch events; those whose
resourceVersion the pass stored are recognised and start nothing, so a heal is one pass, not a loop.

Passes run on a small pool of threads, never two of one app at once; :meth:`Watcher.stop` lets running passes
end and stops the rest (a pass is bounded by its Reconciler's ``pass_timeout``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from reconcile.cluster import CachedCluster, MemoryCluster
from reconcile.errors import ConfigurationError, ReconcileError
from reconcile.model import Manifest, ResourceKey, ResultCode
from reconcile.reconciler import Reconciler, ReconcileResult
from reconcile.redaction import redact_url

__all__ = ["Watcher", "repository_key", "watch"]

DEFAULT_INTERVAL = 180.0
"""Seconds between passes of an app when nothing triggers it: Argo CD's ``timeout.reconciliation``."""


def repository_key(url: str) -> str:
    """A repository URL as compared: host and path, lower case, without scheme, user, port 22 or ``.git``.

    ``https://github.com/Org/Repo.git``, ``git@github.com:org/repo`` and ``ssh://git@github.com/org/repo`` are
    one repository, as Argo CD's webhook handler treats them.
    """
    text = url.strip().lower()
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!\d+/)(.+)", text)
    if scp and "://" not in text:
        host, path = scp.groups()
    else:
        rest = text.split("://", 1)[-1]
        rest = rest.rsplit("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
        host, _, path = rest.partition("/")
        host = host.removesuffix(":22").removesuffix(":443").removesuffix(":80")
    path = path.strip("/").removesuffix(".git")
    return f"{host}/{path}"


def _push_event(payload: Mapping[str, Any]) -> tuple[set[str], str | None, str | None]:
    """``(repository keys, ref, default branch)`` of a push event from GitHub, GitLab, Gitea or Gogs."""
    urls: list[str] = []
    default: str | None = None
    for part in ("repository", "project"):  # GitHub/Gitea/Gogs name it repository, GitLab project
        repo = payload.get(part)
        if isinstance(repo, Mapping):
            for field in ("html_url", "clone_url", "ssh_url", "git_http_url", "git_ssh_url", "web_url", "url"):
                value = repo.get(field)
                if isinstance(value, str) and value:
                    urls.append(value)
            branch = repo.get("default_branch")
            default = branch if isinstance(branch, str) else default
    ref = payload.get("ref")
    return {repository_key(url) for url in urls}, ref if isinstance(ref, str) else None, default


def _revision_matches(revision: str, ref: str, default_branch: str | None) -> bool:
    """Whether a push to ``ref`` moves what ``revision`` names (Argo CD's rules: HEAD follows the default branch)."""
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    if revision in ("", "HEAD"):
        return branch is not None and (default_branch is None or branch == default_branch)
    wanted = revision.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return wanted in (branch, tag) or revision == ref


def _git_sources(source: Any) -> list[Any]:
    """The Git sources an app reads (a MultiSource's parts too)."""
    parts = getattr(source, "parts", None)
    if parts is not None:
        return [s for part, _ in parts for s in _git_sources(part)]
    return [source] if isinstance(getattr(source, "url", None), str) and hasattr(source, "revision") else []


class _App:
    """What the watcher knows of one app between passes."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.managed: set[ResourceKey] = set()
        self.written: dict[ResourceKey, str] = {}  # resourceVersions the last pass stored
        self.pruned: set[ResourceKey] = set()  # what the last pass deleted: their DELETED events are its own
        self.running = False
        self.again = False  # a trigger came while the pass ran
        self.heard: list[tuple[ResourceKey, str]] = []  # changes heard while the pass ran
        self.due: float | None = None
        self.passes = 0
        self.result: ReconcileResult | None = None


class Watcher:
    """Runs each app's pass when its live objects change, on an interval, and on webhooks.

    Args:
        reconcilers: The apps; their names must differ. Their clusters must be able to tell of changes: a
            :class:`~reconcile.cluster.CachedCluster` (share one between apps) or a
            :class:`~reconcile.cluster.MemoryCluster`.
        interval: Seconds between passes of an app when nothing triggers it.
        debounce: Seconds from a live change to the pass it triggers; changes within it make one pass.
        workers: How many passes may run at once (never two of one app).
        on_result: Called with each pass's result, on the pass's thread (what it raises is logged).
        logger: A structlog-style logger (``reconcile.watch.*`` events).
    """

    def __init__(
        self,
        reconcilers: Iterable[Reconciler],
        *,
        interval: float = DEFAULT_INTERVAL,
        debounce: float = 0.2,
        workers: int = 4,
        on_result: Callable[[ReconcileResult], None] | None = None,
        logger: Any = None,
    ) -> None:
        apps = list(reconcilers)
        if not all(isinstance(app, Reconciler) for app in apps):
            raise ConfigurationError.argument("watch(reconcilers)", "Reconciler objects", apps)
        names = [app.name for app in apps]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"watch(reconcilers): two apps share a name in {sorted(names)}")
        for value, what in ((interval, "interval"), (debounce, "debounce")):
            if not isinstance(value, int | float) or value < 0:
                raise ConfigurationError.argument(f"watch({what})", "a number of seconds >= 0", value)
        if not isinstance(workers, int) or workers < 1:
            raise ConfigurationError.argument("watch(workers)", "a positive number", workers)
        for app in apps:
            if not isinstance(app.cluster, CachedCluster | MemoryCluster):
                raise ConfigurationError(
                    f"watch: app {app.name!r} reads a {type(app.cluster).__name__}, which tells of no changes; "
                    "give it a CachedCluster (reconcile.cluster.CachedCluster(cluster)) or a MemoryCluster"
                )
        self.interval = float(interval)
        self.debounce = float(debounce)
        self._apps = {app.name: _App(app) for app in apps}
        self._on_result = on_result
        self._log = logger or structlog.get_logger("reconcile")
        self._cond = threading.Condition()
        self._stopping = False
        self._queue: list[tuple[float, int, str]] = []  # (due, tie-breaker, app): a heap; stale entries skipped
        self._counter = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile-watch")
        self._threads: list[threading.Thread] = []
        self._memory_watches: list[Any] = []
        self._listening: list[CachedCluster] = []

    # ------------------------------------------------------------------------------------------------
    # Reading what it did.

    @property
    def passes(self) -> dict[str, int]:
        """How many passes each app has run."""
        with self._cond:
            return {name: app.passes for name, app in self._apps.items()}

    @property
    def results(self) -> dict[str, ReconcileResult]:
        """Each app's latest result (apps that have not finished a pass are absent)."""
        with self._cond:
            return {name: app.result for name, app in self._apps.items() if app.result is not None}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Whether, within ``timeout``, every app has run a pass and none is running or due within ``debounce``."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                busy = any(
                    app.running or app.result is None or (app.due is not None and app.due <= now + self.debounce)
                    for app in self._apps.values()
                )
                if not busy:
                    return True
                if now >= end:
                    return False
                self._cond.wait(min(0.05, end - now))

    # ------------------------------------------------------------------------------------------------
    # Starting and stopping.

    def start(self) -> Watcher:
        """Listen for changes, run every app's first pass, and keep going until :meth:`stop`."""
        if self._threads:
            return self  # started already (``with watch(...)`` starts once)
        clusters = {id(app.reconciler.cluster): app.reconciler.cluster for app in self._apps.values()}
        for cluster in clusters.values():
            if isinstance(cluster, CachedCluster):
                cluster.add_listener(self._heard)
                self._listening.append(cluster)
            elif isinstance(cluster, MemoryCluster):
                feed = cluster.watch(None, timeout=0.25)
                self._memory_watches.append(feed)
                thread = threading.Thread(target=self._follow, args=(feed,), name="reconcile-watch-memory", daemon=True)
                thread.start()
                self._threads.append(thread)
        loop = threading.Thread(target=self._loop, name="reconcile-watch", daemon=True)
        loop.start()
        self._threads.append(loop)
        for name in self._apps:
            self.refresh(name, delay=0.0)
        self._log.info("reconcile.watch.started", apps=len(self._apps))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop triggering passes, let the running ones end (waiting at most ``timeout``), stop listening."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for cluster in self._listening:
            cluster.remove_listener(self._heard)
        for feed in self._memory_watches:
            feed.close()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            while any(app.running for app in self._apps.values()) and time.monotonic() < end:
                self._cond.wait(0.05)
        self._log.info("reconcile.watch.stopped")

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------
    # Triggers.

    def refresh(self, app: str, *, delay: float | None = None) -> None:
        """Run ``app``'s pass soon (after ``delay``, default the debounce), or again right after a running one."""
        with self._cond:
            state = self._apps.get(app)
            if state is None:
                raise ConfigurationError(f"watch: no app named {app!r} (apps: {sorted(self._apps)})")
            self._schedule(state, self.debounce if delay is None else delay)

    def refresh_from_webhook(self, payload: Mapping[str, Any] | str | bytes) -> tuple[str, ...]:
        """Run at once the passes of apps that follow the repository and branch a push event names.

        ``payload`` is the JSON body a Git host posts on a push (GitHub, GitLab, Gitea, Gogs): the repository's URLs
        (HTTPS and SSH forms alike, ``.git`` or not) are matched with each app's Git sources, and the pushed ref
        with their revision: a branch or tag by name, ``HEAD`` by the repository's default branch. An app pinned to
        a commit is never triggered. Checking the webhook's signature is the host's web framework's job.

        Returns:
            The names of the apps triggered.

        Raises:
            ConfigurationError: ``payload`` is not a JSON object.
        """
        if isinstance(payload, str | bytes):
            try:
                payload = json.loads(payload)
            except ValueError as exc:
                raise ConfigurationError(f"webhook payload is not JSON: {exc}") from None
        if not isinstance(payload, Mapping):
            raise ConfigurationError.argument("refresh_from_webhook(payload)", "a JSON object", type(payload).__name__)
        repositories, ref, default = _push_event(payload)
        if not repositories or ref is None:
            self._log.info("reconcile.watch.webhook_ignored", reason="not a push event")
            return ()
        triggered = []
        with self._cond:
            for name, state in self._apps.items():
                for source in _git_sources(state.reconciler.source):
                    if repository_key(source.url) in repositories and _revision_matches(source.revision, ref, default):
                        self._schedule(state, 0.0)
                        triggered.append(name)
                        break
        self._log.info(
            "reconcile.watch.webhook",
            repositories=sorted(redact_url(r) for r in repositories),
            ref=ref,
            apps=triggered,
        )
        return tuple(triggered)

    def _schedule(self, state: _App, delay: float) -> None:
        """Make ``state`` due within ``delay`` (an earlier due time stays). Holds the condition's lock."""
        if self._stopping:
            return
        if state.running:
            state.again = True
            return
        due = time.monotonic() + delay
        if state.due is None or due < state.due:
            state.due = due
            heapq.heappush(self._queue, (due, next(self._counter), state.reconciler.name))
            self._cond.notify_all()

    def _heard(self, event_type: str, obj: Manifest) -> None:
        """A change from a watch: trigger the apps that manage the object."""
        key = ResourceKey.from_manifest(obj)
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        with self._cond:
            for state in self._apps.values():
                if key not in state.managed:
                    continue
                if (state.written.get(key) == version and version) or (event_type == "DELETED" and key in state.pruned):
                    continue  # the answer of this app's own write
                if state.running:
                    state.heard.append((key, version))
                    continue
                self._log.debug("reconcile.watch.changed", app=state.reconciler.name, key=str(key), type=event_type)
                self._schedule(state, self.debounce)

    def _follow(self, feed: Any) -> None:
        """The in-memory cluster's watch, read until it is closed."""
        while not feed.closed:
            event = feed.get(timeout=0.25)
            if event is not None:
                self._heard(event.type, event.object)

    # ------------------------------------------------------------------------------------------------
    # Running passes.

    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._queue and self._queue[0][0] <= now:
                    due, _, name = heapq.heappop(self._queue)
                    state = self._apps[name]
                    if state.due != due or state.running:
                        continue  # superseded by an earlier trigger, or running (it will run again)
                    state.due = None
                    state.running = True
                    self._pool.submit(self._run, state)
                wait = self._queue[0][0] - now if self._queue else None
                self._cond.wait(wait)

    def _run(self, state: _App) -> None:
        try:
            self._pass(state)
        except Exception as exc:  # noqa: BLE001 - reconcile() never raises; a bug must not leave the app stuck
            self._log.exception("reconcile.watch.pass_crashed", app=state.reconciler.name, error=str(exc))
            with self._cond:
                state.running = False
                self._schedule(state, self.interval)
                self._cond.notify_all()

    def _pass(self, state: _App) -> None:
        result = state.reconciler.reconcile()
        cluster = state.reconciler.cluster
        if isinstance(cluster, CachedCluster):
            # A first pass lists every kind from the server; watch the app's kinds from now on.
            try:
                cluster.cache(r.key.group_kind for r in result.resources)
            except ReconcileError as exc:
                self._log.warning("reconcile.watch.unwatched", app=state.reconciler.name, error=str(exc))
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception as exc:  # noqa: BLE001 - a host's callback must not stop the watcher
                self._log.warning("reconcile.watch.callback_failed", error=f"{type(exc).__name__}: {exc}")
        with self._cond:
            state.passes += 1
            state.result = result
            state.running = False
            state.managed = {r.key for r in result.resources} or state.managed
            state.written = {
                key: str((obj.get("metadata") or {}).get("resourceVersion") or "")
                for key, obj in (result.sync.stored.items() if result.sync is not None else ())
            }
            state.pruned = {
                r.key
                for r in (result.sync.resources if result.sync is not None else ())
                if r.status is ResultCode.PRUNED
            }
            news = [
                (key, v) for key, v in state.heard if not ((v and state.written.get(key) == v) or key in state.pruned)
            ]
            state.heard.clear()
            if news or state.again:
                state.again = False
                self._schedule(state, self.debounce)
            else:
                self._schedule(state, self.interval)
            self._cond.notify_all()


def watch(reconcilers: Iterable[Reconciler], **options: Any) -> Watcher:
    """Start a :class:`Watcher` over ``reconcilers`` (see it for ``options``); stop it with ``stop()`` or ``with``."""
    return Watcher(reconcilers, **options).start()
