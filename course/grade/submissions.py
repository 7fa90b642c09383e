"""The submissions of a batch: every file of a folder or zip (an LMS download, say), each
read only when it is graded, so that memory does not grow with the class.

Every file gets a row, dotfiles and odd names included; only the metadata that operating
systems and LMS downloads add (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``)
is skipped, and the log says what was.  Who a file belongs to comes from the download's
layout (``course.identity``).  Whatever goes wrong reading one file (a corrupt or truncated
zip, a zip bomb, a bad CRC, a name that is not UTF-8, a folder named ``x.ipynb``, a file the
grader may not read, a symbolic link) is that file's row, with what happened; never the batch's.

A notebook is judged by its code.  Its outputs and attachments (a notebook run for real with
high-DPI figures weighs tens of MB) are dropped while it is parsed (``slim``), so the limit
that matters, ``MAX_CODE_CHARS``, applies to its code; ``MAX_FILE_BYTES`` only guards against
a bomb.  When the notebook lost ``metadata.course`` (a jupytext round trip, cells pasted into
a new notebook), its edition's language is read from its text (``detect_language``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple

from course.identity import NOTEBOOK_SUFFIXES, Identity, identify_all
from course.layout import CourseError
from course.text import escape

MAX_FILE_BYTES = 256 << 20  # a bomb guard, far above any real notebook with its figures
MAX_CODE_CHARS = 4 << 20  # the code of every cell together: a real assignment has some 50 kB
MAX_REST_BYTES = 64 << 20  # a notebook without its outputs: code, prose, metadata
BIG_FILE_BYTES = 16 << 20  # files above this are parsed one at a time, so memory stays bounded
METADATA = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$|\._)", re.I)
LANGUAGES = ("en", "ko")  # the editions; judge.read_notebook reads metadata.course.language
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
KOREAN_SHARE = 0.15  # Korean prose keeps English terms and code; an English edition has no Hangul
_big_reads = threading.Semaphore(1)


class Read(NamedTuple):
    """What reading a submission gave: the notebook judge.read_notebook reads (outputs dropped),
    or None and why there is none; and the language read from its text when its metadata
    lacked it ("" when the metadata said it)."""

    notebook: bytes | None
    problem: str = ""
    detected: str = ""


@dataclass
class Submission:
    key: str  # unique in the batch (case aside) and safe as a file name
    source: str  # path inside the folder or zip
    identity: Identity
    size: int
    _read: Callable[[], bytes] | None  # None: not a file to read (``problem`` says why)
    problem: str = ""

    def notebook(self) -> Read:
        """The notebook, slimmed to its code, or why there is none; never raises."""
        if self._read is None:
            return Read(None, self.problem)
        suffix = PurePosixPath(self.source).suffix.lower()
        if suffix not in (".zip", ".ipynb"):
            return Read(None, f"a {escape(suffix, 20) if suffix else 'extensionless'} file, not a notebook")
        if self.size > MAX_FILE_BYTES:
            return Read(None, f"a file larger than {MAX_FILE_BYTES >> 20} MB (not read)")
        try:
            with _big_reads if self.size > BIG_FILE_BYTES else contextlib.nullcontext():
                if suffix == ".zip":
                    return _notebook_in_zip(self._read)
                return slim(self._read)
        except _TooLarge:
            return Read(None, f"a file larger than {MAX_FILE_BYTES >> 20} MB (not read)")
        except MemoryError:
            return Read(None, "a file too large to read")
        except Exception as error:  # any file, however broken, is its own row
            return Read(None, f"unreadable ({_why(error)})")


class _TooLarge(Exception):
    pass


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {escape(str(error), 200)}"


def _capped_read(opener: Callable, expected: int) -> bytes:
    """At most ``MAX_FILE_BYTES`` of a file whose size should be ``expected`` (read in one
    buffer of that size: a read of the cap itself would allocate the whole cap)."""
    with opener() as f:
        data = f.read(min(expected, MAX_FILE_BYTES) + 1)
        if len(data) > expected:  # it grew, or a zip's header lied about its size
            data += f.read(MAX_FILE_BYTES + 1 - len(data))
    if len(data) > MAX_FILE_BYTES:
        raise _TooLarge
    return data


def _notebook_in_zip(read: Callable[[], bytes]) -> Read:
    """The one notebook of a student's zip (what otter's export cell makes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(read())) as z:
            notebooks = [i for i in z.infolist() if i.filename.lower().endswith(".ipynb") and not i.is_dir()
                         and not METADATA.search(i.filename)]
            if len(notebooks) != 1:
                return Read(None, f"a zip with {len(notebooks)} notebooks (expected exactly one)")
            if notebooks[0].file_size > MAX_FILE_BYTES:
                return Read(None, f"a notebook larger than {MAX_FILE_BYTES >> 20} MB in a zip (not read)")
            return slim(lambda: _capped_read(lambda: z.open(notebooks[0]), notebooks[0].file_size))
    except _TooLarge:
        return Read(None, f"a notebook larger than {MAX_FILE_BYTES >> 20} MB in a zip (not read)")
    except Exception as error:  # BadZipFile, zlib.error, a bad CRC, encryption, ...
        return Read(None, f"an unreadable zip ({_why(error)})")


def _without_outputs(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object with its outputs and attachments left out: called as each object is
    parsed, so a cell's figures are dropped before the next cell's are read."""
    return {k: v for k, v in pairs if k not in ("outputs", "attachments")}


_BRACKET_OR_QUOTE = re.compile(rb'["\[\]{}]')
_DROPPED_KEY = re.compile(rb'"(?:outputs|attachments)"\s*:\s*')
_VALUE_END = re.compile(rb"[,}\]]")


def _string_end(raw: bytes, start: int) -> int | None:
    """The index after the closing quote of the JSON string whose opening quote is at ``start``."""
    i = start + 1
    while True:
        i = raw.find(b'"', i)
        if i < 0:
            return None
        slashes = 0
        while raw[i - 1 - slashes] == 0x5C:  # backslashes before it: an even count leaves it unescaped
            slashes += 1
        if slashes % 2 == 0:
            return i + 1
        i += 1


def _value_end(raw: bytes, start: int) -> int | None:
    """The index after the JSON value that starts at ``start``, or None if it does not end."""
    if raw[start:start + 1] == b'"':
        return _string_end(raw, start)
    if raw[start:start + 1] not in (b"[", b"{"):
        stop = _VALUE_END.search(raw, start)
        return stop.start() if stop else None
    depth, i = 0, start
    while (token := _BRACKET_OR_QUOTE.search(raw, i)) is not None:
        if token.group() == b'"':
            end = _string_end(raw, token.start())
            if end is None:
                return None
            i = end
            continue
        depth += 1 if token.group() in (b"[", b"{") else -1
        i = token.end()
        if depth == 0:
            return i
    return None


def _outputs_dropped(raw: bytes) -> bytes:
    """The JSON text ``raw`` with the value of every ``"outputs"`` and ``"attachments"`` key
    replaced by ``null``, found without decoding the text (the figures are most of a run
    notebook, base64 strings that memchr skips).  Anything it cannot follow is left as it is,
    for the parser to judge."""
    pieces, kept, i = [], 0, 0
    while (token := _BRACKET_OR_QUOTE.search(raw, i)) is not None:
        if token.group() != b'"':
            i = token.end()
            continue
        key = _DROPPED_KEY.match(raw, token.start())
        end = _value_end(raw, key.end()) if key else _string_end(raw, token.start())
        if end is None:
            return raw
        if key:
            pieces += [raw[kept:key.end()], b"null"]
            kept = end
        i = end
    return b"".join(pieces + [raw[kept:]])


def slim(read: Callable[[], bytes]) -> Read:
    """The notebook ``read()`` returns, with only what grading reads: each cell's type and its
    code (a markdown or raw cell kept empty, so cell numbers stay), ``metadata.course``
    (with the language read from the text when it is missing or not an edition's).

    What is not a notebook in this sense is handed on as it came when it is small, so that
    judge.read_notebook says what is wrong with it; when it is large, said here."""
    raw = read()
    small = raw if len(raw) <= MAX_CODE_CHARS else None
    if small is None:
        raw = _outputs_dropped(raw)  # before decoding, which takes up to four bytes a character
        if len(raw) > MAX_REST_BYTES:
            return Read(None, f"not a notebook: more than {MAX_REST_BYTES >> 20} MB besides its outputs")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Read(small) if small is not None else Read(None, "not a notebook: not UTF-8 text")
    del raw
    try:
        nb = json.loads(text, object_pairs_hook=_without_outputs)
    except (ValueError, RecursionError) as error:
        return Read(small) if small is not None else Read(
            None, f"not a notebook: not valid notebook JSON ({escape(str(error), 120)})")
    del text
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return Read(small) if small is not None else Read(None, "not a notebook: not a Jupyter notebook in format 4")
    cells: list[dict | None] = []
    code = 0
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            cells.append(None)  # judge.read_notebook: "cell i is not a cell"
            continue
        source = cell.get("source", "")
        if cell.get("cell_type") == "code":
            code += len(_text(cell))
            cells.append({"cell_type": "code", "source": source if isinstance(source, (str, list)) else None})
        else:
            cells.append({"cell_type": cell.get("cell_type"), "source": ""})
    if code > MAX_CODE_CHARS:
        return Read(None, f"not a notebook: its code is longer than {MAX_CODE_CHARS >> 20} MB of text "
                          "(outputs aside)")
    metadata = nb.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    course = dict(course) if isinstance(course, dict) else {}
    detected = ""
    if course.get("language") not in LANGUAGES:
        detected = course["language"] = detect_language(nb["cells"])
    slimmed = {"nbformat": nb.get("nbformat"), "nbformat_minor": nb.get("nbformat_minor"),
               "metadata": {"course": course}, "cells": cells}
    return Read(json.dumps(slimmed, sort_keys=True).encode("ascii"), "", detected)


def _text(cell: object) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(line for line in source if isinstance(line, str))
    return source if isinstance(source, str) else ""


def detect_language(cells: list) -> str:
    """The edition a notebook was handed out in, from its text: "ko" when Hangul makes up a
    real share of the letters of its markdown prose, or, with no prose, when its code (the
    stubs' translated docstrings) holds Hangul at all; else "en"."""
    prose = "".join(_text(c) for c in cells if isinstance(c, dict) and c.get("cell_type") == "markdown")
    hangul, latin = len(HANGUL.findall(prose)), len(LATIN.findall(prose))
    if hangul + latin >= 20:
        return "ko" if hangul >= KOREAN_SHARE * (hangul + latin) else "en"
    code = "".join(_text(c) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code")
    return "ko" if len(HANGUL.findall(code)) >= 20 else "en"


def _slug(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_.")[:150] or "submission"


def unique_keys(sources: list[str]) -> list[str]:
    """A file-name-safe key per source, unique even where a case-insensitive disk would see two
    alike.  A slug two sources share ("a b.ipynb", "a_b.ipynb") gets each source's own digest,
    so every row is kept and its key depends on its source alone (the same on a resume)."""
    slugs = [_slug(s) for s in sources]
    shared = Counter(slug.casefold() for slug in slugs)
    taken: set[str] = set()
    keys: dict[int, str] = {}
    for i in sorted(range(len(sources)), key=lambda i: sources[i]):
        digest = hashlib.sha256(sources[i].encode("utf-8", "surrogatepass")).hexdigest()
        choices = ([slugs[i]] if shared[slugs[i].casefold()] == 1 else []) + [f"{slugs[i]}-{digest[:10]}",
                                                                             f"{slugs[i]}-{digest}"]
        key = next((k for k in choices if k.casefold() not in taken), f"{slugs[i]}-{digest}-{i}")
        taken.add(key.casefold())
        keys[i] = key
    return [keys[i] for i in range(len(sources))]


def collect(path: Path, log: Callable[[str], None] = lambda line: None) -> list[Submission]:
    """Every submission under a folder (recursively), in a zip such as an LMS's download, or a
    single file; metadata files skipped (and logged)."""
    found: list[tuple[str, int, Callable[[], bytes] | None, str]] = []
    skipped: list[str] = []

    def add(source: str, size: int, read: Callable[[], bytes] | None, problem: str = "") -> None:
        if METADATA.search(source):
            skipped.append(source)
        else:
            found.append((source, size, read, problem))

    download = _open_zip(path) if path.is_file() else None
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            source = file.relative_to(path).as_posix()
            if file.is_symlink():
                add(source, 0, None, "a symbolic link, not a file (not followed)")
            elif file.is_file():
                try:
                    size = file.stat().st_size
                except OSError as error:
                    add(source, 0, None, f"unreadable ({_why(error)})")
                    continue
                add(source, size, _file_reader(file, size))
            elif file.is_dir() and file.suffix.lower() in NOTEBOOK_SUFFIXES:
                add(source, 0, None, f"a folder named {escape(file.name, 100)}, not a notebook")
    elif download is not None:
        for info in download:
            if info.is_dir():
                if PurePosixPath(info.filename).suffix.lower() in NOTEBOOK_SUFFIXES:
                    add(info.filename.rstrip("/"), 0, None, "a folder in the zip, not a notebook")
                continue
            add(info.filename, info.file_size, _member_reader(path, info))
    elif path.is_file():
        add(path.name, path.stat().st_size, _file_reader(path, path.stat().st_size))
    else:
        raise CourseError(f"no submissions at {path}")
    if skipped:
        log(f"skipped {len(skipped)} metadata files: {', '.join(escape(s) for s in skipped[:10])}"
            f"{' ...' if len(skipped) > 10 else ''}")
    sources = [source for source, *_ in found]
    return [Submission(key, source, identity, size, read, problem) for key, identity, (source, size, read, problem)
            in zip(unique_keys(sources), identify_all(sources), found)]


def _file_reader(file: Path, size: int) -> Callable[[], bytes]:
    return lambda: _capped_read(lambda: open(file, "rb"), size)


def _member_reader(download: Path, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    return lambda: _capped_read(lambda: _ZipMember(download, info), info.file_size)


def _open_zip(path: Path) -> list[zipfile.ZipInfo] | None:
    """The members of a download zip, or None when ``path`` is not one (a student's single
    file, or a zip too broken to list: then it is one row, which says so)."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            return sorted(z.infolist(), key=lambda i: i.filename)
    except Exception:
        return None


class _ZipMember:
    """A zip member opened on its own file handle, so that threads can read members at once."""

    def __init__(self, path: Path, info: zipfile.ZipInfo):
        self.zip = zipfile.ZipFile(path)
        try:
            self.file = self.zip.open(info)
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self):
        return self.file

    def __exit__(self, *exc):
        self.file.close()
        self.zip.close()
