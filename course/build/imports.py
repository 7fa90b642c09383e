"""The project's own import graph, read from the source (``ast``), lazy imports included: what
the autograder zip's engine must carry (``closure`` of its entry points), and what the layer
test checks (no cycle, no import from a lower layer to a higher one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # holds course/ and calc4ml_runtime/
PACKAGES = ("course", "calc4ml_runtime")


def module_file(name: str) -> Path:
    """``course.grade.judge`` -> its file (a package's ``__init__.py``)."""
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def modules() -> list[str]:
    """Every module of the project's packages."""
    found = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _is_module(name: str) -> bool:
    return module_file(name).exists()


def imports(name: str) -> set[str]:
    """The project modules ``name`` imports, anywhere in its body; ``from p import m`` counts as
    importing ``p.m`` when that is a module, else ``p``."""
    file = module_file(name)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
    return {m for m in found if m.split(".")[0] in PACKAGES and _is_module(m)} - {name}


def external(name: str) -> set[str]:
    """The top-level names of everything ``name`` imports from outside the project's packages."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module_file(name).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - set(PACKAGES)


def closure(entry_points: list[str]) -> list[str]:
    """The entry points, every project module they import, and the packages that hold them."""
    found: set[str] = set()
    todo = list(entry_points)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(imports(name))
    return sorted(found)
