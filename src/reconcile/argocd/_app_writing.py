"""Writing Applications back: the parts of a manifest that are not kept verbatim, in Argo CD's spelling."""

from __future__ import annotations

from reconcile.diff import IgnoreRule
from reconcile.model import Manifest
from reconcile.reconciler import SyncPolicy


def _policy_manifest(policy: SyncPolicy) -> Manifest:
    out: Manifest = {}
    automated = {"prune": policy.prune, "selfHeal": policy.self_heal, "allowEmpty": policy.allow_empty}
    automated = {key: value for key, value in automated.items() if value}
    if policy.automated:
        out["automated"] = automated
    elif automated:
        out["automated"] = {"enabled": False, **automated}
    options = list(policy.sync_options)
    if options:
        out["syncOptions"] = options
    if policy.managed_namespace_metadata is not None:
        metadata = policy.managed_namespace_metadata
        out["managedNamespaceMetadata"] = {part: dict(entries) for part, entries in metadata.items()}
    if policy.retry is not None:
        retry = policy.retry
        out["retry"] = {
            "limit": retry.limit,
            "backoff": {
                "duration": _duration(retry.backoff),
                "factor": int(retry.factor) if retry.factor.is_integer() else retry.factor,
                "maxDuration": _duration(retry.max_backoff),
            },
        }
    return out


def _duration(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds}s"


def _rule_manifest(rule: IgnoreRule) -> Manifest:
    out: Manifest = {}
    if rule.group != "":  # an omitted group is the core group, as Argo CD reads it
        out["group"] = rule.group
    for key, value in (("kind", rule.kind), ("name", rule.name), ("namespace", rule.namespace)):
        if value != "*":
            out[key] = value
    lists = (
        ("jsonPointers", rule.json_pointers),
        ("jqPathExpressions", rule.jq_path_expressions),
        ("managedFieldsManagers", rule.managed_fields_managers),
    )
    out.update({key: list(values) for key, values in lists if values})
    return out
