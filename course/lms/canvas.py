"""``canvas.csv``: the file Canvas's gradebook import takes as it is (Grades > Import).

Read in Canvas's ``lib/gradebook_importer.rb`` (github.com/instructure/canvas-lms): it accepts
a header whose first cells contain ``Student`` and ``ID`` and whose identity columns end at
``Section`` (``header?``, ``update_column_count``); it finds a student by ``ID``, then SIS
ids, then name (``process_student``); it matches an assignment by the ``(id)`` in its header
and turns any other column into a *new assignment* (``parse_assignments``), so ``canvas.csv``
holds the identity columns and exactly one assignment column; an empty or ``-`` cell is "no
change" (``no_change_to_value?``), so a student without a submission keeps what the export
said.  It never grades an anonymous assignment whose grades are not posted (``gradeable?``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from course.layout import CourseError
from course.lms.roster import Roster, number, parse_number
from course.lms.students import Submitter


def assignment_column(roster: Roster, assignment: str, lms_column: str | None) -> int:
    """The index of the assignment's ``Title (id)`` column in a Canvas export."""
    columns = roster.canvas_assignments()
    listing = "; ".join(roster.header[i] for i, _, _ in columns) or "none"
    if lms_column:
        wanted = lms_column.strip()
        tests: list[Callable[[int, str, str], bool]] = [
            lambda i, t, n: roster.header[i].strip() == wanted, lambda i, t, n: n == wanted,
            lambda i, t, n: t == wanted, lambda i, t, n: t.casefold() == wanted.casefold()]
        for test in tests:
            found = [i for i, t, n in columns if test(i, t, n)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise CourseError(f"--lms-column {lms_column!r} matches {len(found)} columns of {roster.path}: "
                                  "give the whole header, 'Title (id)'")
        raise CourseError(f"--lms-column {lms_column!r} is not an assignment column of {roster.path}; "
                          f"its assignment columns: {listing}")

    def norm(s: str) -> str:
        return re.sub(r"[\W_]+", "", s.casefold())

    found = [i for i, t, _ in columns if norm(t) == norm(assignment)]
    if len(found) == 1:
        return found[0]
    raise CourseError(f"{roster.path}: {'no' if not found else 'more than one'} assignment column is titled like "
                      f"{assignment!r}; pass --lms-column with the one to fill (its title, its id, or the whole "
                      f"'Title (id)' header). Its assignment columns: {listing}")


def write(roster: Roster, submitters: list[Submitter], path: Path, assignment: str,
                 lms_column: str | None) -> list[str]:
    """``canvas.csv``: the export's identity columns and the assignment's column, row for row."""
    column = assignment_column(roster, assignment, lms_column)
    width = roster.canvas_width
    notes = []
    possible = None
    for row in roster.rows:
        if roster.canvas_kind(row) == "points":
            possible = parse_number(roster.cell(row, column))
    by_row = {s.row: s for s in submitters if s.row is not None}
    out = [roster.header[:width] + [roster.header[column]]]
    scaled = False
    for i, row in enumerate(roster.rows):
        identity_cells = (row + [""] * width)[:width]
        cell = roster.cell(row, column)
        submitter = by_row.get(i)
        if submitter is not None and roster.canvas_kind(row) == "student":
            value = submitter.score
            if possible and submitter.max_score and abs(possible - submitter.max_score) > 1e-9:
                value, scaled = submitter.score / submitter.max_score * possible, True
            cell = number(value)
        out.append(identity_cells + [cell])
    roster.write(path, out)
    if scaled and possible is not None:
        notes.append(f"canvas.csv: Canvas's {roster.header[column]!r} is worth {number(possible)} points, the "
                     f"autograder's total {number(submitters[0].max_score)}: scores scaled to {number(possible)}")
    if possible is None:
        notes.append(f"canvas.csv: the export has no Points Possible for {roster.header[column]!r}: scores are "
                     "the autograder's points")
    return notes
