"""Translations, with gettext catalogues (``.po`` sources, compiled to ``.mo`` with Babel).

English is the source language.  Two kinds of catalogue:

- the course's messages (checks, runtime, feedback, notebook boilerplate), marked ``_("...")``
  in ``calc4ml_runtime/`` and ``course/``: ``calc4ml_runtime/locale/<lang>/LC_MESSAGES/course.po``,
  compiled to ``course.mo`` beside it (committed: the grader and the students' copy of the
  runtime read it with the standard library's ``gettext``);
- an assignment's strings (question titles, case labels, stub docstrings, and the strings
  that code cells mark ``_("...")``): ``solutions/<name>/<lang>.po``, read at build time.

A translated notebook's prose is a whole file, ``solutions/<name>/notebook.<lang>.md``: the
same directives and the same code cells as ``notebook.md``, in the same order
(``check_parity``), with the Markdown translated.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from pathlib import Path
from types import ModuleType
from typing import Any

from calc4ml_runtime.plan import Plan

PACKAGE = Path(__file__).resolve().parent
RUNTIME = PACKAGE.parent / "calc4ml_runtime"  # installed beside ``course``, as in the repository
COURSE_LOCALE = RUNTIME / "locale"


class Catalogue:
    """Messages of one language: an assignment's, falling back to the course's."""

    def __init__(self, language: str, messages: dict[str, str] | None = None):
        self.language, self.messages = language, messages or {}
        self.missing: list[str] = []  # asked for and not translated: the build lists them

    def gettext(self, message: str) -> str:
        if self.language == "en" or not message:
            return message
        found = self.messages.get(message) or _course_messages(self.language).get(message)
        if not found:
            if message not in self.missing:
                self.missing.append(message)
            return message
        return found


def read_po(path: Path) -> dict[str, str]:
    from babel.messages.pofile import read_po as babel_read_po
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        catalog = babel_read_po(f)
    # the course has no plural messages (whose id is a tuple)
    return {m.id: m.string for m in catalog
            if isinstance(m.id, str) and isinstance(m.string, str) and m.id and m.string and not m.fuzzy}


_course_cache: dict[str, dict[str, str]] = {}


def _course_messages(language: str) -> dict[str, str]:
    if language not in _course_cache:
        _course_cache[language] = read_po(COURSE_LOCALE / language / "LC_MESSAGES" / "course.po")
    return _course_cache[language]


def content_catalogue(folder: Path, language: str) -> Catalogue:
    return Catalogue(language, read_po(folder / f"{language}.po") if language != "en" else {})


def compile_mo(po: Path) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po as babel_read_po
    with open(po, "rb") as f:
        catalog = babel_read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def course_catalogues(root: Path) -> dict[str, bytes]:
    """Language -> compiled course catalogue; written beside its ``.po`` when building the
    course's own source checkout."""
    found = {}
    for po in sorted(COURSE_LOCALE.glob("*/LC_MESSAGES/course.po")):
        mo = compile_mo(po)
        found[po.parts[-3]] = mo
        if PACKAGE.parent == root.resolve() and (not po.with_suffix(".mo").exists()
                                                  or po.with_suffix(".mo").read_bytes() != mo):
            po.with_suffix(".mo").write_bytes(mo)
    return found


def stale_course_catalogues(root: Path) -> list[str]:
    root = root.resolve()
    if PACKAGE.parent != root:
        return []
    return [str(po.with_suffix(".mo").relative_to(root)) for po in sorted(COURSE_LOCALE.glob("*/LC_MESSAGES/course.po"))
            if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").read_bytes() != compile_mo(po)]


def with_translations(plan: Plan, language: str, catalogue: Catalogue) -> Plan:
    """The plan, carrying the question titles and case labels in ``language`` (for feedback)."""
    if language == "en":
        return plan
    translations = dict(plan.get("translations", {}))
    translations[language] = {
        "titles": {q["name"]: catalogue.gettext(q["title"]) for q in plan["questions"]},
        "labels": {f"{q['name']}/{c['id']}": catalogue.gettext(c["label"]) for q in plan["questions"]
                   for c in q["cases"]},
    }
    return {**plan, "translations": translations}


# ---------------------------------------------------------------- strings in code cells

def translate_code(source: str, catalogue: Catalogue) -> str:
    """Replace each ``_("...")`` in a code cell by the translated string literal, and each comment
    by its translation (a comment is read too, and cannot be marked ``_()``)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for i in range(len(tokens) - 3):
        name, paren, string, close = tokens[i:i + 4]
        if (name.type == tokenize.NAME and name.string == "_" and paren.string == "(" and string.type == tokenize.STRING
                and close.string == ")" and (i == 0 or tokens[i - 1].string != ".")):
            text = ast.literal_eval(string.string)
            start = offsets[name.start[0] - 1] + name.start[1]
            end = offsets[close.end[0] - 1] + close.end[1]
            edits.append((start, end, repr(catalogue.gettext(text))))
    for token in tokens:
        comment = token.string[1:].strip() if token.type == tokenize.COMMENT else ""
        if comment and catalogue.gettext(comment) != comment:
            start = offsets[token.start[0] - 1] + token.start[1]
            edits.append((start, start + len(token.string), "# " + catalogue.gettext(comment)))
    edits.sort()
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source


def code_strings(source: str) -> list[str]:
    """The strings a code cell marks for translation, and its comments."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(node.args[0].value)
    found += [token.string[1:].strip() for token in tokenize.generate_tokens(io.StringIO(source).readline)
              if token.type == tokenize.COMMENT and token.string[1:].strip()]
    return found


# ---------------------------------------------------------------- the translated prose


FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*(question|solution|end question)\s*(\S*)\s*-->\s*$")


def skeleton(prose: str) -> list[str]:
    """What a translation must keep: directives and code blocks, in order."""
    found: list[str] = []
    code: list[str] | None = None  # the lines of the code block being read, if any
    for line in prose.splitlines():
        fence = FENCE.match(line)
        if code is not None:
            if fence:
                found.append("code:\n" + "\n".join(code))
                code = None
            else:
                code.append(line)
        elif fence and fence.group(1) == "python":
            code = []
        elif directive := DIRECTIVE.match(line):
            found.append("directive: " + " ".join(directive.groups()).strip())
    return found


def check_parity(english: str, translated: str, name: str) -> None:
    """Refuse a translation whose structure differs from the English prose."""
    ours, theirs = skeleton(english), skeleton(translated)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            raise ValueError(f"{name}: item {i + 1} differs from the English source:\n"
                             f"  English:    {a[:200]!r}\n  translation: {b[:200]!r}\n"
                             "(code cells and directives must be identical, in the same order)")
    if len(ours) != len(theirs):
        raise ValueError(f"{name}: {len(theirs)} code cells and directives, the English source has {len(ours)}")


def class_docstrings(cls: type) -> list[str]:
    """A class's docstring and its own methods' (a stubbed class: the student's methods)."""
    docs = [cls.__doc__] + [getattr(member, "__doc__", None) for member in vars(cls).values()
                            if inspect.isfunction(member) or isinstance(member, property)]
    return [inspect.cleandoc(doc) for doc in docs if doc]


def content_messages(questions: list[Any], reference: ModuleType, prose: str) -> list[str]:
    """Every string of an assignment that a translation covers (for ``course translate``);
    ``questions``: its ``course.build.spec.Question``s."""
    found: list[str] = []
    for q in questions:
        found.append(q.title)
        found += [c.label for c in q.cases]
        for fn in q.functions:
            doc = inspect.getdoc(getattr(reference, fn))
            if doc:
                found.append(doc)
    for block in skeleton(prose):
        if block.startswith("code:\n"):
            found += code_strings(block[len("code:\n"):])
        elif block.startswith("directive: solution ") and inspect.isclass(getattr(reference, block.split()[-1], None)):
            found += class_docstrings(getattr(reference, block.split()[-1]))
    return list(dict.fromkeys(found))
