"""Learning management systems: who a downloaded file belongs to, the class list the
instructor downloads beside it, and the grade file that LMS then imports as it is.

Every format here was read in the LMS's own source, not guessed.

**Canvas** (github.com/instructure/canvas-lms):

- ``lib/content_zipper.rb`` (``get_filename``, ``add_upload_submission``, ``sanitize_*``) names
  each file of "Download Submissions" ``<name>[_LATE]_<user id>_<attachment id>_<file>``: the
  name is the sortable name lower-cased with every non-word character removed ("Doe, Jane" ->
  ``doejane``), ``LATE`` is upper case, the second number is the *attachment* (file) id, and
  an anonymous assignment has ``[LATE_]anon_<anonymous id>_<attachment id>_<file>``
  (``Anonymity.generate_short_id``: five base58 characters).  A file whose name the student
  already used gets ``-1``, ``-2``, ... before its extension (``Attachment.make_unique_filename``).
- ``lib/gradebook_exporter.rb`` writes ``Student, ID, [SIS User ID,] SIS Login ID,
  [Integration ID,] [Root Account,] Section``, custom columns, then one ``Title (id)`` column
  per assignment (``Assignment#title_with_id``); an optional "Manual Posting" row, then
  ``    Points Possible``; the test student's row comes last (``enrollments_for_csv``).
- ``lib/gradebook_importer.rb`` accepts a header whose first cells contain ``Student`` and
  ``ID`` and whose identity columns end at ``Section`` (``header?``, ``update_column_count``);
  it finds a student by ``ID``, then SIS ids, then name (``process_student``); it matches an
  assignment by the ``(id)`` in its header and turns any other column into a *new assignment*
  (``parse_assignments``), so ``canvas.csv`` holds the identity columns and exactly one
  assignment column; an empty or ``-`` cell is "no change" (``no_change_to_value?``), so a
  student without a submission keeps what the export said.  It never grades an anonymous
  assignment whose grades are not posted (``gradeable?``).

**Moodle** (github.com/moodle/moodle, ``mod/assign``):

- ``classes/downloader.php`` (``get_student_prefix``, ``load_submissionplugin_filelist``): the
  prefix is the full name (``_`` turned into spaces; "Participant" under anonymous
  submissions) then ``_<participant number>``; "download as folders" gives
  ``<prefix>_assignsubmission_file/<file>`` (Moodle 3.x: a trailing ``_``), the flat layout
  ``<prefix>_assignsubmission_file_<file>``.  The file picker renames a second ``a.ipynb`` to
  ``a (1).ipynb``.
- ``gradingtable.php`` (downloading): ``Identifier`` (``Participant <number>``), ``Full name``,
  the site's identity fields (``Email address``, ...), ``Status`` (``Submitted for grading -
  2 days 3 hours late - Graded``: ``submittedlateshort`` is "{$a} late"), ``Grade``,
  ``Maximum grade`` (or ``Scale``), ``Grade can be changed``, ``Last modified (submission)``,
  ``Last modified (grade)``, then one column per feedback plugin field (``Feedback comments``,
  only when that plugin is on).
- ``feedback/offline/importgradeslib.php`` finds ``Identifier``, ``Grade`` and ``Last modified
  (grade)`` by their exact (translated) names and the feedback columns by the plugin's field
  name; ``locallib.php`` (``process_import_grades``) skips a grade that is empty, unchanged,
  above the maximum, locked, or changed in Moodle after the worksheet's ``Last modified
  (grade)``; ``csv_import_reader`` drops a UTF-8 BOM.  So ``moodle.csv`` is the worksheet as
  downloaded with ``Grade`` (scaled to ``Maximum grade``) and ``Feedback comments`` filled in.
  Only an English worksheet is recognised (the column names are translated).

One row per student: a student's files are grouped by the LMS's id; the notebook counts (the
latest upload when there are several: Canvas's larger attachment id, else the larger
``-N``/``(N)`` suffix); other files are listed in a note, never graded over it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from course.text import cell as spreadsheet_cell
from course.files import write_atomic
from course.layout import CourseError
from course.identity import CANVAS, identify_all, Identity, MOODLE
from course.results import Result

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


# ---------------------------------------------------------------- text from a submission


def neutralise(text: str) -> str:
    """A spreadsheet cell (``text.cell``): one line, nothing hidden, never a formula."""
    return spreadsheet_cell(text)


def number(value: float) -> str:
    """A score as the LMSs export them: at most two decimals, no trailing zeros."""
    return f"{round(value + 0.0, 2):.2f}".rstrip("0").rstrip(".") or "0"


# ---------------------------------------------------------------- the roster


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

    def canvas_kind(self, row: list[str]) -> str:
        """"points", "hidden" (Muted / Manual Posting), "blank" or "student": check_for_non_student_row."""
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


def _delimiter(first_line: str) -> str:
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def read_roster(path: Path) -> Roster:
    """The class list the instructor downloaded: recognised from its header (a UTF-8 BOM is fine)."""
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


# ---------------------------------------------------------------- one row per student


@dataclass
class Submitter:
    """One student (or one anonymous id): the file that counts and the others."""

    identity: Identity  # of the counted file
    counted: Result
    others: list[Result] = field(default_factory=list)
    late: bool = False
    test_student: bool = False
    row: int | None = None  # index into roster.rows when the roster has this student
    name: str = ""  # from the roster when it has the student, else from the download
    penalty: float = 0.0  # points taken off for lateness (export's policy)
    files: dict[str, Identity] = field(default_factory=dict)  # result key -> identity, for every file

    @property
    def student(self) -> str:
        return self.identity.student

    @property
    def score(self) -> float:
        return max(0.0, self.counted.score - self.penalty)

    @property
    def max_score(self) -> float:
        return self.counted.max_score


def _preference(item: tuple[Identity, Result]):
    identity, result = item
    return (identity.notebook, identity.attachment if identity.attachment is not None else -1,
            identity.resubmission, result.source)


def group(results: list[Result], roster: Roster | None = None) -> list[Submitter]:
    """One ``Submitter`` per student, in the order of their first file.

    A student's files are grouped by the LMS's id (or by the roster row they match); the one
    that counts is a notebook before any other file, then the latest upload (Canvas's larger
    attachment id, else the larger re-upload suffix, else the last name in order)."""
    by_id: dict[str, int] = {}
    by_key: dict[str, int] = {}
    if roster is not None:
        for i in roster.student_rows():
            row = roster.rows[i]
            sid = roster.student_id(row)
            if sid:
                by_id.setdefault(sid, i)
            for key in roster.student_keys(row):
                by_key.setdefault(key, i)
    groups: dict[tuple, list[tuple[Identity, Result]]] = {}
    rows: dict[tuple, int | None] = {}
    identities = identify_all([r.source for r in results])
    for result, identity in zip(results, identities):
        row = None
        if roster is not None:
            if identity.lms == roster.lms:
                row = by_id.get(identity.student)
            elif identity.lms == "":
                row = by_key.get(identity.student.strip().casefold())
        key = ("row", row) if row is not None else ("id",) + identity.key
        groups.setdefault(key, []).append((identity, result))
        rows[key] = row
    submitters = []
    for key, files in groups.items():
        identity, counted = max(files, key=_preference)
        others = [r for _, r in files if r is not counted]
        row = rows[key]
        roster_row = roster.rows[row] if roster is not None and row is not None else None
        late = counted.late or identity.late or (roster is not None and roster_row is not None and roster.late(roster_row))
        test = (roster.test_student(roster_row) if roster_row is not None
                else identity.lms == CANVAS and identity.name == "studenttest")
        name = roster.student_name(roster_row) if roster_row is not None else (identity.name or counted.name)
        submitters.append(Submitter(identity, counted, others, late, test, row, name,
                                    files={r.key: i for i, r in files}))
    return submitters


def non_submitters(roster: Roster, submitters: list[Submitter]) -> list[int]:
    """Roster rows (indices) of students with no file in the download."""
    matched = {s.row for s in submitters if s.row is not None}
    return [i for i in roster.student_rows() if i not in matched]


# ---------------------------------------------------------------- the files each LMS imports


def _write_csv(path: Path, rows: list[list[str]], delimiter: str, bom: bool) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    write_atomic(path, ("\ufeff" if bom else "") + out.getvalue())


def _parse_number(text: str) -> float | None:
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a decimal comma (Moodle's format_float, Canvas's I18n.n)
    try:
        return float(text)
    except ValueError:
        return None


def canvas_column(roster: Roster, assignment: str, lms_column: str | None) -> int:
    """The index of the assignment's ``Title (id)`` column in a Canvas export."""
    columns = roster.canvas_assignments()
    listing = "; ".join(roster.header[i] for i, _, _ in columns) or "none"
    if lms_column:
        wanted = lms_column.strip()
        for test in (lambda i, t, n: roster.header[i].strip() == wanted, lambda i, t, n: n == wanted,
                     lambda i, t, n: t == wanted, lambda i, t, n: t.casefold() == wanted.casefold()):
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


def write_canvas(roster: Roster, submitters: list[Submitter], path: Path, assignment: str,
                 lms_column: str | None) -> list[str]:
    """``canvas.csv``: the export's identity columns and the assignment's column, row for row."""
    column = canvas_column(roster, assignment, lms_column)
    width = roster.canvas_width
    notes = []
    possible = None
    for row in roster.rows:
        if roster.canvas_kind(row) == "points":
            possible = _parse_number(roster.cell(row, column))
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
    _write_csv(path, out, roster.delimiter, roster.bom)
    if scaled:
        notes.append(f"canvas.csv: Canvas's {roster.header[column]!r} is worth {number(possible)} points, the "
                     f"autograder's total {number(submitters[0].max_score)}: scores scaled to {number(possible)}")
    if possible is None:
        notes.append(f"canvas.csv: the export has no Points Possible for {roster.header[column]!r}: scores are "
                     "the autograder's points")
    return notes


def write_moodle(roster: Roster, submitters: list[Submitter], path: Path, feedback: dict[int, str]) -> list[str]:
    """``moodle.csv``: the worksheet as downloaded, ``Grade`` and ``Feedback comments`` filled in."""
    grade_i, max_i = roster.column(MOODLE_GRADE), roster.column(MOODLE_MAXIMUM)
    feedback_i, change_i = roster.column(MOODLE_FEEDBACK), roster.column(MOODLE_CHANGEABLE)
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
            maximum = _parse_number(maximum_text) if max_i is not None else None
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
    _write_csv(path, out, roster.delimiter, roster.bom)
    if locked:
        notes.append(f"moodle.csv: Moodle will not change the grades of {len(locked)} student(s) whose grade is "
                     f"locked ('Grade can be changed' is No): {', '.join(locked[:10])}")
    return notes
