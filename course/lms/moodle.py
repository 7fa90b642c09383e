"""``moodle.csv``: the grading worksheet Moodle's offline grading imports (Assignment > View all
submissions > Upload grading worksheet).

Read in Moodle's ``mod/assign`` (github.com/moodle/moodle): ``feedback/offline/
importgradeslib.php`` finds ``Identifier``, ``Grade`` and ``Last modified (grade)`` by their
exact (translated) names and the feedback columns by the plugin's field name;
``locallib.php`` (``process_import_grades``) skips a grade that is empty, unchanged, above the
maximum, locked, or changed in Moodle after the worksheet's ``Last modified (grade)``.  So
``moodle.csv`` is the worksheet as downloaded with ``Grade`` (scaled to ``Maximum grade``) and
``Feedback comments`` filled in.
"""

from __future__ import annotations

from pathlib import Path

from course.layout import CourseError
from course.lms.roster import (MOODLE_CHANGEABLE, MOODLE_FEEDBACK, MOODLE_GRADE, MOODLE_IDENTIFIER, MOODLE_MAXIMUM,
                               MOODLE_SCALE, Roster, number, parse_number)
from course.lms.students import Submitter


def write(roster: Roster, submitters: list[Submitter], path: Path, feedback: dict[int, str]) -> list[str]:
    """``moodle.csv``: the worksheet as downloaded, ``Grade`` and ``Feedback comments`` filled in."""
    grade_i, max_i = roster.column(MOODLE_GRADE), roster.column(MOODLE_MAXIMUM)
    feedback_i, change_i = roster.column(MOODLE_FEEDBACK), roster.column(MOODLE_CHANGEABLE)
    if grade_i is None:
        raise CourseError(f"{roster.path}: not a Moodle grading worksheet (it has no {MOODLE_GRADE!r} column)")
    notes = []
    if max_i is None:
        notes.append("moodle.csv: the worksheet has no 'Maximum grade' column (the assignment uses a scale?): "
                     "grades left empty, only feedback filled in" if roster.column(MOODLE_SCALE) is not None else
                     "moodle.csv: the worksheet has no 'Maximum grade' column: grades are the autograder's points")
    if feedback_i is None:
        notes.append("moodle.csv: no 'Feedback comments' column (turn on the feedback comments plugin of the "
                     "assignment and download the worksheet again to send per-question feedback)")
    by_row = {s.row: s for s in submitters if s.row is not None}
    locked = []
    out = [list(roster.header)]
    for i, row in enumerate(roster.rows):
        row = list(row) + [""] * (len(roster.header) - len(row))
        submitter = by_row.get(i)
        if submitter is not None:
            maximum_text = roster.cell(row, max_i)
            maximum = parse_number(maximum_text) if max_i is not None else None
            if max_i is None and roster.column(MOODLE_SCALE) is not None:
                pass  # a scale: Moodle wants one of its words, which a score cannot choose
            elif maximum is not None and submitter.max_score:
                value = min(maximum, round(submitter.score / submitter.max_score * maximum, 2))
                text = number(value)
                row[grade_i] = text.replace(".", ",") if "," in maximum_text and "." not in maximum_text else text
            else:
                row[grade_i] = number(submitter.score)
            if feedback_i is not None:
                row[feedback_i] = feedback.get(i, "")
            if roster.cell(row, change_i).strip().casefold() == "no":
                locked.append(roster.student_name(row) or roster.cell(row, roster.column(MOODLE_IDENTIFIER)))
        out.append(row)
    roster.write(path, out)
    if locked:
        notes.append(f"moodle.csv: Moodle will not change the grades of {len(locked)} student(s) whose grade is "
                     f"locked ('Grade can be changed' is No): {', '.join(locked[:10])}")
    return notes
