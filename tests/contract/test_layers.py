"""The package's layers, read from its source: no module imports a module that imports it back,
no import cycle at all among the package's modules (function-level imports included), and the
public packages do not import each other's private modules."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "ebm_numpyro"


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """``{module: {modules it imports}}`` (relative and absolute imports of ``ebm_numpyro``)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                names = [a.name for a in node.names if f"{target}.{a.name}" not in modules]
                targets = submodules + ([target] if names else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    pairs = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph[b]})
    assert not pairs, pairs


def test_no_import_cycles():
    """Tarjan's strongly connected components of the import graph, ignoring a package's
    ``__init__`` re-exporting its own submodules (that is the package's face, not a layer)."""
    graph = import_graph()
    edges = {a: {b for b in bs if not (b.startswith(a + ".") and (ROOT.parent / a.replace(".", "/")).is_dir())}
             for a, bs in graph.items()}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    assert not cycles, cycles


@pytest.mark.parametrize("private", ["models._base", "kernels._lattice", "kernels._random", "models._enumeration"])
def test_no_cross_package_private_imports(private):
    """Only a module's own package reaches its private modules."""
    graph = import_graph()
    target = f"ebm_numpyro.{private}"
    owner = target.rsplit(".", 1)[0]
    users = [m for m, deps in graph.items() if target in deps and not m.startswith(owner)]
    assert not users, users
