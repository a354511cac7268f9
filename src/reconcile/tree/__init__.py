"""The resource tree: an application's objects, the live objects they own, their health and their events.

:meth:`reconcile.Reconciler.tree` builds one (and ``Reconciler(resource_tree=True)`` puts one on every pass's
result); ``reconcile app tree`` draws it in a terminal, and a notebook shows it as a picture like Argo CD's tree
view. :class:`TreeBuilder` builds one from any cluster and list of managed objects, for hosts with their own loop.
"""

from reconcile.tree._build import CHILD_KINDS, EVENTS_PER_NODE, TreeBuilder
from reconcile.tree._model import KubeEvent, ResourceTree, TreeNode

__all__ = ["CHILD_KINDS", "EVENTS_PER_NODE", "KubeEvent", "ResourceTree", "TreeBuilder", "TreeNode"]
