"""The package's shape stays readable: no import circle, imports one way (ruff's C901 keeps
functions simple; modules are sized by their idea, not by a line cap).

These read the source (every `import`, also those inside functions and under
TYPE_CHECKING), not the running interpreter, so a lazy import that closes a
circle is caught as well as a top-level one.
"""

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spacy_mtl"

# The layers, lowest first: a module may import its own layer and the ones below.
LAYERS = [
    ("ml",),
    ("pipeline",),
    ("training",),
    (
        "convert",
        "annotate",
        "serve",
        "distill",
        "evaluate",
        "debug_data",
        "calibrate",
        "update",
        "vectors",
        "augment",
    ),
    # The command line, over the commands' libraries.
    ("cli", "__main__"),
]


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path = PACKAGE) -> Dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported_modules(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """The package's modules that `name` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(name, is_package, node)
            # `from pkg import sub` reaches the submodule; `from pkg import name`, pkg itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import a.b.c` and `from a.b import c` reach the longest name that is a module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _resolve_from(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = name.split(".")
    if not is_package:
        parts.pop()
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def import_graph(root: Path = PACKAGE) -> Dict[str, Set[str]]:
    modules = package_modules(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def reachable(graph: Dict[str, Set[str]], start: str) -> Set[str]:
    """The modules that `start` reaches through one import or more."""
    seen: Set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def find_circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The groups of modules that reach each other (strongly connected, two or more)."""
    reach = {node: reachable(graph, node) for node in graph}
    circles: List[List[str]] = []
    placed: Set[str] = set()
    for node in sorted(graph):
        group = sorted({node} | {other for other in reach[node] if node in reach.get(other, ())})
        if len(group) > 1 and node not in placed:
            circles.append(group)
            placed.update(group)
    return circles


def layer_of(name: str) -> int:
    """The layer of a module; -1 for the foundations every layer may use."""
    first = name.split(".")[1] if "." in name else ""
    for level, members in enumerate(LAYERS):
        if first in members:
            return level
    return -1


def test_the_package_has_no_import_circle():
    circles = find_circles(import_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_imports_run_one_way():
    wrong = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "graph,expected",
    [
        ({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}, [["p.a", "p.b", "p.c"]]),
        ({"p.a": {"p.b"}, "p.b": set(), "p.c": {"p.b"}}, []),
    ],
)
def test_find_circles_finds_a_circle_and_only_one(graph, expected):
    assert find_circles(graph) == expected


def test_a_lazy_relative_import_counts(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "a.py").write_text("from .sub.b import f\n")
    (root / "sub" / "b.py").write_text("def f():\n    from ..a import g\n    from .. import a\n")
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert find_circles(graph) == [["pkg.a", "pkg.sub.b"]]
