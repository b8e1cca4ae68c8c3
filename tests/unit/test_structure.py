"""The code is cut by where it runs: the runtime package (`marketing`, what the Lambda layer carries)
never imports the tools package (`marketing_tools`: CLI, emulator, demo) nor what only the tools
install, and neither package has an import cycle (module-level or deferred imports alike)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"marketing": ROOT / "layers" / "marketing" / "python" / "marketing",
            "marketing_tools": ROOT / "tools" / "marketing_tools"}
TOOLS_ONLY = {"marketing_tools", "moto", "typer", "rich", "subprocess", "statsmodels", "numpy", "scipy", "pandas"}


def _module_name(package: str, path: Path) -> str:
    parts = [package, *path.relative_to(PACKAGES[package]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {_module_name(package, path): path
            for package, base in PACKAGES.items() for path in sorted(base.rglob("*.py"))}


def imports(path: Path, name: str) -> set[str]:
    """Every module `path` imports, anywhere in the file (a deferred import is still a dependency)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported in imports(path, name):
            while imported and imported not in known:   # a name inside a module → that module
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)   # a module's own enclosing packages are not edges
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_runtime_never_imports_the_tools_or_what_only_they_install():
    offending = {}
    for name, path in modules().items():
        if not name.startswith("marketing."):
            continue
        reached = {i for i in imports(path, name) if i.split(".")[0] in TOOLS_ONLY}
        if reached:
            offending[name] = sorted(reached)
    assert offending == {}


def test_neither_package_has_an_import_cycle():
    assert cycles(graph()) == []


def test_the_graph_sees_the_imports_it_checks():
    """The checks above would pass on an empty graph: the graph holds the edges the code has."""
    edges = graph()
    assert "marketing.app.decide" in edges["marketing.app.wiring"]
    assert "marketing_tools.emulator.handlers" in edges["marketing_tools.emulator.runtime"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_runtime_module_importing_a_tool_is_found(tmp_path, monkeypatch):
    fake = tmp_path / "marketing"
    (fake / "app").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "app" / "__init__.py").write_text("")
    (fake / "app" / "sneaky.py").write_text("def later():\n    from marketing_tools.cli.target import console\n")
    monkeypatch.setitem(PACKAGES, "marketing", fake)
    reached = imports(fake / "app" / "sneaky.py", "marketing.app.sneaky")
    assert "marketing_tools.cli.target" in reached
