"""House rules of the kernel: every module can be read in one sitting, and no import runs in a circle
(a circle means the modules are one concern split by accident, and its import order breaks)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
KERNEL = ROOT / "maze_core"

#: modules allowed past MAX_LINES, with the reason
LONG_MODULES: dict[str, str] = {
    "maze_core.run_dir": "every read, write, lock and removal of a run's files in one place, so that "
    "the safety rules of docs/run-directories.md are kept (and audited) together",
    "maze_core.run_context": "the facade users read first: RunContext's public methods with their "
    "docstrings; resolving arguments and loading runs live in run_setup.py and run_config.py",
}
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The maze_core modules ``path`` imports, at its top or inside functions (a lazy import in a
    circle is a circle all the same), but not those imported for type checking only."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    type_checking = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base])
            found.add(base.strip("."))
            found |= {f"{base}.{alias.name}".strip(".") for alias in node.names}
    return {name for name in found if name.startswith("maze_core")}


def kernel_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(KERNEL.rglob("*.py"))}


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = {
        name: len(path.read_text().splitlines())
        for name, path in kernel_modules().items()
        if len(path.read_text().splitlines()) > MAX_LINES and name not in LONG_MODULES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them, or say why in LONG_MODULES): {long}"


def test_no_import_runs_in_a_circle():
    modules = kernel_modules()
    graph = {
        name: {imported for imported in imports(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }
    circles = []
    state: dict[str, str] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                circles.append(" -> ".join([*stack[stack.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*stack, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # a package importing its own submodules (maze_core.env -> maze_core.env.vector) is how
    # packages re-export; a circle through a package's __init__ alone is not counted
    circles = [circle for circle in circles if not _through_own_package(circle)]
    assert not circles, "import circles:\n" + "\n".join(circles)


def _through_own_package(circle: str) -> bool:
    names = circle.split(" -> ")
    return any(b.startswith(a + ".") for a, b in zip(names, names[1:], strict=False))
