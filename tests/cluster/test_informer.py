"""The informer against a scripted server: list, watch, expiry, reconnects, read-your-writes."""

from __future__ import annotations

import queue
import threading

import pytest

from reconcile.cluster._informer import Informer
from reconcile.errors import WatchExpiredError
from reconcile.model import GroupKind, ResourceKey
from support import eventually

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

CM = GroupKind("", "ConfigMap")


def cm(name: str, version: int, **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": str(version)},
        "data": dict(data),
    }


class ScriptedServer:
    """Lists a fixed state; each watch call takes its next step from a queue: events, an expiry or an error."""

    def __init__(self) -> None:
        self.state: dict[str, dict] = {}
        self.version = 1
        self.steps: queue.Queue = queue.Queue()
        self.lists = 0
        self.watch_versions: list[str] = []

    def list(self, group_kind: GroupKind) -> tuple[list[dict], str]:
        self.lists += 1
        return list(self.state.values()), str(self.version)

    def watch(self, group_kind: GroupKind, version: str, timeout: float):
        self.watch_versions.append(version)
        try:
            step = self.steps.get(timeout=0.2)
        except queue.Empty:
            return
        if isinstance(step, BaseException):
            raise step
        yield from step

    def change(self, obj: dict) -> tuple[str, dict]:
        self.state[obj["metadata"]["name"]] = obj
        self.version = int(obj["metadata"]["resourceVersion"])
        return ("MODIFIED", obj)


@pytest.fixture
def server() -> ScriptedServer:
    srv = ScriptedServer()
    srv.state["a"] = cm("a", 1, v="1")
    return srv


def test_lists_then_follows_watch_events(server):
    with Informer(server.list, server.watch, [CM], backoff=0.01) as informer:
        assert informer.has_synced(CM)
        assert informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "1"}

        server.steps.put([server.change(cm("a", 2, v="2")), ("ADDED", cm("b", 3)), ("DELETED", cm("a", 4))])

        eventually(lambda: informer.get(ResourceKey("", "ConfigMap", "default", "b")) is not None)
        eventually(lambda: informer.get(ResourceKey("", "ConfigMap", "default", "a")) is None)
        assert [o["metadata"]["name"] for o in informer.list(CM)] == ["b"]
        assert server.lists == 1


def test_an_expired_watch_lists_again_and_loses_nothing(server):
    with Informer(server.list, server.watch, [CM], backoff=0.01) as informer:
        # Changes happen while the watch is expired: only a new list can bring them.
        server.state["c"] = cm("c", 7)
        server.version = 7
        server.steps.put(WatchExpiredError("too old resource version"))

        eventually(lambda: informer.get(ResourceKey("", "ConfigMap", "default", "c")) is not None)
        assert informer.relists == 1
        assert server.lists == 2


def test_a_broken_connection_resumes_from_the_last_version_seen(server):
    with Informer(server.list, server.watch, [CM], backoff=0.01, max_backoff=0.02) as informer:
        server.steps.put([server.change(cm("a", 5, v="5"))])
        eventually(lambda: informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "5"})
        server.steps.put(ConnectionResetError("connection reset by peer"))
        server.steps.put([server.change(cm("a", 6, v="6"))])

        eventually(lambda: informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "6"})
        assert server.lists == 1  # no relist: the watch resumed
        assert "5" in server.watch_versions[1:]


def test_recorded_writes_are_read_back_but_never_replace_newer_objects(server):
    informer = Informer(server.list, server.watch, [CM]).start()
    try:
        informer.record(cm("a", 9, v="written"))
        assert informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "written"}
        informer.record(cm("a", 8, v="stale"))
        assert informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "written"}
        informer.forget(ResourceKey("", "ConfigMap", "default", "a"))
        assert informer.get(ResourceKey("", "ConfigMap", "default", "a")) is None
    finally:
        informer.stop()


def test_returned_objects_are_copies(server):
    with Informer(server.list, server.watch, [CM]) as informer:
        informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"]["v"] = "changed"
        informer.list(CM)[0]["data"]["v"] = "changed"
        assert informer.get(ResourceKey("", "ConfigMap", "default", "a"))["data"] == {"v": "1"}


def test_stop_ends_every_thread(server):
    kinds = [GroupKind("stop.example.com", "One"), GroupKind("stop.example.com", "Two")]
    informer = Informer(server.list, server.watch, kinds).start(wait=1.0)
    names = {f"reconcile-informer-{kind}" for kind in kinds}
    assert names <= {t.name for t in threading.enumerate()}
    informer.stop()
    assert not names & {t.name for t in threading.enumerate()}
