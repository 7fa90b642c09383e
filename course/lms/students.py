"""One row per student: a download's results grouped by who they belong to (the identity
``collect`` read from each file's path, or the roster row it matches), the file that counts,
the others, lateness, and the roster's students who submitted nothing.

The notebook counts; among several, the latest upload (Canvas's larger attachment id, else the
larger ``-N``/``(N)`` re-upload suffix); other files are listed in a note, never graded over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from course.identity import CANVAS, Identity
from course.lms.roster import Roster
from course.results import Result


@dataclass
class Submitter:
    """One student (or one anonymous id): the file that counts and the others."""

    counted: Result
    others: list[Result] = field(default_factory=list)
    late: bool = False
    test_student: bool = False
    row: int | None = None  # index into roster.rows when the roster has this student
    name: str = ""  # from the roster when it has the student, else from the download
    penalty: float = 0.0  # points taken off for lateness (export's policy)

    @property
    def identity(self) -> Identity:
        """The counted file's: a student's other files may have been named otherwise."""
        return self.counted.identity

    @property
    def student(self) -> str:
        return self.identity.student

    @property
    def score(self) -> float:
        return max(0.0, self.counted.score - self.penalty)

    @property
    def max_score(self) -> float:
        return self.counted.max_score


def _preference(result: Result) -> tuple[bool, int, int, str]:
    identity = result.identity
    return (identity.notebook, identity.attachment if identity.attachment is not None else -1,
            identity.resubmission, result.source)


def _roster_row(roster: Roster, by_id: dict[str, int], by_key: dict[str, int], identity: Identity) -> int | None:
    """The roster row a file's identity names: the LMS's own id for that LMS's download, any of
    the roster's identifiers (id, SIS login, email, ...) for a plain folder or file name."""
    if identity.lms == roster.lms:
        return by_id.get(identity.student)
    if identity.lms == "":
        return by_key.get(identity.student.strip().casefold())
    return None


def group(results: list[Result], roster: Roster | None = None) -> list[Submitter]:
    """One ``Submitter`` per student, in the order of their first file.

    A student's files are grouped by the LMS's id (or by the roster row they match); the one
    that counts is a notebook before any other file, then the latest upload (Canvas's larger
    attachment id, else the larger re-upload suffix, else the last name in order)."""
    by_id: dict[str, int] = {}
    by_key: dict[str, int] = {}
    if roster is not None:
        for i in roster.student_rows():
            cells = roster.rows[i]
            sid = roster.student_id(cells)
            if sid:
                by_id.setdefault(sid, i)
            for name in roster.student_keys(cells):
                by_key.setdefault(name, i)
    groups: dict[tuple[str, ...] | int, list[Result]] = {}
    for result in results:
        row = _roster_row(roster, by_id, by_key, result.identity) if roster is not None else None
        groups.setdefault(row if row is not None else result.identity.key, []).append(result)
    submitters = []
    for group_key, files in groups.items():
        counted = max(files, key=_preference)
        others = [r for r in files if r is not counted]
        identity = counted.identity
        if roster is not None and isinstance(group_key, int):
            cells = roster.rows[group_key]
            submitters.append(Submitter(counted, others, identity.late or roster.late(cells),
                                        roster.test_student(cells), group_key, roster.student_name(cells)))
        else:
            test = identity.lms == CANVAS and identity.name == "studenttest"
            submitters.append(Submitter(counted, others, identity.late, test, None, identity.name))
    return submitters


class StudentRecord(TypedDict):
    """One ``Submitter`` in ``lms.json``, its text escaped (``course.text.escape``)."""

    student: str
    lms: str
    name: str
    counted: str  # the counted result's key (``results/<key>.json``, ``feedback/<key>.html``)
    others: list[str]  # the other files' keys
    late: bool
    penalty: float
    test_student: bool
    anonymous: bool
    in_roster: bool


class RosterRecord(TypedDict):
    lms: str
    file: str
    students: int  # the roster's students, the test student aside
    non_submitters: list[str]  # their names, escaped


class Summary(TypedDict):
    """``lms.json``: the grouping of a graded batch, what ``course report`` and ``course push
    canvas`` read besides the results."""

    late_penalty: str | None
    notes: list[str]
    protections_missing: list[str]
    roster: RosterRecord | None
    students: list[StudentRecord]


def non_submitters(roster: Roster, submitters: list[Submitter]) -> list[int]:
    """Roster rows (indices) of students with no file in the download."""
    matched = {s.row for s in submitters if s.row is not None}
    return [i for i in roster.student_rows() if i not in matched]
