"""Comparing desired with live state: :func:`compare` for one object, :class:`ArgoDiffer` for an application.

The comparison is the one server-side apply makes true: the live object against what the API server would
store after applying the desired one (:func:`reconcile.apiserver.fields.predict_apply`, or a server's own dry-run
answer). Fields that only the server or other managers set are kept by that prediction, so they are never
drift; fields this manager applied before and no longer applies are dropped by it, so they are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from reconcile.apiserver import APISchema, KubeVersion, list_type, supported_versions
from reconcile.apiserver.fields import predict_apply
from reconcile.argocd.annotations import COMPARE_OPTIONS, has_option
from reconcile.diff._changes import Change, ListKeys, diff_values
from reconcile.diff._ignore import IgnoreRule, apply_rules, as_rules
from reconcile.diff._mask import mask_secrets
from reconcile.diff._normalize import comparable, prepare_desired, with_known_defaults
from reconcile.diff._result import DiffResult, ResourceDiff
from reconcile.diff._settings import DiffSettings
from reconcile.diff._webhook import without_webhook_mutations
from reconcile.errors import ClusterError, ConfigurationError, DiffError
from reconcile.jsonvalues import deep_copy, json_equal
from reconcile.model import GroupKind, Manifest, Resource, ResourceKey

if TYPE_CHECKING:
    from reconcile.protocols import Cluster

_DEFAULTS = DiffSettings()


def compare(
    desired: Manifest | None,
    live: Manifest | None,
    *,
    predicted_live: Manifest | None = None,
    manager: str = "reconcile",
    ignore_differences: Iterable[IgnoreRule | Mapping[str, Any]] = (),
    ignore_aggregated_roles: bool = False,
    settings: DiffSettings = _DEFAULTS,
    kube_version: str | None = None,
    share_live: bool = False,
) -> ResourceDiff:
    """Compare one object's desired state with its live state.

    Args:
        desired: The object as rendered from Git, or ``None`` when it left the desired state (to be pruned).
            A desired object without a namespace takes the live object's, as an apply to that namespace would;
            a namespace on a cluster-scoped kind is ignored, as the server ignores it.
        live: The object as the cluster returned it, or ``None`` when it does not exist.
        predicted_live: What the server answered to a dry-run apply of ``desired``; when omitted, the answer
            is predicted with :func:`reconcile.apiserver.fields.predict_apply`.
        manager: The field manager that applies ``desired``.
        ignore_differences: Argo CD ``ignoreDifferences`` rules (:class:`IgnoreRule` objects or Argo CD-style
            mappings); the fields of those matching the object are left out of both sides.
        ignore_aggregated_roles: Leave out the ``rules`` of a ClusterRole with an ``aggregationRule``: the
            controller fills them in from the roles it aggregates.
        settings: System-wide settings: their rules come before ``ignore_differences``, and their known-type
            fields, sensitive annotations and mutation-webhook choice apply (:class:`DiffSettings`).
        kube_version: The cluster's Kubernetes release (``v1.30.4``); a local prediction takes that release's
            defaults (the newest modelled release's when omitted; the nearest modelled one outside the range).
        share_live: Keep ``live`` itself in the diff instead of a copy (a Secret is still copied to be masked): for
            a caller that owns ``live`` and treats it and the diff as read-only, as the Reconciler does with the
            objects it keeps from pass to pass.

    Returns:
        The diff, with Secret values masked. Nothing passed in is modified.

    Raises:
        DiffError: Both objects are ``None``, they are not the same object, or a jq expression failed.
        ConfigurationError: A rule mapping is malformed.
    """
    rules = settings.with_rules(ignore_differences)
    if desired is None and live is None:
        raise DiffError("nothing to compare: both the desired and the live object are missing")
    prepared = _prepare(desired, live)
    # One copy keeps the diff apart from the caller's objects; the local prediction shares it.
    own_live = live if share_live else deep_copy(live)
    predicted: Manifest | None = None
    if prepared is not None and predicted_live is None:
        predicted = predict_apply(own_live, prepared, manager, share_live=True)
    elif prepared is not None and predicted_live is not None:
        predicted = _server_prediction(prepared, predicted_live, own_live, manager, settings)
    masked_desired, masked_live, masked_predicted = mask_secrets(
        (prepared, own_live, predicted), sensitive_annotations=settings.sensitive_annotations
    )
    key = ResourceKey.from_manifest(_first(masked_desired, masked_live))
    changes: tuple[Change, ...] = ()
    # Equal objects compare equal in every normal form: an in-sync object needs no normalizing at all.
    if masked_live is not None and masked_predicted is not None and not _equal(masked_live, masked_predicted):
        keep_status = settings.compares_status(key.group_kind)
        before = comparable(masked_live, settings.known_types, keep_status=keep_status)
        after = comparable(masked_predicted, settings.known_types, keep_status=keep_status)
        if predicted_live is None and not _equal(before, after):
            # No server defaulted this prediction: take the defaults the live object shows.
            masked_predicted = with_known_defaults(masked_predicted, masked_live, schema=_schema_of(kube_version))
            after = comparable(masked_predicted, settings.known_types, keep_status=keep_status)
        if (ignore_aggregated_roles or settings.ignore_aggregated_roles) and _aggregated_role(
            key, masked_desired, masked_live
        ):
            before.pop("rules", None)
            after.pop("rules", None)
        if rules:
            before, after = apply_rules(rules, key, before, after, raw_live=live)
        if not _equal(before, after):
            changes = diff_values(before, after, list_keys=_schema_keys(key.group_kind))
    return ResourceDiff(key=key, desired=masked_desired, live=masked_live, predicted=masked_predicted, changes=changes)


def _server_prediction(
    desired: Manifest, answer: Manifest, live: Manifest | None, manager: str, settings: DiffSettings
) -> Manifest:
    """A copy of the server's dry-run ``answer``, mutating webhooks' changes put back as they are live."""
    include = settings.include_mutation_webhook or has_option(desired, "IncludeMutationWebhook=true", COMPARE_OPTIONS)
    if not include and live is not None and _equal(answer, live):
        return live  # the same content: the comparison's own copy of live serves as the prediction too
    if include or live is None:
        return deep_copy(answer)
    return without_webhook_mutations(answer, live, manager)


def _equal(before: Manifest, after: Manifest) -> bool:
    # Most objects are in sync, so this runs at C speed: == finds every difference but true against 1, which
    # the JSON texts then tell apart; only texts that still differ (1 against 1.0) need json_equal.
    if before is after:
        return True
    if before != after:
        return False
    return _text(before) == _text(after) or json_equal(before, after)


def _text(obj: Manifest) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


# A kept comparison: (cluster identity, desired object, live resourceVersion, memo key, the comparison).
_Last = tuple[int, Manifest, str, tuple[Any, ...], ResourceDiff]


@attrs.frozen
class ArgoDiffer:
    """Compares an application's desired objects with the live objects it owns.

    Attributes:
        manager: The field manager the application applies with.
        server_side: When a cluster is at hand, predict each object with a dry-run server-side apply (unless the
            object's ``argocd.argoproj.io/compare-options`` say ``ServerSideDiff=false``), so the
            server's own defaulting takes part (a default inside an atomic list, such as a StatefulSet's
            ``volumeClaimTemplates``, is then never drift). Without a cluster, or when the dry run is refused,
            the prediction is made locally with :func:`reconcile.apiserver.fields.predict_apply`.
        workers: How many dry runs are sent at once (the cluster must be thread-safe).
        ignore_differences: The application's Argo CD ``ignoreDifferences`` rules, passed to every
            :func:`compare` (mappings are read into :class:`IgnoreRule` objects).
        settings: What every application shares (:class:`DiffSettings`): system-wide rules, known-type fields,
            sensitive annotations, aggregated roles, the mutation-webhook choice.
        share_live: The diffs keep the live objects passed in instead of copies (see :func:`compare`): for a
            caller that owns them and treats them as read-only. The Reconciler's default differ does, so the
            objects it keeps between passes are held once.
    """

    manager: str = "reconcile"
    server_side: bool = True
    workers: int = 16
    ignore_differences: tuple[IgnoreRule, ...] = attrs.field(default=(), converter=as_rules)
    settings: DiffSettings = _DEFAULTS
    share_live: bool = False
    # Server answers by (key, desired object, live resourceVersion): an unchanged pass sends no dry run.
    # Kept per ArgoDiffer and trimmed to the last pass, so it never outgrows one application.
    _predictions: dict[tuple[ResourceKey, str, str], Manifest | None] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    _versions: dict[int, str | None] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    # The last pass's comparisons by (cluster, key, desired object's text, live resourceVersion): an object that
    # changed on neither side is not compared again (a no-op pass of 10,000 objects compares none).
    _diffs: dict[tuple[Any, ...], ResourceDiff] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    # Digests of desired objects' JSON texts by identity (the Reconciler keeps its targets from pass to pass).
    _texts: dict[int, tuple[Manifest, str]] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    # The last pass's comparison per key, with the desired object (by identity), the live resourceVersion and the
    # memo key it was made under: a pass over unchanged objects reuses them without computing a memo key.
    _last: dict[ResourceKey, _Last] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    # Whether a desired object asks for a local prediction (``ServerSideDiff=false``), by identity.
    _local_only: dict[int, tuple[Manifest, bool]] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def diff(
        self,
        targets: Sequence[Resource],
        live: Mapping[ResourceKey, Manifest],
        *,
        cluster: Cluster | None = None,
        stored: Mapping[ResourceKey, Manifest] | None = None,
    ) -> DiffResult:
        """Compare every target with its live object, and report live objects no target names.

        Args:
            targets: The desired objects (rendered, namespaces filled in).
            live: The live objects the application owns or targets, by key.
            cluster: The cluster the live objects come from, for server-side predictions.
            stored: Objects as the server stored them when these very targets were just applied (a sync's
                answers); while the live resourceVersion is the stored one, they are the prediction, with no
                dry run.

        Returns:
            One diff per target, plus one per live object without a target (``requires_pruning``), by key.

        Raises:
            DiffError: Two targets name the same object, or a comparison failed.
        """
        seen: set[ResourceKey] = set()
        for target in targets:
            if target.key in seen:
                raise DiffError(f"{target.where()} is a target twice", key=target.key)
            seen.add(target.key)
        reused = self._reusable(targets, live, cluster)
        fresh = [target for target in targets if target.key not in reused] if reused else list(targets)
        predictions: dict[tuple[ResourceKey, str, str], Manifest | None] = {}
        texts: dict[int, tuple[Manifest, str]] = {}
        compared = self._compare_fresh(fresh, live, cluster, stored, predictions=predictions, texts=texts)
        made = {target.key: found for target, (_, found) in zip(fresh, compared, strict=True)}
        diffs = [reused[t.key][4] if t.key in reused else made[t.key] for t in targets]
        diffs += [
            compare(None, obj, manager=self.manager, settings=self.settings)
            for key, obj in live.items()
            if key not in seen
        ]
        self._remember(targets, reused, list(zip(fresh, compared, strict=True)), predictions, texts)
        return DiffResult(diffs)

    def update(
        self,
        diff: DiffResult,
        targets: Sequence[Resource],
        live: Mapping[ResourceKey, Manifest],
        changed: Collection[ResourceKey],
        *,
        cluster: Cluster | None = None,
        stored: Mapping[ResourceKey, Manifest] | None = None,
    ) -> DiffResult:
        """``diff``, made by this differ, with the targets of ``changed`` compared again on ``live``.

        For a caller that knows nothing else moved since ``diff`` was made: after a sync that wrote one object of
        10,000, whose resourceVersions say nobody else wrote, one object is compared, not 10,000. The others'
        comparisons and what this differ keeps of them for the next pass stay as they are. When a key of
        ``changed`` is not a target or not live, everything is compared again (:meth:`diff`).
        """
        chosen = [target for target in targets if target.key in changed]
        if len(chosen) != len(set(changed)) or any(key not in live for key in changed):
            return self.diff(targets, live, cluster=cluster, stored=stored)
        predictions: dict[tuple[ResourceKey, str, str], Manifest | None] = {}
        texts: dict[int, tuple[Manifest, str]] = {}
        compared = self._compare_fresh(chosen, live, cluster, stored, predictions=predictions, texts=texts)
        made: dict[ResourceKey, ResourceDiff] = {}
        for target, (memo, found) in zip(chosen, compared, strict=True):
            made[target.key] = found
            self._forget(target.key)
            if memo is not None:
                self._last[target.key] = (memo[0], target.manifest, memo[3], memo, found)
                self._diffs[memo] = found
        self._predictions.update(predictions)
        self._texts.update(texts)
        return DiffResult([made.get(d.key, d) for d in diff.resources])

    def _forget(self, key: ResourceKey) -> None:
        """Drop what this differ keeps of ``key``'s last comparison (its desired object's text stays)."""
        old = self._last.pop(key, None)
        if old is None:
            return
        self._diffs.pop(old[3], None)
        text = self._texts.get(id(old[1]))
        if text is not None:
            self._predictions.pop((key, text[1], old[2]), None)

    def _compare_fresh(
        self,
        fresh: Sequence[Resource],
        live: Mapping[ResourceKey, Manifest],
        cluster: Cluster | None,
        stored: Mapping[ResourceKey, Manifest] | None,
        *,
        predictions: dict[tuple[ResourceKey, str, str], Manifest | None],
        texts: dict[int, tuple[Manifest, str]],
    ) -> list[tuple[tuple[Any, ...] | None, ResourceDiff]]:
        """Each of ``fresh`` compared, predicted by a sync's answer, a kept or new dry run, or locally.

        The predictions and desired texts used are added to ``predictions`` and ``texts``.
        """

        def text_of(target: Resource) -> str:
            known = self._texts.get(id(target.manifest)) or texts.get(id(target.manifest))
            if known is not None and known[0] is target.manifest:
                texts[id(target.manifest)] = known
                return known[1]
            # A digest of the JSON text stands for it in the memo keys: 16 bytes kept per object, not the text.
            text = hashlib.blake2b(
                json.dumps(target.manifest, sort_keys=True, default=str).encode(), digest_size=16
            ).hexdigest()
            texts[id(target.manifest)] = (target.manifest, text)
            return text

        def predict(target: Resource) -> tuple[Manifest | None, Manifest | None]:
            """The prediction for ``target`` and the live object it was made on."""
            answer = (stored or {}).get(target.key)
            current = live.get(target.key)
            if answer is not None and current is not None and _version(answer) == _version(current):
                # The stored object at this resourceVersion is the live one: kept once, not as a second copy.
                predictions[(target.key, text_of(target), _version(current))] = current
                return current, current
            answer = self._predict(cluster, target, current, predictions, text_of(target))
            if answer is not None and current is not None and _version(answer) != _version(current):
                # The object changed between the list and the dry run (a controller wrote it): compare the answer
                # with the object it was made on, not with older live state.
                moved = cluster.get(target.key) if cluster is not None else None
                if moved is None or _version(moved) != _version(answer):
                    return None, moved  # still moving: predict locally on the freshest read
                return answer, moved
            return answer, current

        def known(target: Resource) -> bool:
            """Whether ``target``'s prediction needs no request: stored by a sync, cached, or made locally."""
            current = live.get(target.key)
            if current is None or not self._predicts_on_server(cluster, target):
                return True
            answer = (stored or {}).get(target.key)
            if answer is not None and _version(answer) == _version(current):
                return True
            return (target.key, text_of(target), _version(current)) in self._predictions

        # Only dry runs go to the pool: a pass that changed nothing sends none and starts no thread.
        asking = [target for target in fresh if not known(target)]
        answered: dict[ResourceKey, tuple[Manifest | None, Manifest | None]] = {}
        if len(asking) > 1:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="reconcile-diff") as pool:
                answered = dict(zip((t.key for t in asking), pool.map(predict, asking), strict=True))
        answers = [answered[t.key] if t.key in answered else predict(t) for t in fresh]
        # A local prediction takes the defaults of the cluster's release: read it only when one is made.
        kube_version = self._kube_version(cluster) if any(p is None for p, _ in answers) else None
        return self._compare_all(cluster, fresh, answers, kube_version, text_of)

    def _reusable(
        self, targets: Sequence[Resource], live: Mapping[ResourceKey, Manifest], cluster: Cluster | None
    ) -> dict[ResourceKey, _Last]:
        """The last pass's comparisons that still hold: the same desired object, the same live resourceVersion."""
        reused: dict[ResourceKey, _Last] = {}
        for target in targets:
            last = self._last.get(target.key)
            if last is not None and last[1] is target.manifest and last[0] == id(cluster):
                current = live.get(target.key)
                if current is not None and last[2] == _version(current):
                    reused[target.key] = last
        return reused

    def _remember(
        self,
        targets: Sequence[Resource],
        reused: Mapping[ResourceKey, _Last],
        compared: Sequence[tuple[Resource, tuple[tuple[Any, ...] | None, ResourceDiff]]],
        predictions: dict[tuple[ResourceKey, str, str], Manifest | None],
        texts: dict[int, tuple[Manifest, str]],
    ) -> None:
        """Keep this pass's comparisons, predictions and texts for the next pass, and nothing older."""
        last = dict(reused)
        for target, (memo, found) in compared:
            if memo is not None:
                last[target.key] = (memo[0], target.manifest, memo[3], memo, found)
        for key, entry in reused.items():
            # Carried as they were: a new render of the same text finds its comparison and its dry-run answer.
            text = self._texts.get(id(entry[1]))
            if text is not None:
                texts[id(entry[1])] = text
                asked = (key, text[1], entry[2])
                if asked in self._predictions:
                    predictions[asked] = self._predictions[asked]
        self._last.clear()
        self._last.update(last)
        self._diffs.clear()
        self._diffs.update((entry[3], entry[4]) for entry in last.values())
        self._predictions.clear()
        self._predictions.update(predictions)
        self._texts.clear()
        self._texts.update(texts)
        kept = {id(target.manifest) for target in targets}
        for stale in [identity for identity in self._local_only if identity not in kept]:
            del self._local_only[stale]

    def _compare_all(
        self,
        cluster: Cluster | None,
        targets: Sequence[Resource],
        answers: Sequence[tuple[Manifest | None, Manifest | None]],
        kube_version: str | None,
        text_of: Callable[[Resource], str],
    ) -> list[tuple[tuple[Any, ...] | None, ResourceDiff]]:
        """Each target's comparison with its memo key (``None`` for one that is not kept for the next pass)."""
        compared: list[tuple[tuple[Any, ...] | None, ResourceDiff]] = []
        for target, (predicted, current) in zip(targets, answers, strict=True):
            version = _version(current) if current is not None else ""
            # Only a comparison made on the prediction it was meant to have is kept: one made locally because a
            # dry run failed for a moment is made again next pass.
            intended = predicted is not None or not self._predicts_on_server(cluster, target)
            memo = (id(cluster), target.key, text_of(target), version) if version and intended else None
            found = self._diffs.get(memo) if memo is not None else None
            if found is None:
                found = compare(
                    target.manifest,
                    current,
                    predicted_live=predicted,
                    manager=self.manager,
                    ignore_differences=self.ignore_differences,
                    settings=self.settings,
                    kube_version=kube_version,
                    share_live=self.share_live,
                )
                if predicted is not None and current is not None and _version(predicted) == _version(current):
                    found = attrs.evolve(found, dry_run_by=self.manager)
            compared.append((memo, found))
        return compared

    def _predicts_on_server(self, cluster: Cluster | None, target: Resource) -> bool:
        """Whether ``target`` is meant to be predicted by a server's dry run."""
        if cluster is None or not self.server_side:
            return False
        known = self._local_only.get(id(target.manifest))
        if known is None or known[0] is not target.manifest:
            known = (target.manifest, has_option(target.manifest, "ServerSideDiff=false", COMPARE_OPTIONS))
            self._local_only[id(target.manifest)] = known
        return not known[1]

    def _kube_version(self, cluster: Cluster | None) -> str | None:
        """The cluster's release, read once per cluster (``None``: no cluster, or it would not say)."""
        if cluster is None:
            return None
        if id(cluster) not in self._versions:
            try:
                self._versions[id(cluster)] = cluster.capabilities().kube_version or None
            except ClusterError:
                return None  # asked again next pass; meanwhile the newest release's defaults
        return self._versions[id(cluster)]

    def _predict(
        self,
        cluster: Cluster | None,
        target: Resource,
        live: Manifest | None,
        predictions: dict[tuple[ResourceKey, str, str], Manifest | None],
        text: str,
    ) -> Manifest | None:
        """The server's dry-run answer for ``target``, or ``None`` to predict locally."""
        if cluster is None or live is None or not self._predicts_on_server(cluster, target):
            return None  # no server, nothing live yet, or the object asks for a local prediction
        cache_key = (target.key, text, _version(live))
        if cache_key in self._predictions:
            predictions[cache_key] = self._predictions[cache_key]
            return predictions[cache_key]
        try:
            answer = cluster.apply(target.manifest, field_manager=self.manager, force=True, dry_run=True)
        except ClusterError:
            # Refused (invalid, kind not served yet): the local prediction still shows the difference, and the
            # sync's own dry run reports the refusal.
            answer = None
        predictions[cache_key] = answer
        return answer


def _schema_of(kube_version: str | None) -> APISchema:
    """The modelled release nearest to ``kube_version`` (the newest when unknown or unreadable)."""
    if not kube_version:
        return APISchema.for_version()
    try:
        wanted = KubeVersion.parse(kube_version)
    except ConfigurationError:
        return APISchema.for_version()
    supported = supported_versions()
    nearest = min(max(wanted, supported[0]), supported[-1])
    return APISchema.for_version(nearest)


def _aggregated_role(key: ResourceKey, desired: Manifest | None, live: Manifest | None) -> bool:
    if key.group_kind != GroupKind("rbac.authorization.k8s.io", "ClusterRole"):
        return False
    return any(obj is not None and obj.get("aggregationRule") is not None for obj in (desired, live))


def _version(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _prepare(desired: Manifest | None, live: Manifest | None) -> Manifest | None:
    if desired is None:
        return None
    prepared = prepare_desired(desired)
    if live is None:
        return prepared
    want, have = ResourceKey.from_manifest(prepared), ResourceKey.from_manifest(live)
    if want.namespace != have.namespace:
        info = APISchema.for_version().kinds.get(want.group_kind)
        if not want.namespace:
            # An apply to the live object's namespace gives it that namespace.
            prepared["metadata"] = {**(prepared.get("metadata") or {}), "namespace": have.namespace}
            want = want.with_namespace(have.namespace)
        elif not have.namespace and info is not None and not info.namespaced:
            # The server ignores a namespace on a cluster-scoped object.
            prepared["metadata"].pop("namespace")
            want = want.with_namespace("")
    if want != have:
        raise DiffError(f"cannot compare {want} with a different live object {have}", key=want)
    return prepared


def _schema_keys(group_kind: GroupKind) -> ListKeys:
    def keys(path: tuple[str, ...]) -> tuple[str, ...]:
        found = list_type(group_kind, path)
        return found.keys if found.kind == "map" else ()

    return keys


def _first(*objects: Manifest | None) -> Manifest:
    for obj in objects:
        if obj is not None:
            return obj
    raise DiffError("nothing to compare")
