"""Each graded function's source as the submitted notebook last defines it, kept on the result
(``Result.code``) for the instructor's similarity check (``course.outputs.similarity``), which
compares them across the class after grading.  Read with ``ast`` only: nothing is run."""

from __future__ import annotations

import ast
import json

MAX_SOURCE = 20_000  # characters kept per function: far above any honest answer


def functions_of(cells: list[str], names: set[str]) -> dict[str, str]:
    """The source of each top-level function in ``names`` as the notebook last defines it."""
    found: dict[str, str] = {}
    for cell in cells:
        try:
            tree = ast.parse(cell)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # IPython syntax or a broken cell: nothing to compare there
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                found[node.name] = (ast.get_source_segment(cell, node) or "")[:MAX_SOURCE]
    return found


def notebook_functions(notebook: bytes, names: set[str]) -> dict[str, str]:
    """``functions_of`` a notebook's code cells; nothing from a notebook that cannot be read."""
    try:
        cells = json.loads(notebook)["cells"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                   for c in cells if c.get("cell_type") == "code"]
        return functions_of([s for s in sources if isinstance(s, str)], names)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}
