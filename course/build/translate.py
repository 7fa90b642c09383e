"""`course translate`: bring the translation catalogues up to date with the English sources.

New English strings are added with an empty translation, strings that are gone are dropped,
translations of strings that stayed are kept (Babel's ``Catalog.update``): the course's
messages from ``_("...")`` and ``gettext("...")`` in ``course/*.py`` into
``course/locale/<lang>/LC_MESSAGES/course.po``, and each assignment's titles, labels, stub
docstrings and code-cell strings into ``solutions/<name>/<lang>.po``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from course import i18n
from course.build import assemble as build

FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)  # deterministic headers


def _catalogue(language: str | None) -> Catalog:
    return Catalog(locale=language, project="calc4ml-course", version="1", copyright_holder="the course",
                   msgid_bugs_address="", creation_date=FIXED_DATE, revision_date=FIXED_DATE, charset="utf-8",
                   fuzzy=False)


def _update(path: Path, template: Catalog, language: str) -> tuple[int, int]:
    if path.exists():
        with open(path, "rb") as f:
            catalogue = read_po(f, locale=language)
    else:
        catalogue = _catalogue(language)
    catalogue.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalogue.obsolete.clear()
    catalogue.revision_date = FIXED_DATE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalogue, width=100, sort_output=True, include_previous=False, no_location=True)
    missing = sum(1 for m in catalogue if m.id and not m.string)
    return len([m for m in catalogue if m.id]), missing


def course_template(root: Path) -> Catalog:
    """The course's messages, and the reasons questions give for forbidding an API (the
    student process translates them with the course's catalogue)."""
    template = _catalogue(None)
    for source in build.sources(root):
        for question in source.module("questions").QUESTIONS:
            if question.forbid:
                template.add(question.because)
    for path in sorted([*i18n.PACKAGE.rglob("*.py"), *i18n.RUNTIME.glob("*.py")]):
        for _lineno, message, _comments, _context in extract_from_file(
                "python", path, keywords={"_": None, "gettext": None}):
            if isinstance(message, str) and message:
                template.add(message)
    for path in sorted(i18n.PACKAGE.rglob("templates/*.j2")):
        for _lineno, message, _comments, _context in extract_from_file(
                "jinja2", path, keywords={"_": None, "gettext": None}):
            if isinstance(message, str) and message:
                template.add(message)
    return template


def update_catalogues(root: Path, language: str, only: list[str] | None = None) -> list[str]:
    """Update the course's catalogue and each assignment's (``only``: "course" and/or names)."""
    lines = []
    if not only or "course" in only:
        total, missing = _update(i18n.COURSE_LOCALE / language / "LC_MESSAGES" / "course.po", course_template(root),
                                 language)
        lines.append(f"course messages: {total} strings, {missing} untranslated")
    names = [name for name in only or [] if name != "course"]
    for source in build.sources(root, names or None) if (names or not only) else []:
        template = _catalogue(None)
        for message in i18n.content_messages(source.module("questions").QUESTIONS, source.module("reference"),
                                             source.prose("en")):
            template.add(message)
        total, missing = _update(source.folder / f"{language}.po", template, language)
        lines.append(f"{source.name}: {total} strings, {missing} untranslated")
    return lines
