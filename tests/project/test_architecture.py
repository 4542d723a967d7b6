"""The code's layout as a test: no import cycle between parts, no hidden imports in functions.

A part is a subpackage (`chorus.api`, `chorus.modes`, ...) or a top-level module
(`chorus.calls`, ...). Imports are read from the source (top-level statements, and those in
functions), so what the check sees is what runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import chorus

ROOT = Path(chorus.__file__).parent
LAZY_OK = "# lazy:"
"""A comment that says why a project import sits inside a function (an optional dependency,
or the CLI keeping `--help` fast)."""


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def part_of(module: str) -> str:
    """`chorus.api.chat` -> `chorus.api`; `chorus.calls` -> `chorus.calls`."""
    pieces = module.split(".")
    if len(pieces) >= 2 and (ROOT / pieces[1]).is_dir():
        return ".".join(pieces[:2])
    return ".".join(pieces[:2])


def project_imports(tree: ast.AST, module: str) -> Iterator[tuple[ast.stmt, str, bool]]:
    """(statement, imported module, inside a function) for every import of chorus code."""
    def walk(node: ast.AST, nested: bool) -> Iterator[tuple[ast.stmt, str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0 \
                    and child.module.split(".")[0] == "chorus":
                for alias in child.names:
                    target = f"{child.module}.{alias.name}"
                    found = target if (ROOT.parent / target.replace(".", "/")).exists() or (
                        ROOT.parent / f"{target.replace('.', '/')}.py").exists() else child.module
                    yield child, found, inner
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "chorus":
                        yield child, alias.name, inner
            yield from walk(child, inner)
    yield from walk(tree, False)


def test_no_import_cycle_between_parts() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in modules():
        for _, target, _ in project_imports(ast.parse(path.read_text()), name):
            source, goal = part_of(name), part_of(target)
            if source != goal and goal != "chorus":
                graph.setdefault(source, set()).add(goal)
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt):], nxt])
            elif len(trail) < 20:
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "import cycles between parts:\n" + "\n".join(
        " -> ".join(c) for c in cycles[:10])


def test_project_imports_inside_functions_say_why() -> None:
    unexplained = []
    for name, path in modules():
        lines = path.read_text().splitlines()
        for statement, target, nested in project_imports(ast.parse("\n".join(lines)), name):
            if not nested:
                continue
            before = lines[statement.lineno - 2] if statement.lineno >= 2 else ""
            if LAZY_OK not in lines[statement.lineno - 1] and LAZY_OK not in before:
                unexplained.append(f"{path.relative_to(ROOT.parent)}:{statement.lineno} "
                                   f"imports {target}")
    assert not unexplained, "project imports inside functions without a `# lazy:` reason:\n" \
        + "\n".join(unexplained)
