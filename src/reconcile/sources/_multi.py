"""Several sources, each with its own renderer, reconciled as one application (Argo CD's multi-source apps).

:class:`MultiSource` is both the Source and the Renderer of such an application. Fetching fetches every part and
returns one snapshot for all of them: a folder (one per combination of part revisions) holding a link to each
part's checkout and a record of each part's revision and path. Rendering renders each part with its own renderer
from that folder and joins the objects, so the snapshot alone says what is rendered and nothing is remembered
between calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from reconcile.errors import ConfigurationError, RenderError
from reconcile.manifests import check_unique
from reconcile.model import Capabilities, Resource, Revision, Snapshot
from reconcile.protocols import ClusterAwareRenderer, Renderer, Source
from reconcile.sources._cache import cache_folder

_PARTS = "parts.json"


def _parts(value: Sequence[tuple[Source, Renderer]]) -> tuple[tuple[Source, Renderer], ...]:
    parts = tuple(value)
    if not parts:
        raise ConfigurationError("a MultiSource needs at least one (source, renderer) part")
    for index, part in enumerate(parts):
        if not (isinstance(part, tuple) and len(part) == 2):  # noqa: PLR2004 - a pair
            raise ConfigurationError(f"MultiSource part {index} must be a (source, renderer) pair, not {part!r}")
        if not isinstance(part[0], Source) or not isinstance(part[1], Renderer):
            raise ConfigurationError(f"MultiSource part {index}: expected a Source and a Renderer, got {part!r}")
    return parts


@attrs.frozen(kw_only=True)
class MultiSource:
    """Sources rendered each by its own renderer, as one application: pass it as both source and renderer.

    ::

        both = rc.MultiSource(parts=[(chart_source, rc.HelmRenderer()), (extras_source, rc.DirectoryRenderer())])
        app = rc.Reconciler(name="web", source=both, renderer=both, cluster=cluster)

    Attributes:
        parts: ``(source, renderer)`` pairs, rendered in order; two parts naming one object is a
            :class:`~reconcile.errors.DuplicateResourceError`.
        cache_dir: Where the combined snapshot folders live (small: links and one JSON file each).
    """

    parts: tuple[tuple[Source, Renderer], ...] = attrs.field(converter=_parts)
    cache_dir: Path = attrs.field(factory=lambda: cache_folder(None, "multi"), converter=Path)

    def fetch(self) -> Snapshot:
        """Fetch every part; one snapshot whose revision names all of theirs."""
        snapshots = [source.fetch() for source, _ in self.parts]
        records = [
            {
                "root": os.path.realpath(snapshot.root),
                "path": snapshot.path,
                "sha": snapshot.revision.sha,
                "ref": snapshot.revision.ref,
                "message": snapshot.revision.message,
            }
            for snapshot in snapshots
        ]
        digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
        folder = self.cache_dir / digest
        if not (folder / _PARTS).is_file():
            _write_folder(folder, records)
        refs = ", ".join(f"{r['ref'] or '-'}@{str(r['sha'])[:7]}" for r in records)
        return Snapshot(revision=Revision(sha=digest, ref=refs, message=f"{len(records)} sources"), root=folder)

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Each part rendered by its renderer, joined and sorted by key.

        Raises:
            RenderError: The snapshot is not one this MultiSource fetched, or a part failed (its own error).
            DuplicateResourceError: Two parts render the same object.
        """
        records = _read_records(snapshot, len(self.parts))
        resources: list[Resource] = []
        for index, ((_, renderer), record) in enumerate(zip(self.parts, records, strict=True)):
            part = Snapshot(
                revision=Revision(sha=record["sha"], ref=record["ref"], message=record["message"]),
                root=Path(os.path.realpath(snapshot.root / str(index))),
                path=record["path"],
            )
            resources += renderer.render(part)
        check_unique(resources)
        return tuple(sorted(resources, key=lambda r: r.key))

    def for_cluster(self, capabilities: Capabilities) -> MultiSource:
        """This MultiSource with every cluster-aware renderer set up for the cluster."""
        parts = [
            (source, renderer.for_cluster(capabilities) if isinstance(renderer, ClusterAwareRenderer) else renderer)
            for source, renderer in self.parts
        ]
        return attrs.evolve(self, parts=parts)


def _write_folder(folder: Path, records: list[dict[str, Any]]) -> None:
    """Write the combined snapshot folder next to where it goes, then move it in whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    for index, record in enumerate(records):
        (temporary / str(index)).symlink_to(record["root"], target_is_directory=True)
    (temporary / _PARTS).write_text(json.dumps(records), encoding="utf-8")
    try:
        temporary.rename(folder)
    except OSError:
        shutil.rmtree(temporary)  # another process wrote the same folder first: theirs is identical
        if not (folder / _PARTS).is_file():
            raise


def _read_records(snapshot: Snapshot, count: int) -> list[dict[str, Any]]:
    try:
        records = json.loads((Path(snapshot.root) / _PARTS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"{snapshot.root} is not a MultiSource snapshot: {exc}", revision=snapshot.revision) from exc
    if not isinstance(records, list) or len(records) != count:
        raise RenderError(f"{snapshot.root} holds another MultiSource's parts", revision=snapshot.revision)
    return records
