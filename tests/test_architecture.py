"""The house's rules about imports, checked on the source: no circle, and no reaching into a sibling's privates.

Imports are read from each module's top level, ``if TYPE_CHECKING:`` blocks included (a circle of type hints is a
circle all the same); imports inside functions are the deliberate lazy ones (a slow client, the test helpers).
Importing ``a.b.c`` also runs ``a`` and ``a.b``, so those count as imported too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import reconcile

SRC = Path(reconcile.__file__).parent.parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "reconcile").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If | ast.Try):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)
        else:
            yield node


def _owner(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str, *, lazy: bool = False) -> set[str]:
    """The library modules ``module`` imports at its top level, or anywhere with ``lazy`` (the submodule itself
    where one is named)."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree) if lazy else _top_level(tree.body):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("reconcile"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                found.add(target if target in MODULES else _owner(node.module or ""))
        elif isinstance(node, ast.Import):
            found |= {_owner(alias.name) for alias in node.names if alias.name.startswith("reconcile")}
    return {name for name in found if name and name != module}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        edges = _imports(module)
        for target in list(edges):  # importing a.b.c runs the packages a and a.b first
            parts = target.split(".")
            edges |= {".".join(parts[:i]) for i in range(1, len(parts)) if not module.startswith(".".join(parts[:i]))}
        graph[module] = {target for target in edges if target in MODULES and target != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, children_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children_of_root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_goes_in_a_circle():
    graph = _graph()
    assert "reconcile.protocols" in graph["reconcile.reconciler"]  # the graph sees real edges
    assert _cycles(graph) == []


def test_no_module_imports_a_sibling_packages_private_module():
    wrong = []
    for module in MODULES:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for target in _imports(module, lazy=True):  # a lazy import reaches into a sibling all the same
            parts = target.split(".")
            private = next((i for i, part in enumerate(parts) if part.startswith("_") and part != "__main__"), None)
            if private is None:
                continue
            owner = ".".join(parts[:private])
            # A top-level module is a part of its own: the root's private modules are the root package's alone.
            root_private = owner == "reconcile" and module != "reconcile"
            if root_private or (package != owner and not package.startswith(owner + ".")):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_each_third_party_library_has_its_adapters():
    """One adapter per library; pygit2 has two: the Git source reads, the test helper writes commits."""
    adapters = {
        "lupa": {"reconcile.health._lua_sandbox"},
        "pygit2": {"reconcile.sources._git", "reconcile.testing._repository"},
        "kubernetes": {"reconcile.cluster._kubernetes"},
        "urllib3": {"reconcile.cluster._kubernetes"},
        "yaml": {"reconcile.cluster._kubernetes"},  # only to map the kubeconfig parser's errors
        "ruamel": {"reconcile.manifests"},
        "jsonpointer": {"reconcile.diff._changes"},
        "cel_expr_python": {"reconcile.apiserver._cel"},
        "oras": {"reconcile.sources._oci"},
        "requests": {"reconcile.sources._oci"},  # what oras is built on
    }
    for library, allowed in adapters.items():
        users = set()
        for module, path in MODULES.items():
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and node.level == 0
                    else []
                )
                if any(name == library or name.startswith(library + ".") for name in names):
                    users.add(module)
        assert users == allowed, library
