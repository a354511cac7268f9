"""Playing the kubelet on a control plane that has no nodes.

The local control plane runs the controllers but no kubelet, so Pods never start by themselves. Tests that need a
Deployment to become available, or a Job to complete, write the Pod status a kubelet would write, through the API;
the controller manager does the rest for real (ReplicaSet and Deployment availability, Job completion).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping
from typing import Any

from reconcile.testing._controlplane import ControlPlane


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    """Writes Pod statuses as a kubelet would.

    Args:
        plane: The control plane whose Pods to move along.
    """

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def _pods(self, namespace: str, selector: Mapping[str, str] | None) -> list[dict[str, Any]]:
        query = ""
        if selector:
            query = "?" + urllib.parse.urlencode({"labelSelector": ",".join(f"{k}={v}" for k, v in selector.items())})
        answer = self.plane.request("GET", f"/api/v1/namespaces/{namespace}/pods{query}")
        return list(answer.get("items") or [])

    def _write(self, pod: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        metadata = pod["metadata"]
        path = f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}/status"
        self.plane.request("PATCH", path, {"status": status})

    def run_pods(self, namespace: str, *, selector: Mapping[str, str] | None = None) -> int:
        """Mark every pending Pod of the namespace (or matching ``selector``) Running and Ready; returns how many.

        Only Pods a kubelet would start: pending ones that are not being deleted. A Pod that already ran, or
        finished (a server refuses to take a terminated container back to running), is left as it is.
        """
        now = _now()
        pods = [
            p
            for p in self._pods(namespace, selector)
            if (p.get("status") or {}).get("phase", "Pending") == "Pending"
            and not (p.get("metadata") or {}).get("deletionTimestamp")
        ]
        for index, pod in enumerate(pods):
            containers = (pod.get("spec") or {}).get("containers") or []
            conditions = [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            self._write(
                pod,
                {
                    "phase": "Running",
                    "conditions": conditions,
                    "hostIP": "10.0.0.1",
                    "podIP": f"10.244.0.{index % 250 + 2}",
                    "startTime": now,
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "image": c.get("image", ""),
                            "imageID": "",
                            "ready": True,
                            "started": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": now}},
                        }
                        for c in containers
                    ],
                },
            )
        return len(pods)

    def succeed_pods(self, namespace: str, *, selector: Mapping[str, str] | None = None) -> int:
        """Mark every unfinished Pod of the namespace (or matching ``selector``) Succeeded; returns how many."""
        return self._finish_pods(namespace, selector, phase="Succeeded", exit_code=0, reason="Completed")

    def fail_pods(self, namespace: str, *, selector: Mapping[str, str] | None = None, exit_code: int = 1) -> int:
        """Mark every unfinished Pod of the namespace (or matching ``selector``) Failed; returns how many.

        Each container is written as terminated with ``exit_code`` and reason ``Error``, as a kubelet reports
        a container that exited non-zero; a Job's controller then counts the Pod as failed.
        """
        return self._finish_pods(namespace, selector, phase="Failed", exit_code=exit_code, reason="Error")

    def _finish_pods(
        self, namespace: str, selector: Mapping[str, str] | None, *, phase: str, exit_code: int, reason: str
    ) -> int:
        now = _now()
        pods = [
            p
            for p in self._pods(namespace, selector)
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        for pod in pods:
            containers = (pod.get("spec") or {}).get("containers") or []
            self._write(
                pod,
                {
                    "phase": phase,
                    "startTime": now,
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "image": c.get("image", ""),
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": now}},
                        }
                        for c in containers
                    ],
                },
            )
        return len(pods)
