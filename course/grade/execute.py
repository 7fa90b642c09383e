"""Run a notebook's code cells the way Jupyter runs them, in the student process.

A student's notebook is written for Jupyter: ``%matplotlib inline``, ``%time H = f(x)``,
``torch.linalg.solve?``, ``!pip install tqdm``, ``display(...)`` without an import, nbconvert's
``get_ipython().run_line_magic(...)``, and functions that ``inspect.getsource`` or
``torch.jit.script`` read back.  A bare ``exec`` loses all of these (a SyntaxError drops the
whole cell; a NameError on ``get_ipython`` drops the imports under it), and a grader that takes
points from honest work for that is wrong.  So every cell goes through IPython's own input
transformer (``TransformerManager``, the one Jupyter uses), its source is registered in
``linecache`` under an IPython-like file name (as Jupyter does, so source look-ups and
tracebacks work), and ``get_ipython()`` answers with ``Shell``: enough of IPython's shell for
what notebooks call.  ``%time``/``%timeit``/``%%time`` run their statement once and keep its
assignments; help (``?``), display and configuration magics do nothing; what needs a process
(``!cmd``, ``%pip``, ``%%bash``: the sandbox starts none) is skipped with a note.  A cell that
raises stops there, as in Jupyter (the statements before it have run), and is reported with
its number among the notebook's code cells, its first line and the error.

No real ``InteractiveShell``: its ``run_cell`` formats tracebacks by walking frames (which the
sandbox's vault may forbid), writes a history database and a profile folder, and replaces
``sys.displayhook``/``excepthook``; none of it is needed to run cells as Jupyter does.

Standard library and IPython only (the worker imports IPython before it forks, ``PRELOAD``).
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import os
import re
import time
from typing import Any, Callable

from IPython.core.inputtransformer2 import TransformerManager
from IPython.display import display

from course import cells
from course.grade.protocol import CellError

MAX_NOTES = 20  # notes about skipped commands, per notebook
LINE_CHARS = 120
ERROR_CHARS = 300

# Magics that only show, explain or configure: Jupyter's answer is output, never state.
QUIET = {"matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "pinfo", "pinfo2",
         "pdef", "pdoc", "psource", "pfile", "who", "whos", "who_ls", "lsmagic", "magic", "precision", "xmode",
         "pprint", "colors", "automagic", "autocall", "doctest_mode", "quickref", "history", "hist", "page",
         "notebook", "reset_selective", "html", "HTML", "javascript", "js", "latex", "markdown", "svg"}
# Magics that start a process: the sandbox cannot.
SHELL = {"pip", "conda", "mamba", "micromamba", "system", "sx", "sc", "bash", "sh", "script", "!", "perl", "ruby",
         "python", "python2", "python3", "pypy", "ls", "cat", "mkdir", "rm", "mv", "cp", "ldir", "less",
         "more", "man", "killbgscripts"}
# Timing magics run their statement once (grading time matters), and their options with a value.
TIMED = {"time": "", "timeit": "nrp", "prun": "lsTD"}
_OPTION = re.compile(r"\s*-(\w)(\S*)\s*")


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return _cut(line.rstrip(), LINE_CHARS)
    return ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(error: BaseException) -> str:
    """``Type: message``; a SyntaxError says its line in the cell (its file name is ours).
    Never raises: a student's exception may have a ``__str__`` that does."""
    kind = type(error).__name__
    try:
        if isinstance(error, SyntaxError) and isinstance(error.msg, str) and error.msg:
            where = f" (line {error.lineno})" if isinstance(error.lineno, int) else ""
            return _cut(f"{kind}: {error.msg}{where}", ERROR_CHARS)
        args = error.args
        message = "" if len(args) == 0 or (len(args) == 1 and args[0] is None) else str(error)  # exit()
    except BaseException:
        message = "?"
    return _cut(f"{kind}: {message}" if message else kind, ERROR_CHARS)


_BINDING = re.compile(r"^(?:(?:async\s+)?def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)|"
                      r"^(?:from\s+\S+\s+)?import\s+(.+)$", re.M)


def bound_names(source: str) -> set[str]:
    """The global names a cell binds; read off its lines when Python cannot parse it."""
    try:
        return cells.names(source)[0]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    names = set()
    for match in _BINDING.finditer(source):
        if not match.group(3):
            names.add(match.group(1) or match.group(2))
            continue
        for part in match.group(3).strip("() \\").split(","):
            words = part.split()
            if words:
                names.add(words[2] if len(words) == 3 else words[0].split(".")[0])
    return names


_TRANSFORMER = TransformerManager()


def as_python(source: str) -> str:
    """The Python that Jupyter runs for a cell (magics, ``?``, ``!`` become calls on
    ``get_ipython()``), on the cell's own line numbers."""
    try:
        code = _TRANSFORMER.transform_cell(source)
    except Exception:  # IPython could not read it: Python will say why
        return source
    dropped = _blank_head(source) - _blank_head(code)  # IPython drops leading blank lines
    return "\n" * max(dropped, 0) + code


class Shell:
    """What ``get_ipython()`` returns while a notebook runs: IPython's calls, answered the way
    Jupyter would, in the notebook's namespace, except what needs a process."""

    def __init__(self, namespace: dict, translate: Callable[[str], str] = lambda message: message):
        self.user_ns = namespace
        self._ = translate
        self.notes: list[str] = []
        self.skipped = 0  # notes beyond MAX_NOTES
        self.cell = 0  # the code cell running (1-based), for the notes
        self.runs = 0  # code registered in linecache so far
        namespace.setdefault("get_ipython", self.get_ipython)
        namespace.setdefault("display", display)

    @property
    def user_global_ns(self) -> dict:
        return self.user_ns

    def get_ipython(self) -> Shell:
        return self

    def run_code(self, source: str) -> Any:
        """Transform, register, compile and run ``source`` in the namespace; the value of its
        last line when that is an expression (what ``y = %time f(x)`` assigns)."""
        code = as_python(source)
        self.runs += 1
        filename = f"<ipython-input-{self.runs}-{hashlib.sha1(code.encode()).hexdigest()[:12]}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        tree = ast.parse(code, filename)
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        if last is not None:
            tree.body.pop()
        # dont_inherit: this module's ``from __future__ import annotations`` is not the student's
        exec(compile(tree, filename, "exec", dont_inherit=True), self.user_ns)
        if last is not None:
            value = ast.Expression(last.value)
            return eval(compile(value, filename, "eval", dont_inherit=True), self.user_ns)
        return None

    def note(self, command: str, why: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(self._("cell {cell}: `{command}` skipped: {why}").format(
                cell=self.cell, command=_cut(command.strip(), LINE_CHARS), why=why))
        else:
            self.skipped += 1

    def all_notes(self) -> list[str]:
        more = self._("... and {count} more skipped commands").format(count=self.skipped)
        return self.notes + [more] if self.skipped else self.notes

    def system(self, command: str) -> None:
        self.note(f"!{command}", self._("the grader runs no shell commands"))

    def getoutput(self, command: str, split: bool = True, depth: int = 0) -> list[str]:
        self.note(f"!{command}", self._("the grader runs no shell commands"))
        return []

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in TIMED:
            return self.timed(name, line)
        if name in QUIET:
            return None
        if name == "env" and ("=" in line or len(line.split()) == 2):
            key, value = re.split(r"\s*=\s*|\s+", line.strip(), maxsplit=1)
            os.environ[key] = value
            return None
        if name == "env":
            return os.environ.get(line.strip()) if line.strip() else dict(os.environ)
        if name == "pwd":
            return os.getcwd()
        self.unsupported(f"%{name} {line}", name)
        return None

    def magic(self, line: str) -> Any:
        """The old spelling, ``get_ipython().magic('time x = 1')``."""
        name, _, rest = line.lstrip("%").partition(" ")
        return self.run_line_magic(name, rest)

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in TIMED or name == "capture":
            return self.timed(name, cell, options=False)
        if name in QUIET:
            return None
        if name in ("writefile", "file"):
            append = re.match(r"\s*(-a|--append)\s+", line)
            path = line[append.end():] if append else line
            with open(os.path.expanduser(path.strip().strip("\"'")), "a" if append else "w", encoding="utf-8") as f:
                f.write(cell)
            return None
        self.unsupported(f"%%{name} {line}", name)
        return None

    def unsupported(self, command: str, name: str) -> None:
        if name in SHELL:
            self.note(command, self._("the grader runs no shell commands"))
        else:
            self.note(command, self._("the grader does not run this magic command"))

    def timed(self, name: str, code: str, options: bool = True) -> Any:
        """``%time``, ``%timeit``, ``%prun``, ``%%capture``: run the code once (grading time
        matters), say how long it took; ``%time`` gives its expression's value, as IPython does."""
        if options:
            while (option := _OPTION.match(code)) is not None:
                code = code[option.end():]
                if option.group(1) in TIMED[name] and not option.group(2):  # its value is the next word
                    code = re.sub(r"^\S+\s*", "", code, count=1)
        start = time.perf_counter()
        value = self.run_code(code)
        if name != "capture":
            print(f"Wall time: {(time.perf_counter() - start) * 1000:.3g} ms")
        return value if name == "time" else None


def run_cells(numbered: list[tuple[int, str]], namespace: dict,
              translate: Callable[[str], str] = lambda message: message) -> tuple[list[CellError], list[str]]:
    """Run ``numbered`` ((1-based number among the code cells, source), in order) in ``namespace``
    as Jupyter would; the cells that raised, and notes on what was skipped."""
    shell = Shell(namespace, translate)
    errors: list[CellError] = []
    unbound: set[str] = set()  # names that failed cells were to bind
    for number, source in numbered:
        shell.cell = number
        try:
            shell.run_code(source)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: keep grading
            # NameError's own field, not a property a student's subclass defines
            name = vars(NameError)["name"].__get__(error) if isinstance(error, NameError) else None
            errors.append({"cell": number, "line": first_line(source), "error": describe(error),
                           "consequence": isinstance(name, str) and name in unbound})
            unbound |= bound_names(as_python(source))
    return errors, shell.all_notes()


def _blank_head(text: str) -> int:
    lines = text.splitlines()
    return next((n for n, line in enumerate(lines) if line.strip()), len(lines))
