"""No module reaches into another module's private names: a `_name` is used only in the module that defines it
(imports `from aum.x import _name`, and attributes `obj._name` of anything but `self` / `cls` / `super()`). What
another module needs is public and documented where it is defined."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aum"


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def defined_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def foreign_private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    own, found = defined_names(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aum"):
            found += [f"from {node.module} import {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super":
                continue
            found.append(ast.unparse(node))
    return [f"{path.relative_to(SRC.parent)}:{use}" for use in found]


def test_no_module_uses_a_private_name_of_another():
    uses = [use for path in sorted(SRC.rglob("*.py")) for use in foreign_private_uses(path)]
    assert not uses, "private names used across modules: " + "; ".join(uses)
