"""The layering rule of docs/architecture.md, checked on the source (issue 12).

Three layers, every import pointing down:

* the root (``aduan/``) wires every part; nothing imports it;
* the parts (``connectors/ tickets/ handoff/ reports/ lending/``) build on the core;
* the core (``desk/``, ``storage/``) never imports a part.

No project module is imported inside a function (that is how cycles used to be
hidden), and no project package loads code by name (``importlib``,
``__import__``): code that ships is imported plainly. Imports under
``if TYPE_CHECKING:`` are for the type checker only and are not counted.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOT = ("aduan",)
PARTS = ("connectors", "tickets", "handoff", "reports", "lending")
CORE = ("desk", "storage")
PROJECT = ROOT + PARTS + CORE


@dataclass(frozen=True)
class Import:
    module: str      # the importing module, dotted
    target: str      # the imported module, dotted (absolute)
    line: int
    in_function: bool


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _walk(node: ast.AST, in_function: bool, type_only: bool):  # type: ignore[no-untyped-def]
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk_stmt(stmt, in_function, True)
            for stmt in child.orelse:
                yield from _walk_stmt(stmt, in_function, type_only)
            continue
        yield from _walk_stmt(child, in_function, type_only)


def _walk_stmt(node: ast.AST, in_function: bool, type_only: bool):  # type: ignore[no-untyped-def]
    yield node, in_function, type_only
    nested = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    yield from _walk(node, nested, type_only)


def _sources() -> list[Path]:
    files: list[Path] = []
    for package in PROJECT:
        files += sorted((REPO / package).rglob("*.py"))
    return [f for f in files if ".venv" not in f.parts]


def _scan() -> tuple[list[Import], list[str]]:
    imports: list[Import] = []
    dynamic: list[str] = []
    for path in _sources():
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function, type_only in _walk(tree, False, False):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _top(alias.name) == "importlib":
                        dynamic.append(f"{where} imports importlib")
                    if not type_only:
                        imports.append(Import(module, alias.name, node.lineno, in_function))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path.name == "__init__.py", node)
                if _top(target) == "importlib":
                    dynamic.append(f"{where} imports from importlib")
                if not type_only:
                    imports.append(Import(module, target, node.lineno, in_function))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                dynamic.append(f"{where} calls __import__")
    return imports, dynamic


IMPORTS, DYNAMIC = _scan()


def _fmt(found: list[Import]) -> str:
    return "\n".join(f"  {i.module}:{i.line} imports {i.target}" for i in found)


def test_the_scan_sees_every_package() -> None:
    """A typo in the package lists would make every other test pass vacuously."""
    seen = {_top(i.module) for i in IMPORTS}
    assert set(PROJECT) <= seen


def test_the_core_never_imports_a_part() -> None:
    found = [i for i in IMPORTS if _top(i.module) in CORE and _top(i.target) in PARTS]
    assert not found, "core modules import parts:\n" + _fmt(found)


def test_nothing_imports_the_root() -> None:
    found = [i for i in IMPORTS if _top(i.module) not in ROOT and _top(i.target) in ROOT]
    assert not found, "modules outside the root import it:\n" + _fmt(found)


def test_the_core_and_parts_never_import_the_old_root_modules() -> None:
    """The root moved out of ``desk/``; the old modules must not come back as a back door."""
    old = {"desk.app", "desk.cli", "desk.commands", "desk.demo", "storage.registry"}
    found = [i for i in IMPORTS if i.target in old or any(i.target.startswith(o + ".") for o in old)]
    assert not found, "imports of the old root modules:\n" + _fmt(found)


def test_no_project_module_is_imported_inside_a_function() -> None:
    found = [i for i in IMPORTS if i.in_function and _top(i.target) in PROJECT]
    assert not found, "imports of project modules inside functions (lift them; break the cycle):\n" + _fmt(found)


def test_no_code_is_loaded_by_name() -> None:
    assert not DYNAMIC, "importlib / __import__ in project packages:\n" + "\n".join(DYNAMIC)


@pytest.mark.parametrize("source, expect", [
    ("def f():\n    from desk import router\n", True),
    ("from desk import router\n", False),
    ("async def f():\n    import tickets.context\n", True),
])
def test_the_scan_tells_function_imports_apart(tmp_path: Path, source: str, expect: bool) -> None:
    """The walker itself: an import nested in a function is flagged, a top-level one is not."""
    tree = ast.parse(source)
    flags = [in_fn for node, in_fn, _ in _walk(tree, False, False) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert flags == [expect]
