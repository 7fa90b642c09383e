"""Who a downloaded file belongs to, from the download's layout alone: Canvas's and Moodle's
file and folder names (read in each LMS's source, cited at each pattern), a class folder, or a
single file.  Computed once per file when a batch is collected (``course.grade.submissions``)
and carried on its ``Result`` from then on.

- Canvas's "Download Submissions" (``lib/content_zipper.rb``): the name is the sortable name
  lower-cased with every non-word character removed ("Doe, Jane" -> ``doejane``), ``LATE`` is
  upper case, the second number is the *attachment* (file) id; a file whose name the student
  already used gets ``-1``, ``-2``, ... before its extension (``Attachment.make_unique_filename``).
- Moodle's "Download all submissions" (``mod/assign/classes/downloader.php``): the prefix is the
  full name (``_`` turned into spaces; "Participant" under anonymous submissions), "download as
  folders" gives ``<prefix>_assignsubmission_file/<file>`` (Moodle 3.x: a trailing ``_``); the
  file picker renames a second ``a.ipynb`` to ``a (1).ipynb``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

CANVAS = "canvas"
MOODLE = "moodle"

# content_zipper.rb: [LATE_]anon_<Anonymity.generate_short_id: base58, 5>_<attachment id>_<file>
CANVAS_ANONYMOUS = re.compile(r"^(?:(?P<late>LATE)_)?anon_(?P<anon>[1-9A-HJ-NP-Za-km-z]{5})_(?P<attachment>\d+)_(?P<file>.+)$",
                              re.S)
# content_zipper.rb: <name>[_LATE]_<user id>_<attachment id>_<file>; the name holds word characters
# only, and sanitize_user_name removes "_<digits>_" from it, so the first "_<digits>_<digits>_"
# ends it (Canvas's own re-upload parser, Assignment#infer_comment_context_from_filename, reads
# the first two all-digit parts the same way).
CANVAS_FILE = re.compile(r"^(?P<prefix>\w*?)_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$", re.S)
# downloader.php: <full name>_<participant>_assignsubmission_<plugin>[ _<file> | / ]
MOODLE_PART = re.compile(r"^(?P<name>.*?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)(?:_(?P<file>.*))?$",
                         re.S)
# otter/check/notebook.py, Notebook.export: "<notebook>_" + strftime("%Y_%m_%dT%H_%M_%S_%f") + ".zip"
# (Canvas's -N suffix when the name repeats; a copy's " (N)")
OTTER_EXPORT = re.compile(r"^(?P<notebook>.+?)_(?P<stamp>\d{4}_\d{2}_\d{2}T\d{2}_\d{2}_\d{2}_\d{6})"
                          r"(?:-\d+| \(\d+\))?\.zip$", re.S | re.I)
RESUBMISSION = re.compile(r"^(?P<base>.+?)(?:-(?P<dash>\d+)| \((?P<paren>\d+)\))(?P<ext>\.[^./ ]+)?$", re.S)
NOTEBOOK_SUFFIXES = (".ipynb", ".zip")  # a zip: what otter's export cell makes


# ---------------------------------------------------------------- who a file belongs to


@dataclass(frozen=True)
class Identity:
    """Who a downloaded file belongs to, as its path says."""

    lms: str = ""  # "canvas", "moodle", or "" for a plain folder or file
    student: str = ""  # Canvas user id or "anon_<id>", Moodle participant number, else the folder or stem
    name: str = ""  # the student's name as the download spells it
    late: bool = False  # Canvas's LATE marker (Moodle's lateness is in the worksheet)
    anonymous: bool = False
    attachment: int | None = None  # Canvas's attachment (file) id: a later upload has a larger one
    file: str = ""  # the file as the student named it
    resubmission: int = 0  # the LMS's suffix for a repeated name: hw01-2.ipynb -> 2, hw01 (1).ipynb -> 1

    @property
    def key(self) -> tuple[str, str]:
        return (self.lms, self.student)

    @property
    def notebook(self) -> bool:
        return self.file.lower().endswith(NOTEBOOK_SUFFIXES)


def resubmission(file: str) -> int:
    match = RESUBMISSION.match(PurePosixPath(file).name)
    return int(match.group("dash") or match.group("paren")) if match else 0


def _parts(path: str) -> list[str]:
    return [p for p in PurePosixPath(str(path).replace("\\", "/")).parts if p not in ("", "/", ".", "..")]


def _lms_file(name: str) -> Identity | None:
    """The identity a top-level file's name gives in Canvas's or Moodle's flat layout, if any."""
    moodle = MOODLE_PART.match(name)
    if moodle and moodle.group("file"):
        file = moodle.group("file")
        return Identity(MOODLE, moodle.group("participant"), moodle.group("name"), file=file,
                        resubmission=resubmission(file))
    anonymous = CANVAS_ANONYMOUS.match(name)
    if anonymous and not anonymous.group("anon").isdigit():
        file = anonymous.group("file")
        return Identity(CANVAS, f"anon_{anonymous.group('anon')}", "", bool(anonymous.group("late")), True,
                        int(anonymous.group("attachment")), file, resubmission(file))
    canvas = CANVAS_FILE.match(name)
    otter = OTTER_EXPORT.match(name)
    if canvas and not (otter and canvas.start("file") > otter.start("stamp")):  # ids read out of a timestamp
        prefix, late = canvas.group("prefix"), False
        if prefix == "LATE" or prefix.endswith("_LATE"):
            prefix, late = prefix[:-len("LATE")].rstrip("_"), True
        file = canvas.group("file")
        return Identity(CANVAS, canvas.group("user"), prefix, late, False, int(canvas.group("attachment")), file,
                        resubmission(file))
    return None


def _lms_folder(name: str) -> Identity | None:
    """The identity a top-level folder's name gives in Moodle's "download as folders" layout."""
    moodle = MOODLE_PART.match(name)
    return Identity(MOODLE, moodle.group("participant"), moodle.group("name")) if moodle else None


def _wrapper(paths: list[list[str]]) -> bool:
    """Whether every path lies in one folder that is not a student's: an LMS download or a
    class folder zipped or copied whole ("submissions/doejane_12_34_hw01.ipynb",
    "hw01/jdoe/hw01.ipynb")."""
    if not paths or any(len(p) < 2 for p in paths) or len({p[0] for p in paths}) != 1 or _lms_folder(paths[0][0]):
        return False
    inner = [p[1:] for p in paths]
    return all(len(p) >= 2 for p in inner) or any(
        _lms_folder(p[0]) if len(p) >= 2 else _lms_file(p[0]) for p in inner)


def identify_all(paths: list[str]) -> list[Identity]:
    """Who each file of one download belongs to, from the download's layout.

    Canvas's and Moodle's names are read at the download's top level only (below any folder
    that holds the whole download).  Inside a student's folder, a Moodle student's folder
    included, a file belongs to that student whatever it is called: a name there says nothing
    about whose it is, so ``mallory/victim_55_999_hw01.ipynb`` is mallory's.  A name otter's
    export cell made (``hw04_2026_12_01T09_14_03_123456.zip``) is never read as Canvas ids."""
    split = [_parts(p) for p in paths]
    depth = 0
    while _wrapper([p[depth:] for p in split]):
        depth += 1
    identities = []
    for path, parts in zip(paths, split):
        parts = parts[depth:]
        if not parts:
            identities.append(Identity(student="submission", file=str(path)))
            continue
        top, rest = parts[0], "/".join(parts[1:])
        if rest:
            folder = _lms_folder(top)
            identities.append(Identity(folder.lms, folder.student, folder.name, file=rest,
                                       resubmission=resubmission(rest)) if folder else
                              Identity("", top, file=rest, resubmission=resubmission(rest)))
        else:
            identities.append(_lms_file(top) or
                              Identity("", PurePosixPath(top).stem or top, file=top, resubmission=resubmission(top)))
    return identities


def identify(path: str) -> Identity:
    """Who the file at ``path`` belongs to, were it the download's only file (``identify_all``)."""
    return identify_all([path])[0]
