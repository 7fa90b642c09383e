"""Messages in the student's language (gettext, ``locale/<lang>/LC_MESSAGES/course.mo``
beside this package), and the torch releases this runtime supports."""

from __future__ import annotations

import contextvars
import gettext
import os
import re
import sys

import torch


_LOCALE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
_language = contextvars.ContextVar("course_language", default="en")
_catalogues: dict[str, gettext.NullTranslations] = {}


def set_language(language: str) -> None:
    """Messages from now on (in this thread) are in ``language`` ("en", "ko")."""
    _language.set(language)


def language() -> str:
    """The current language: a context variable, so that threads grading in parallel keep theirs."""
    return _language.get()


def _(message: str) -> str:
    """``message`` (an English catalogue id) in the current language."""
    lang = _language.get()
    if lang == "en":
        return message
    if lang not in _catalogues:
        _catalogues[lang] = gettext.translation("course", _LOCALE, [lang], fallback=True)
    return _catalogues[lang].gettext(message)


# ---------------------------------------------------------------- the torch this runtime supports

# The releases of the two years before this course's pinned torch (2.6, January 2025, onward) on
# the same major version: the public checks use nothing newer, and students on Colab or a
# lab machine keep the torch they have.  Outside the range the checks still run, with a warning.
TORCH_RANGE = ((2, 6), (3, 0))  # >= 2.6, < 3.0


def torch_release(version: str) -> tuple[int, int] | None:
    """``"2.13.0+cpu"`` -> (2, 13); None when the version cannot be read."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


_TORCH_RELEASE = torch_release(torch.__version__)  # read once, at import
_torch_warned = False


def unsupported_torch(release: tuple[int, int] | None = _TORCH_RELEASE, version: str = torch.__version__) -> str | None:
    """The warning for a torch outside ``TORCH_RANGE``, in the current language; None inside it."""
    low, high = TORCH_RANGE
    if release is not None and low <= release < high:
        return None
    return _("These checks support torch {low} up to (not including) {high}; this Python has torch {version}. "
             "They still run, but a failure may come from torch rather than your code: install a supported "
             "torch (the notebook's set-up cell shows how).").format(
        low=f"{low[0]}.{low[1]}", high=f"{high[0]}.{high[1]}", version=version)


def warn_unsupported_torch() -> None:
    """Print ``unsupported_torch()`` once per process, to stderr (a warning, never an error)."""
    global _torch_warned
    message = unsupported_torch()
    if message and not _torch_warned:
        _torch_warned = True
        print(message, file=sys.stderr)


def ordinal(index: int) -> str:
    """'first', 'second', ... for the parts of a returned tuple (messages say "the second
    returned value", which a student reads faster than an index)."""
    words = [_("first"), _("second"), _("third"), _("fourth"), _("fifth"), _("sixth")]
    return words[index] if index < len(words) else f"#{index + 1}"
