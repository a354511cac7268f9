"""Split Applications across controller replicas by a stable hash of their namespace and name.

Every replica computes the same shard for an Application without talking to the others, and the answer never
changes while the number of shards stays the same (Python's ``hash()`` is salted per process: not usable here).
"""

from __future__ import annotations

import hashlib
import re

import attrs

_TRAILING_NUMBER = re.compile(r"(\d+)$")


def shard_of(namespace: str, name: str, shards: int) -> int:
    """The shard (``0 <= shard < shards``) that owns an Application: sha256 of ``namespace/name``, modulo ``shards``.

    Raises:
        ValueError: ``shards`` is less than 1.
    """
    if shards < 1:
        raise ValueError(f"the number of shards must be at least 1, not {shards}")
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def parse_shard(value: str) -> int:
    """A shard index from ``"2"`` or from a StatefulSet pod name such as ``"controller-2"`` (its ordinal).

    Raises:
        ValueError: The value does not end in a number.
    """
    match = _TRAILING_NUMBER.search(value.strip())
    if match is None:
        raise ValueError(f"a shard must be a number or end in one (a StatefulSet pod name), not {value!r}")
    return int(match.group(1))


@attrs.frozen
class Shard:
    """One replica's part of the Applications.

    Attributes:
        index: This replica's shard, from 0.
        count: How many shards there are.
    """

    index: int = 0
    count: int = 1

    def __attrs_post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist: need 0 <= shard < shards")

    def owns(self, namespace: str, name: str) -> bool:
        """Whether this shard reconciles the Application ``namespace/name``."""
        return shard_of(namespace, name, self.count) == self.index

    def lease_name(self, base: str) -> str:
        """The Lease this shard's replicas compete for: ``base`` alone when there is one shard."""
        return base if self.count == 1 else f"{base}-shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
