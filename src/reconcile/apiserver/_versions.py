"""Kubernetes releases the library models, and how a caller names one."""

from __future__ import annotations

import re

import attrs

from reconcile.errors import ConfigurationError

_RELEASE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?")


@attrs.frozen(order=True)
class KubeVersion:
    """A Kubernetes minor release (``1.36``); patch releases share their minor's API.

    Attributes:
        major: ``1``.
        minor: ``36``.
    """

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """``"1.36"``, ``"v1.36.3"`` or ``"1.36.0-rc.1"`` as a release.

        Raises:
            ConfigurationError: ``text`` names no release.
        """
        match = _RELEASE.fullmatch(text.strip())
        if match is None:
            raise ConfigurationError(f"{text!r} is not a Kubernetes version (expected e.g. '1.36' or 'v1.36.3')")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def git_version(self) -> str:
        """The version string a server of this release reports, at patch 0 (``v1.36.0``)."""
        return f"v{self.major}.{self.minor}.0"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"
