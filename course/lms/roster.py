"""The class list the instructor downloads beside the submissions, as the LMS wrote it:
Canvas's gradebook export or Moodle's grading worksheet, recognised from its header, and
written back in its own dialect (delimiter, BOM, numbers) by the import files.

Every format here was read in the LMS's own source, not guessed.

- Canvas (github.com/instructure/canvas-lms), ``lib/gradebook_exporter.rb``: ``Student, ID,
  [SIS User ID,] SIS Login ID, [Integration ID,] [Root Account,] Section``, custom columns,
  then one ``Title (id)`` column per assignment (``Assignment#title_with_id``); an optional
  "Manual Posting" row, then ``    Points Possible``; the test student's row comes last
  (``enrollments_for_csv``).  ``lib/gradebook_importer.rb`` reads the identity columns'
  width from the header (``update_column_count``) and skips the rows that are not students
  (``check_for_non_student_row``).
- Moodle (github.com/moodle/moodle, ``mod/assign``), ``gradingtable.php`` (downloading):
  ``Identifier`` (``Participant <number>``), ``Full name``, the site's identity fields
  (``Email address``, ...), ``Status`` (``Submitted for grading - 2 days 3 hours late -
  Graded``: ``submittedlateshort`` is "{$a} late"), ``Grade``, ``Maximum grade`` (or
  ``Scale``), ``Grade can be changed``, ``Last modified (submission)``, ``Last modified
  (grade)``, then one column per feedback plugin field (``Feedback comments``, only when that
  plugin is on).  Only an English worksheet is recognised (the column names are translated).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from course.files import write_atomic
from course.identity import CANVAS, MOODLE
from course.layout import CourseError

# gradebook_importer.rb and gradebook_exporter.rb
CANVAS_TITLE_AND_ID = re.compile(r"(.*)\s\((\d+)\)")  # Assignment.title_and_id
CANVAS_TEST_STUDENT = "Student, Test"  # the sortable name of Canvas's "Test Student"
CANVAS_KEYS = ("ID", "SIS User ID", "SIS Login ID", "Integration ID")
# gradingtable.php, lang/en/assign.php and lang/en/moodle.php (English)
MOODLE_IDENTIFIER, MOODLE_GRADE, MOODLE_MODIFIED = "Identifier", "Grade", "Last modified (grade)"
MOODLE_MAXIMUM, MOODLE_FEEDBACK, MOODLE_STATUS = "Maximum grade", "Feedback comments", "Status"
MOODLE_CHANGEABLE, MOODLE_SCALE, MOODLE_NAME = "Grade can be changed", "Scale", "Full name"
MOODLE_KEYS = ("Email address", "ID number", "Username")
MOODLE_LATE = re.compile(r"\blate\b", re.I)  # submittedlateshort: "{$a} late"

CanvasRow = Literal["points", "hidden", "blank", "student"]  # check_for_non_student_row's kinds


@dataclass
class Roster:
    """Canvas's gradebook export or Moodle's grading worksheet, as downloaded."""

    lms: str
    path: Path
    header: list[str]
    rows: list[list[str]]  # every row after the header, as read
    delimiter: str = ","
    bom: bool = False

    def column(self, name: str) -> int | None:
        """The index of the header cell named ``name`` (case and outer spaces aside)."""
        wanted = name.strip().casefold()
        for i, cell in enumerate(self.header):
            if cell.strip().casefold() == wanted:
                return i
        return None

    def cell(self, row: list[str], index: int | None) -> str:
        return row[index] if index is not None and index < len(row) else ""

    def write(self, path: Path, rows: list[list[str]]) -> None:
        """``rows`` as a CSV file in this roster's dialect, which its LMS reads back."""
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\n").writerows(rows)
        write_atomic(path, ("\ufeff" if self.bom else "") + out.getvalue())

    # -- Canvas

    @property
    def canvas_first_last(self) -> bool:
        return len(self.header) > 1 and self.header[0].strip() == "LastName" and self.header[1].strip() == "FirstName"

    @property
    def canvas_width(self) -> int:
        """How many identity columns: gradebook_importer.rb, update_column_count."""
        h = [c.strip() for c in self.header] + ["", "", "", "", ""]
        n = width = 4 if self.canvas_first_last else 3
        if re.search(r"SIS\s+Login\s+ID", h[n - 1]):
            width += 1
        elif re.search(r"SIS\s+User\s+ID", h[n - 1]) and re.search(r"SIS\s+Login\s+ID", h[n]):
            extra = 1 if re.search(r"Integration\s+ID", h[n + 1]) else 0
            width += 2 + extra
            if re.search(r"Root\s+Account", h[n + 1 + extra]):
                width += 1
        return width

    def canvas_kind(self, row: list[str]) -> CanvasRow:
        """Points Possible, a hidden row (Muted / Manual Posting), a blank one, or a student's."""
        if row and "Points Possible" in row[0]:
            return "points"
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c or "", re.I) for c in row):
            return "blank" if not any(c.strip() for c in row) else "hidden"
        return "student"

    def canvas_assignments(self) -> list[tuple[int, str, str]]:
        """(index, title, id) of each ``Title (id)`` column after the identity columns."""
        found = []
        for i, cell in enumerate(self.header[self.canvas_width:], start=self.canvas_width):
            match = CANVAS_TITLE_AND_ID.fullmatch(cell.strip())
            if match:
                found.append((i, match.group(1), match.group(2)))
        return found

    # -- both

    def student_rows(self) -> list[int]:
        if self.lms == CANVAS:
            return [i for i, row in enumerate(self.rows) if self.canvas_kind(row) == "student"]
        return [i for i, row in enumerate(self.rows) if any(c.strip() for c in row)]

    def student_id(self, row: list[str]) -> str:
        """The LMS's own id of a student row: Canvas's ID, Moodle's participant number."""
        if self.lms == CANVAS:
            return self.cell(row, 2 if self.canvas_first_last else 1).strip()
        match = re.search(r"(\d+)\s*$", self.cell(row, self.column(MOODLE_IDENTIFIER)))
        return match.group(1) if match else ""

    def student_keys(self, row: list[str]) -> list[str]:
        """Every identifier a plain file name could use for this student (lower case)."""
        names = CANVAS_KEYS if self.lms == CANVAS else MOODLE_KEYS
        keys = [self.student_id(row)] + [self.cell(row, self.column(n)) for n in names]
        return [k.strip().casefold() for k in keys if k and k.strip()]

    def student_name(self, row: list[str]) -> str:
        if self.lms == CANVAS:
            return f"{row[1]} {row[0]}".strip() if self.canvas_first_last and len(row) > 1 else self.cell(row, 0)
        return self.cell(row, self.column(MOODLE_NAME))

    def test_student(self, row: list[str]) -> bool:
        if self.lms != CANVAS:
            return False
        if self.canvas_first_last:
            return [c.strip() for c in row[:2]] == ["Student", "Test"]
        return self.cell(row, 0).strip() == CANVAS_TEST_STUDENT

    def late(self, row: list[str]) -> bool:
        return self.lms == MOODLE and bool(MOODLE_LATE.search(self.cell(row, self.column(MOODLE_STATUS))))


def number(value: float) -> str:
    """A score as the LMSs export them: at most two decimals, no trailing zeros."""
    return f"{round(value + 0.0, 2):.2f}".rstrip("0").rstrip(".") or "0"


def parse_number(text: str) -> float | None:
    """A number cell of a roster, or None: a decimal comma is Moodle's ``format_float`` and
    Canvas's ``I18n.n`` in many locales."""
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _delimiter(first_line: str) -> str:
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def read_roster(path: Path) -> Roster:
    """The class list the instructor downloaded: recognised from its header (a UTF-8 BOM is
    fine: Moodle's ``csv_import_reader`` drops it too)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise CourseError(f"cannot read the roster {path}: {e}") from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CourseError(f"{path}: not UTF-8 text; save the LMS's download as it came (CSV, UTF-8)") from None
    lines = text.splitlines()
    if not lines:
        raise CourseError(f"{path}: empty roster")
    delimiter = _delimiter(lines[0])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header, rows = rows[0], [r for r in rows[1:] if r]
    roster = Roster("", Path(path), header, rows, delimiter, bom)
    h = [c.strip() for c in header]
    canvas_names = (len(h) > 3 and "Student" in h[0] and "ID" in h[1]) or (
        len(h) > 4 and "LastName" in h[0] and "FirstName" in h[1] and "ID" in h[2])
    if canvas_names:
        roster.lms = CANVAS
        if "Section" not in h[roster.canvas_width - 1]:
            raise CourseError(f"{path}: a Canvas gradebook export's identity columns end at Section "
                              f"(gradebook_importer.rb); this header has {h[:roster.canvas_width]}")
        return roster
    roster.lms = MOODLE
    missing = [n for n in (MOODLE_IDENTIFIER, MOODLE_GRADE, MOODLE_MODIFIED) if roster.column(n) is None]
    if not missing:
        return roster
    raise CourseError(
        f"{path}: not a roster this grader knows. Expected Canvas's gradebook export (Grades > Export: "
        "Student, ID, ..., Section, then 'Title (id)' columns) or Moodle's grading worksheet (Assignment > "
        "View all submissions > Download grading worksheet, in English: Identifier, ..., Grade, ..., "
        f"Last modified (grade)). Its header: {h[:12]}")
