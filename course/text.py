"""Text from a submission made harmless wherever the grader writes it: logs, the terminal,
CSV, HTML and JSON.

A file name, a cell's error or a check's message is the student's text.  Written raw it can
move the terminal's cursor or recolour it (ANSI escapes), forge a line of ``grading.log``
(``\\nx.ipynb: ok``), or reorder what a reader sees (a right-to-left override, U+202E, shows
``gpj.exe`` as ``exe.jpg``).  ``escape`` shows every such character as its Python escape
(``\\x1b``, ``\\u202e``), visibly and reversibly, and leaves all other text (Korean included)
as it is.  Its output is printable, so escaping twice changes nothing.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; bidirectional embeddings, overrides and isolates, the
# implicit direction marks; zero-width characters (space, joiners, word joiner, BOM); lone
# surrogates (a file name that is not UTF-8, read with surrogateescape).
_SPECIAL = "\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff"
_ANY = re.compile(f"[\x00-\x1f{_SPECIAL}]")
_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_SPECIAL}]")  # tab and line feed kept
FORMULA_START = ("=", "+", "-", "@")  # tab, CR and LF cannot start: they are escaped


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(text: object, limit: int | None = None, newlines: bool = False) -> str:
    """``text`` with every control, bidi and zero-width character shown as its escape; cut to
    ``limit`` characters first.  ``newlines=True`` keeps line feeds and tabs (a traceback
    shown as a block); otherwise the result is one line, as one field of a log must be."""
    text = text if isinstance(text, str) else repr(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + " [...]"
    return (_BUT_LINES if newlines else _ANY).sub(_visible, text)


def clean(text: object, limit: int | None = None) -> str:
    """Any string from a submission, shown as it is with its lines kept (``escape``)."""
    return escape(text, limit, newlines=True)


def cell(text: object) -> str:
    """One spreadsheet cell: escaped to one line, and with a leading ``'`` when a spreadsheet
    would read it as a formula (``=``, ``+``, ``-``, ``@``, after any spaces; OWASP's CSV
    injection advice)."""
    text = escape(text)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_START) else text
