"""From an assignment's prose (Markdown) and reference solution to an Otter Assign master notebook.

The prose is ordinary Markdown, kept apart from code so that it diffs well and can be
translated file by file.  Fenced ```python blocks become code cells; three directives, each
an HTML comment on its own line, mark the graded parts:

    <!-- question q1 -->          opens question q1 (title and points come from questions.py)
    <!-- solution central_difference -->
                                  the reference function becomes the student's stub
    <!-- end question -->         closes it and adds the student's `grader.check("q1")` cell
                                  (when the question has public cases)
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from types import ModuleType
from typing import Any

import nbformat

from course import i18n

DIRECTIVE = re.compile(r"^<!--\s*(question|solution|end question)\s*(\S*)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")


Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _markdown(text: str) -> list[nbformat.NotebookNode]:
    text = text.strip("\n")
    return [nbformat.v4.new_markdown_cell(text)] if text.strip() else []


def _raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def stub_source(obj: Any, catalogue: i18n.Catalogue | None = None) -> str:
    """A function's signature and docstring (translated), its body as the solution, a raising
    stub as prompt.  A class is given as it is, except each method with a docstring: those are
    the student's, stubbed the same way (the class docstring is translated too)."""
    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    lines = source.splitlines()
    if not isinstance(node, Definition):
        raise TypeError(f"{obj!r} is not a function or a class")
    if not isinstance(node, ast.ClassDef):
        return "\n".join(_stubbed(lines, node, 0, len(lines), obj.__name__, catalogue))
    for child in reversed(node.body):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(child) is not None:
            end = child.end_lineno or child.lineno  # always set by ast.parse
            lines[child.lineno - 1: end] = _stubbed(lines, child, child.lineno - 1, end,
                                                    f"{obj.__name__}.{child.name}", catalogue)
    if ast.get_docstring(node) is not None:
        doc = node.body[0]
        lines[doc.lineno - 1: doc.end_lineno] = _docstring_lines(lines, node, catalogue)
    return "\n".join(lines)


def _docstring_lines(lines: list[str], node: Definition, catalogue: i18n.Catalogue | None) -> list[str]:
    """The lines of ``node``'s docstring, translated."""
    doc = node.body[0]
    original = lines[doc.lineno - 1: doc.end_lineno]
    if catalogue is None or catalogue.language == "en":
        return original
    indent = " " * doc.col_offset
    translated = catalogue.gettext(inspect.cleandoc(ast.get_docstring(node, clean=False) or "")).splitlines()
    opening = original[0].strip()
    prefix = opening[: opening.index('"')]  # r for docstrings with LaTeX backslashes
    return [f'{indent}{prefix}"""{translated[0]}', *[f"{indent}{line}".rstrip() for line in translated[1:]],
            f'{indent}"""']


def _stubbed(lines: list[str], node: Definition, start: int, end: int, name: str,
             catalogue: i18n.Catalogue | None) -> list[str]:
    """``lines[start:end]``, the definition of ``node``, with its body as the solution."""
    has_docstring = ast.get_docstring(node, clean=False) is not None
    first_body = node.body[1] if has_docstring else node.body[0]
    head, body = lines[start: first_body.lineno - 1], lines[first_body.lineno - 1: end]
    indent = " " * first_body.col_offset
    if has_docstring and catalogue is not None and catalogue.language != "en":
        head = lines[start: node.body[0].lineno - 1] + _docstring_lines(lines, node, catalogue)
    return [
        *head,
        f"{indent}# BEGIN SOLUTION NO PROMPT",
        *body,
        f"{indent}# END SOLUTION",
        f"{indent}# BEGIN PROMPT",
        f'{indent}raise NotImplementedError("{name}")',
        f"{indent}# END PROMPT",
    ]


def master_cells(prose: str, questions: dict[str, Any], reference: ModuleType,
                 catalogue: i18n.Catalogue) -> list[nbformat.NotebookNode]:
    """Cells of the master notebook, without the assignment config cell (``questions``: name ->
    ``spec.Question``)."""
    _ = catalogue.gettext
    cells: list[nbformat.NotebookNode] = []
    buffer: list[str] = []  # Markdown lines not yet in a cell
    code: list[str] | None = None  # the lines of the code block being read, if any
    open_question: str | None = None
    for number, line in enumerate(prose.splitlines(), 1):
        fence = FENCE.match(line)
        if code is not None:
            if fence:
                cells.append(nbformat.v4.new_code_cell(i18n.translate_code("\n".join(code), catalogue)))
                code = None
            else:
                code.append(line)
            continue
        if fence and fence.group(1) == "python":
            cells += _markdown("\n".join(buffer))
            buffer, code = [], []
            continue
        directive = DIRECTIVE.match(line)
        if not directive:
            buffer.append(line)
            continue
        cells += _markdown("\n".join(buffer))
        buffer = []
        kind, arg = directive.groups()
        if kind == "question":
            if open_question or arg not in questions:
                raise ValueError(f"line {number}: question {arg!r} is nested or not in questions.py")
            open_question = arg
            q = questions[arg]
            cells.append(_raw(f"# BEGIN QUESTION\nname: {q.name}\npoints: {q.points}"))
            cells += _markdown("#### " + _("Question {number} · {title} · {points} points").format(
                number=q.name.removeprefix("q"), title=_(q.title), points=f"{q.points:g}"))
        elif kind == "solution":
            cells += [_raw("# BEGIN SOLUTION"),
                      nbformat.v4.new_code_cell(stub_source(getattr(reference, arg), catalogue)),
                      _raw("# END SOLUTION")]
        else:
            if not open_question:
                raise ValueError(f"line {number}: end question without a question")
            cells.append(_raw("# END QUESTION"))
            if any(case.public for case in questions[open_question].cases):
                cells.append(nbformat.v4.new_code_cell(f'grader.check("{open_question}")'))
            else:
                cells += _markdown("*" + _("{name} has no public check: hidden tests grade it.").format(
                    name=open_question) + "*")
            open_question = None
    if code is not None or open_question:
        raise ValueError("the prose ends inside a code block or a question")
    return cells + _markdown("\n".join(buffer))
