"""A thread-safe count of the HTTP requests a cluster client sends, by verb, for benchmarks and tests."""

from __future__ import annotations

import threading


class RequestStats:
    """HTTP requests sent by one :class:`KubernetesCluster`, counted by verb since creation or :meth:`reset`.

    Verbs: ``get``, ``list`` (one per page), ``watch``, ``apply``, ``dry-run apply``, ``create``, ``update``
    (replace), ``patch``, ``delete`` and ``discovery``. Every attempt counts, so retries show; :attr:`retries`
    counts those alone. Thread-safe.
    """

    VERBS = ("get", "list", "watch", "apply", "dry-run apply", "create", "update", "patch", "delete", "discovery")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.VERBS, 0)
        self._retries = 0

    def record(self, verb: str, *, retry: bool = False) -> None:
        """Count one request (the cluster calls this; tests of other clients may too)."""
        with self._lock:
            self._counts[verb] = self._counts.get(verb, 0) + 1
            if retry:
                self._retries += 1

    def __getitem__(self, verb: str) -> int:
        with self._lock:
            return self._counts.get(verb, 0)

    @property
    def total(self) -> int:
        """Every request sent."""
        with self._lock:
            return sum(self._counts.values())

    @property
    def retries(self) -> int:
        """Requests that repeated an earlier one after a retryable failure."""
        with self._lock:
            return self._retries

    def as_dict(self) -> dict[str, int]:
        """The counts by verb, verbs with no request included."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts = dict.fromkeys(self.VERBS, 0)
            self._retries = 0

    def __repr__(self) -> str:
        counts = ", ".join(f"{verb}={n}" for verb, n in self.as_dict().items() if n)
        return f"RequestStats({counts or 'none'}; retries={self.retries})"
