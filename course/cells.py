"""Which code cells the hardened grader runs: every cell a student wrote or changed, and none
of the course's demonstrations (plots, experiments, printouts) that the student left as they
were, since grading never needs them.  Standard library only: the worker imports it.
"""

from __future__ import annotations

import symtable
from typing import Callable

from course import files

# Calls that change a global setting: a cell making one is never a mere demonstration.
SETTINGS = ("set_default_dtype", "set_default_device", "set_grad_enabled", "use_deterministic_algorithms",
            "set_num_threads", "set_printoptions")


def names(source: str) -> tuple[set[str], set[str]]:
    """The global names a cell binds, and the global names it reads, function bodies included
    (a function's parameters and locals are not reads of globals: Python's own symbol tables
    tell them apart)."""
    table = symtable.symtable(source, "<cell>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    read = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    scopes = list(table.get_children())
    while scopes:
        scope = scopes.pop()
        read |= {s.get_name() for s in scope.get_symbols() if s.is_global() and s.is_referenced()}
        scopes += scope.get_children()
    return bound, read


def demonstrations(blocks: list[str]) -> list[int]:
    """The code blocks of the prose that only demonstrate (plots, experiments, printouts): they
    bind no name that a block which is not a demonstration reads, and change no global setting.
    The hardened grader skips them when a student left them unchanged: grading never needs them."""
    found: list[int] = []
    needed: set[str] = set()
    for index in range(len(blocks) - 1, -1, -1):
        bound, read = names(blocks[index])
        if index > 0 and not bound & needed and not any(setting in blocks[index] for setting in SETTINGS):
            found.append(index)
        else:
            needed |= read
    return sorted(found)


def digest(source: str) -> str:
    """How the plan names a demonstration cell (``Plan["demonstrations"]``): the build and the
    graders must agree on it byte for byte."""
    return files.sha256(source.encode())


def runnable(cells: list[tuple[int, str]], skippable: set[str],
             as_python: Callable[[str], str] = lambda source: source) -> list[tuple[int, str]]:
    """The cells to run: all but the course's demonstrations left unchanged (``skippable`` holds
    their ``digest``), unless a cell that runs reads a name one of them binds.  ``as_python``: the
    Python a cell runs as (Jupyter's magics are not Python)."""
    skip = [digest(source) in skippable for _, source in cells]
    try:
        parsed = [names(as_python(source)) for _, source in cells]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return cells  # a cell Python cannot even parse: run everything, as written
    needed = set().union(*(read for (bound, read), skipped in zip(parsed, skip) if not skipped))
    changed = True
    while changed:
        changed = False
        for i, ((bound, read), skipped) in enumerate(zip(parsed, skip)):
            if skipped and bound & needed:
                skip[i], changed = False, True
                needed |= read
    return [cell for cell, skipped in zip(cells, skip) if not skipped]
