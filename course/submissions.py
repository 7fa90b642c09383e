"""The submissions of a batch: every file of a folder or zip (an LMS download, say), each
read only when it is graded, so that memory does not grow with the class.

Every file gets a row, dotfiles and odd names included; only the metadata that operating
systems and LMS downloads add (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``)
is skipped, and the log says what was.  Who a file belongs to comes from ``lms.identify``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from course import lms
from course.layout import CourseError

MAX_FILE_BYTES = 50 << 20
METADATA = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$|\._)", re.I)


@dataclass
class Submission:
    key: str  # unique in the batch and safe as a file name
    source: str  # path inside the folder or zip
    identity: lms.Identity
    size: int
    _read: Callable[[], bytes]

    def notebook(self) -> tuple[bytes | None, str]:
        """The notebook's bytes, or None and why there is none."""
        if self.size > MAX_FILE_BYTES:
            return None, f"a file larger than {MAX_FILE_BYTES >> 20} MB"
        data = self._read()
        suffix = PurePosixPath(self.source).suffix.lower()
        if suffix == ".zip":
            return _notebook_in_zip(data)
        if suffix != ".ipynb":
            return None, f"a {suffix or 'extensionless'} file, not a notebook"
        return data, ""


def _capped_read(opener: Callable) -> bytes:
    with opener() as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("too large")
    return data


def _notebook_in_zip(data: bytes) -> tuple[bytes | None, str]:
    """The one notebook of a student's zip (what otter's export cell makes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            notebooks = [i for i in z.infolist() if i.filename.endswith(".ipynb") and not METADATA.search(i.filename)]
            if len(notebooks) != 1:
                return None, f"a zip with {len(notebooks)} notebooks (expected exactly one)"
            return _capped_read(lambda: z.open(notebooks[0])), ""
    except ValueError:
        return None, f"a notebook larger than {MAX_FILE_BYTES >> 20} MB in a zip"
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as error:
        return None, f"an unreadable zip ({type(error).__name__})"


def _key(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_.")[:150] or "submission"


def collect(path: Path, log: Callable[[str], None] = lambda line: None) -> list[Submission]:
    """Every submission under a folder (recursively), in a zip such as an LMS's download, or a
    single file; metadata files skipped (and logged)."""
    found: list[Submission] = []
    skipped: list[str] = []

    def add(source: str, size: int, read: Callable[[], bytes]) -> None:
        if METADATA.search(source):
            skipped.append(source)
        else:
            found.append(Submission(_key(source), source, lms.identify(source), size, read))

    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                add(file.relative_to(path).as_posix(), file.stat().st_size,
                    lambda file=file: _capped_read(lambda: open(file, "rb")))
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            members = sorted((i for i in z.infolist() if not i.is_dir()), key=lambda i: i.filename)
        for info in members:
            add(info.filename, info.file_size,
                lambda info=info: _capped_read(lambda: _ZipMember(path, info)))
    elif path.is_file():
        add(path.name, path.stat().st_size, lambda: _capped_read(lambda: open(path, "rb")))
    else:
        raise CourseError(f"no submissions at {path}")
    if skipped:
        log(f"skipped {len(skipped)} metadata files: {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}")
    counts: dict[str, int] = {}
    for s in found:  # two sources that slug alike still get two rows
        counts[s.key] = counts.get(s.key, 0) + 1
        if counts[s.key] > 1:
            s.key = f"{s.key}-{counts[s.key]}"
    return found


class _ZipMember:
    """A zip member opened on its own file handle, so that threads can read members at once."""

    def __init__(self, path: Path, info: zipfile.ZipInfo):
        self.zip = zipfile.ZipFile(path)
        self.file = self.zip.open(info)

    def __enter__(self):
        return self.file

    def __exit__(self, *exc):
        self.file.close()
        self.zip.close()
