"""The LMS round trip: downloads and rosters shaped exactly as Canvas and Moodle make them, and
the import files checked cell by cell against what each LMS's importer reads.

The shapes and the importers below are small Python ports of the LMSs' own code (cited per
function), kept apart from ``course/lms/`` so that a mistake there cannot hide here:
Canvas's ``lib/content_zipper.rb``, ``lib/gradebook_exporter.rb``, ``lib/gradebook_importer.rb``;
Moodle's ``mod/assign/classes/downloader.php``, ``gradingtable.php`` and
``feedback/offline/importgradeslib.php`` + ``locallib.php``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course import identity as who
from course.lms import canvas, roster as rosters, students
from course.outputs import export
from course.layout import CourseError
from course.results import CaseResult, Result, Status

ROOT = Path(__file__).resolve().parent.parent
FORMULA = ("=", "+", "-", "@", "\t", "\r")

# ---------------------------------------------------------------- the LMSs' shapes (ports)


def canvas_name(sortable_name: str | None, user_id, attachment_id, display_name: str, late: bool = False,
                anonymous_id: str | None = None) -> str:
    """content_zipper.rb: get_filename, sanitize_user_name, sanitize_file_name, add_upload_submission."""
    if anonymous_id is None:
        users_name = re.sub(r"_(\d+)_", r"\1", sortable_name).lower()
        ident = str(user_id)
    else:
        users_name, ident = None, f"anon_{anonymous_id}"
    filename = "_".join(p for p in (users_name, "LATE" if late else None, ident) if p is not None)
    filename = re.sub(r"[^\w]", "", filename)  # gsub(/[^[[:word:]]]/, "")
    display = re.sub(r'[\x00/\\:*?"<>|]+', "_", display_name)
    return f"{filename}_{attachment_id}_{display}"


def moodle_name(fullname: str, participant: int, file: str, folders: bool = True, plugin: str = "file") -> str:
    """downloader.php: get_student_prefix, load_submissionplugin_filelist (clean_filename approximated)."""
    def clean_filename(s: str) -> str:
        return re.sub(r'[\x00-\x1f\\/:*?"<>|]', "", s)
    prefix = clean_filename(fullname.replace("_", " ") + "_" + str(participant))
    if folders:
        return f"{clean_filename(f'{prefix}_assignsubmission_{plugin}')}/{file}"
    return clean_filename(f"{prefix}_assignsubmission_{plugin}_{file}")


CANVAS_TOTALS = ["Current Points", "Final Points", "Current Score", "Unposted Current Score", "Final Score",
                 "Unposted Final Score"]


def canvas_export(students: list[tuple], assignments: list[tuple[str, int, str]], *, integration: bool = False,
                  manual_posting: bool = False, bom: bool = False, delimiter: str = ",",
                  custom: tuple[str, ...] = ()) -> str:
    """gradebook_exporter.rb (include_sis_id): header, [Manual Posting row], Points Possible, students
    (``(sortable name, id, sis id, login, section, {assignment id: cell})``, the test student last)."""
    header = ["Student", "ID", "SIS User ID", "SIS Login ID"] + (["Integration ID"] if integration else []) + ["Section"]
    width = len(header)
    header += list(custom) + [f"{title} ({aid})" for title, aid, _ in assignments] + CANVAS_TOTALS
    rows = [header]
    if manual_posting:
        rows.append([""] * (width + len(custom)) + ["Manual Posting"] * len(assignments) + [""] * len(CANVAS_TOTALS))
    rows.append(["    Points Possible"] + [""] * (width - 1) + ["(read only)" if False else ""] * len(custom)
                + [pp for _, _, pp in assignments] + ["(read only)"] * len(CANVAS_TOTALS))
    for name, uid, sis, login, section, cells in students:
        row = [name, str(uid), sis, login] + ([f"int-{uid}"] if integration else []) + [section]
        row += ["note"] * len(custom) + [cells.get(aid, "") for _, aid, _ in assignments] + ["1", "1", "50", "50", "50", "50"]
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return ("\ufeff" if bom else "") + out.getvalue()


MOODLE_HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade", "Grade can be changed",
                 "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def moodle_worksheet(students: list[tuple], maximum: str = "100.00", bom: bool = True, feedback: bool = True) -> str:
    """gradingtable.php, downloading: one row per participant (``(participant, name, email, status)``)."""
    header = MOODLE_HEADER if feedback else MOODLE_HEADER[:-1]
    rows = [header]
    for participant, name, email, status in students:
        submitted = "Monday, 30 November 2026, 9:41 AM" if status != "No submission" else "-"
        row = [f"Participant {participant}", name, email, status, "", maximum, "Yes", submitted, "-"]
        rows.append(row + ([""] if feedback else []))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return ("\ufeff" if bom else "") + out.getvalue()


# ---------------------------------------------------------------- the LMSs' importers (ports)


def canvas_import(text: str, assignments: dict[str, str], students: set[str]) -> dict:
    """gradebook_importer.rb, as far as a grade file is concerned: header?, update_column_count,
    strip_non_assignment_columns, parse_assignments, check_for_non_student_row, process_student."""
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r and not re.fullmatch(r"[;, ]*", "".join(r))]
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], "Invalid header row"
    n = width = 3
    if re.search(r"SIS\s+Login\s+ID", header[n - 1]):
        width += 1
    elif re.search(r"SIS\s+User\s+ID", header[n - 1]) and re.search(r"SIS\s+Login\s+ID", header[n]):
        extra = 1 if re.search(r"Integration\s+ID", header[n + 1]) else 0
        width += 2 + extra
    assert "Section" in header[width - 1], "Invalid header row"
    non_assignment = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                                "Override Score|Override Grade|Override Status")
    columns, new = {}, []
    for i, name in enumerate(header[width:], start=width):
        if non_assignment.search(name):
            continue
        match = re.fullmatch(r"(.*)\s\((\d+)\)", name)
        if match and match.group(2) in assignments:
            columns[match.group(2)] = i
        elif name in assignments.values():
            columns[[k for k, v in assignments.items() if v == name][0]] = i
        else:
            new.append(name)
    grades, missing, points = {}, [], {}
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            points = {a: row[i] for a, i in columns.items()}
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row):
            continue
        if row[1] not in students:
            missing.append(row[1])
            continue
        grades[row[1]] = {a: row[i].strip() for a, i in columns.items()}
    return {"new_assignments": new, "missing_students": missing, "grades": grades, "points": points}


def moodle_import(text: str, existing: dict[str, str], maximum: float) -> dict[str, dict]:
    """importgradeslib.php (init, next) and locallib.php (process_import_grades): what changes."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").strip()
    rows = list(csv.reader(io.StringIO(text)))
    columns = rows[0]
    index = {name: columns.index(name) for name in ("Identifier", "Grade", "Last modified (grade)") if name in columns}
    assert len(index) == 3, "invalidgradeimport"
    feedback = columns.index("Feedback comments") if "Feedback comments" in columns else None
    changed = {}
    for record in rows[1:]:
        participant = record[index["Identifier"]][len("Participant "):]
        grade_text = record[index["Grade"]].strip()
        grade = float(grade_text.replace(",", ".")) if grade_text else None  # unformat_float
        skip = (grade is None or grade < 0 or grade > maximum
                or (existing.get(participant) not in (None, "") and float(existing[participant]) == grade))
        entry = {}
        if not skip:
            entry["grade"] = grade
        if feedback and record[feedback]:
            entry["feedback"] = record[feedback]
        if entry:
            changed[participant] = entry
    return changed


# ---------------------------------------------------------------- synthetic results

PLAN = {"assignment": "hw01_derivatives", "fixtures": {}, "questions": [
    {"name": "q1", "title": "Forward difference", "points": 4, "functions": ["numerical_derivative"], "outputs": [],
     "cases": [{"id": "notes", "label": "x^2 at x = 3", "points": 2, "hidden": False},
               {"id": "sin", "label": "sin at x = 0.7", "points": 2, "hidden": True}]},
    {"name": "q2", "title": "ReLU derivative", "points": 6, "functions": ["relu_grad"], "outputs": [],
     "cases": [{"id": "five", "label": "ReLU' at [-2, -1, 0, 1, 2]", "points": 3, "hidden": False},
               {"id": "zero", "label": "0 at exactly x = 0", "points": 3, "hidden": True}]}]}


def result(source: str, failed: tuple[str, ...] = (), status: Status = Status.OK, key: str | None = None) -> Result:
    """A graded file: every case passed except the ``question/case`` ids in ``failed``."""
    r = Result(key or re.sub(r"[^A-Za-z0-9._-]+", "_", source), source, who.identify(source), status=status,
               seconds=0.5)
    for q in PLAN["questions"]:
        for c in q["cases"]:
            bad = f"{q['name']}/{c['id']}" in failed or status is Status.NOT_A_NOTEBOOK
            r.cases.append(CaseResult(q["name"], c["id"], c["label"], 0 if bad else c["points"], c["points"],
                                      c["hidden"], f"{c['label']}: got 1, expected 0" if bad else ""))
    return r


def collected(results: list[Result]) -> list[Result]:
    """``results`` as one download: each file's identity read with the others, as collect reads it."""
    for r, identity in zip(results, who.identify_all([r.source for r in results])):
        r.identity = identity
    return results


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


# ---------------------------------------------------------------- who a file belongs to


@pytest.mark.parametrize("path, expected", [
    (canvas_name("Doe, Jane", 12345, 67890, "hw01_derivatives.ipynb"),
     dict(lms="canvas", student="12345", name="doejane", late=False, attachment=67890, file="hw01_derivatives.ipynb")),
    (canvas_name("Roe, Bob", 222, 334, "hw01_derivatives-1.ipynb", late=True),
     dict(lms="canvas", student="222", name="roebob", late=True, attachment=334, resubmission=1)),
    (canvas_name("O_Brien 2_3, Pat", 77, 88, "my_hw_2024_01.ipynb"),
     dict(student="77", name="o_brien2_3pat", attachment=88, file="my_hw_2024_01.ipynb")),
    (canvas_name("Lee_12_Kim, Ann", 78, 89, "hw_1_2_.ipynb"), dict(student="78", name="lee12kimann", file="hw_1_2_.ipynb")),
    (canvas_name("", 12, 34, "x.ipynb", late=True), dict(student="12", name="", late=True, attachment=34)),
    (canvas_name("Kim, 민준", 5, 6, "과제 1.ipynb"), dict(student="5", name="kim민준", file="과제 1.ipynb")),
    (canvas_name(None, None, 555, "hw01.ipynb", late=True, anonymous_id="Hx3Kq"),
     dict(lms="canvas", student="anon_Hx3Kq", anonymous=True, late=True, attachment=555, file="hw01.ipynb")),
    (canvas_name(None, None, 556, "hw01.ipynb", anonymous_id="a1b2C"), dict(student="anon_a1b2C", late=False)),
    (canvas_name("Anon", 8, 9, "hw01.ipynb"), dict(student="8", name="anon", anonymous=False)),
    (canvas_name("Doe, Jane", 12345, 67891, 'a:b"c.ipynb'), dict(student="12345", file="a_b_c.ipynb")),
    (moodle_name("Jane Doe", 1234567, "hw01_derivatives.ipynb"),
     dict(lms="moodle", student="1234567", name="Jane Doe", file="hw01_derivatives.ipynb")),
    (moodle_name("Jane_Doe", 1234567, "hw01 (1).ipynb", folders=False),
     dict(lms="moodle", student="1234567", name="Jane Doe", file="hw01 (1).ipynb", resubmission=1)),
    (moodle_name("Participant", 7654321, "sub/hw01.ipynb"), dict(lms="moodle", student="7654321", file="sub/hw01.ipynb")),
    ("Jane Doe_1234567_assignsubmission_file_/hw01.ipynb", dict(lms="moodle", student="1234567", file="hw01.ipynb")),
    ("course-hw01-55/" + moodle_name("Jane Doe", 42, "hw01.ipynb"), dict(lms="moodle", student="42")),
    (moodle_name("Jane Doe", 42, "onlinetext.html", plugin="onlinetext"), dict(lms="moodle", student="42")),
    ("jdoe/hw01_derivatives.ipynb", dict(lms="", student="jdoe", file="hw01_derivatives.ipynb")),
    ("jdoe.ipynb", dict(lms="", student="jdoe")),
    ("=1+2.ipynb", dict(lms="", student="=1+2", file="=1+2.ipynb")),
    (".hidden.ipynb", dict(lms="", student=".hidden")),
])
def test_identify_reads_the_download_names_as_the_lms_writes_them(path, expected):
    identity = who.identify(path)
    assert {k: getattr(identity, k) for k in expected} == expected


@pytest.mark.parametrize("path", ["", "/", "..", "a/../b", "\ud800.ipynb", "_" * 300, "1_2_3", "a_1_2_", "x" * 10000])
def test_identify_never_fails(path):
    assert isinstance(who.identify(path), who.Identity)


# ---------------------------------------------------------------- rosters


def test_rosters_are_recognised_from_their_header(tmp_path):
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(canvas_export([("Doe, Jane", 1, "S1", "jdoe", "A", {})], [("hw01_derivatives", 9, "10")],
                                    bom=True, integration=True, custom=("Notes",)), encoding="utf-8")
    roster = rosters.read_roster(canvas)
    assert (roster.lms, roster.bom, roster.canvas_width) == ("canvas", True, 6)
    assert roster.canvas_assignments() == [(7, "hw01_derivatives", "9")]
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(canvas_export([("Doe, Jane", 1, "S1", "jdoe", "A", {})], [("hw 1", 9, "10,5")],
                                        delimiter=";"), encoding="utf-8")
    assert (rosters.read_roster(semicolons).lms, rosters.read_roster(semicolons).delimiter) == ("canvas", ";")
    moodle = tmp_path / "worksheet.csv"
    moodle.write_text(moodle_worksheet([(1, "Jane Doe", "j@x", "Submitted for grading")]), encoding="utf-8")
    assert (rosters.read_roster(moodle).lms, rosters.read_roster(moodle).bom) == ("moodle", True)
    other = tmp_path / "other.csv"
    other.write_text("name,email,score\nJane,j@x,3\n", encoding="utf-8")
    with pytest.raises(CourseError, match="not a roster"):
        rosters.read_roster(other)
    no_section = tmp_path / "nosection.csv"
    no_section.write_text("Student,ID,SIS User ID,SIS Login ID,hw (1)\n", encoding="utf-8")
    with pytest.raises(CourseError, match="Section"):
        rosters.read_roster(no_section)


def test_canvas_column_by_title_or_by_option(tmp_path):
    path = tmp_path / "canvas.csv"
    path.write_text(canvas_export([], [("HW01 Derivatives", 9, "10"), ("Quiz 1", 11, "5"), ("Quiz 1", 12, "5")]),
                    encoding="utf-8")
    roster = rosters.read_roster(path)
    assert roster.header[canvas.assignment_column(roster, "hw01_derivatives", None)] == "HW01 Derivatives (9)"
    assert roster.header[canvas.assignment_column(roster, "x", "Quiz 1 (12)")] == "Quiz 1 (12)"
    assert roster.header[canvas.assignment_column(roster, "x", "11")] == "Quiz 1 (11)"
    with pytest.raises(CourseError, match="matches 2 columns"):
        canvas.assignment_column(roster, "x", "Quiz 1")
    with pytest.raises(CourseError, match="no assignment column"):
        canvas.assignment_column(roster, "hw02_gradients", None)


# ---------------------------------------------------------------- one row per student


def test_a_students_files_make_one_row_the_notebook_and_the_latest_upload_count():
    results = [
        result(canvas_name("Doe, Jane", 1, 100, "hw01_derivatives.ipynb")),
        result(canvas_name("Doe, Jane", 1, 101, "hw01_derivatives.pdf"), status=Status.NOT_A_NOTEBOOK),
        result(canvas_name("Roe, Bob", 2, 202, "hw01_derivatives-1.ipynb", late=True), failed=("q2/zero",)),
        result(canvas_name("Roe, Bob", 2, 201, "hw01_derivatives.ipynb", late=True)),
        result(moodle_name("Ann Lee", 7, "hw01.ipynb")),
        result(moodle_name("Ann Lee", 7, "hw01 (1).ipynb"), failed=("q1/sin",)),
        result("zoe/hw01.ipynb"), result("zoe/notes.txt", status=Status.NOT_A_NOTEBOOK),
    ]
    submitters = students.group(collected(results))
    assert [(s.student, s.counted.source, len(s.others), s.late) for s in submitters] == [
        ("1", results[0].source, 1, False),
        ("2", results[2].source, 1, True),  # attachment 202 is the later upload, whatever it scored
        ("7", results[5].source, 1, False),  # "(1)": Moodle's file picker's second upload
        ("zoe", "zoe/hw01.ipynb", 1, False)]
    in_a_folder = [result("class/amy/hw01.ipynb"), result("class/amy/notes.pdf", status=Status.NOT_A_NOTEBOOK),
                   result("class/ben/hw01.ipynb")]
    assert [(s.student, len(s.others)) for s in students.group(collected(in_a_folder))] == [("amy", 1), ("ben", 0)]


def test_gradebook_has_a_row_per_file_a_late_column_and_no_formulas(tmp_path):
    results = [result("=1+2.ipynb"), result("@SUM(A1).ipynb", status=Status.NOT_A_NOTEBOOK),
               result("-3+4/hw01.ipynb"), result(canvas_name("Doe, Jane", 1, 10, "=HYPERLINK(x).ipynb", late=True)),
               result("\tcmd.ipynb")]
    results[0].detail = "=cmd|' /C calc'!A0"
    results[2].log = ["cell 3 raised", "NO Landlock on this kernel (forged by the notebook: not read)"]
    results[2].protections_missing = ["Landlock on this kernel"]
    export.write_all(collected(results), PLAN, tmp_path, late_penalty="10%")
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv", newline="", encoding="utf-8")))
    assert len(rows) == len(results)
    assert [r["late"] for r in rows] == ["no", "no", "no", "yes", "no"]
    assert [r["student"] for r in rows] == ["'=1+2", "'@SUM(A1)", "'-3+4", "1", "\\tcmd"]
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA), (column, cell)
    assert rows[0]["detail"] == "'=cmd|' /C calc'!A0"
    assert [r["protections missing"] for r in rows] == ["", "", "NO Landlock on this kernel", "", ""]
    assert rows[3]["late penalty"] == "1" and rows[3]["total"] == "9"  # 10% of 10 points off a late 10/10
    assert not (tmp_path / "canvas.csv").exists() and not (tmp_path / "moodle.csv").exists()


@pytest.mark.parametrize("policy, taken", [(None, 0), ("10%", 1), ("2", 2), ("2 points", 2), ("100%", 7)])
def test_late_penalty_is_opt_in_and_never_below_zero(tmp_path, policy, taken):
    late = result(canvas_name("Roe, Bob", 2, 20, "hw.ipynb", late=True), failed=("q2/five",))  # 7 of 10
    on_time = result(canvas_name("Doe, Jane", 1, 10, "hw.ipynb"), failed=("q2/five",))
    export.write_all(collected([late, on_time]), PLAN, tmp_path, late_penalty=policy)
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv", newline="", encoding="utf-8")))
    assert [float(r["total"]) for r in rows] == [7 - taken, 7]
    page = (tmp_path / "feedback" / f"{late.key}.html").read_text(encoding="utf-8")
    assert ("late penalty (" in page) == bool(taken)


def test_a_bad_penalty_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(CourseError, match="late-penalty"):
        export.write_all(collected([result("a.ipynb")]), PLAN, tmp_path, late_penalty="ten percent")
    assert not (tmp_path / "gradebook.csv").exists()


# ---------------------------------------------------------------- Canvas, cell by cell

CANVAS_STUDENTS = [
    ("Doe, Jane", 101, "S101", "jdoe", "Section A", {"4242": "", "77": "8"}),  # notebook + PDF
    ("Roe, Bob", 102, "S102", "broe", "Section A", {"4242": "", "77": "9"}),  # late, re-uploaded
    ("Smith, Ann", 103, "S103", "asmith", "Section B", {"4242": "", "77": ""}),  # submitted nothing
    ("=Eve", 104, "S104", "eve", "Section B", {"4242": "5", "77": ""}),  # exported as ="=Eve"
    ("Lee, Kim", 105, "S105", "klee", "Section B", {"4242": "", "77": ""}),  # a plain file named by login
    ("Student, Test", 199, "", "", "Section A", {"4242": "", "77": ""}),  # Canvas's test student, last
]


def canvas_case(tmp_path):
    students = [(f'="{n}"' if n.startswith("=") else n, *rest) for n, *rest in CANVAS_STUDENTS]
    roster = tmp_path / "export.csv"
    roster.write_text(canvas_export(students, [("Homework 1: derivatives", 4242, "20"), ("Quiz", 77, "10")],
                                    bom=True, manual_posting=True), encoding="utf-8")
    results = [
        result(canvas_name("Doe, Jane", 101, 9001, "hw01_derivatives.ipynb")),
        result(canvas_name("Doe, Jane", 101, 9002, "notes.pdf"), status=Status.NOT_A_NOTEBOOK),
        result(canvas_name("Roe, Bob", 102, 9010, "hw01_derivatives.ipynb", late=True), failed=("q1/sin",)),
        result(canvas_name("Roe, Bob", 102, 9011, "hw01_derivatives-1.ipynb", late=True), failed=("q2/zero",)),
        result(canvas_name("=Eve", 104, 9020, "=1+2.ipynb"), failed=("q1/notes", "q1/sin")),
        result("klee/hw01_derivatives.ipynb", failed=("q2/five",)),
        result(canvas_name("Student, Test", 199, 9030, "hw01.ipynb")),
        result(canvas_name("Nobody, Here", 555, 9040, "hw01.ipynb")),
    ]
    return roster, results


def test_canvas_csv_imports_into_the_assignments_own_column(tmp_path):
    roster, results = canvas_case(tmp_path)
    notes = export.write_all(collected(results), PLAN, tmp_path / "out", roster, lms_column="Homework 1: derivatives",
                             late_penalty="10%")
    text = (tmp_path / "out" / "canvas.csv").read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # as the export came
    rows = rows_of(tmp_path / "out" / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1: derivatives (4242)"]
    assert rows[1] == ["", "", "", "", "", "Manual Posting"]
    assert rows[2] == ["    Points Possible", "", "", "", "", "20"]
    # identity cells exactly as exported, one row per student, the test student last
    assert [r[:5] for r in rows[3:]] == [[n if not n.startswith("=") else f'="{n}"', str(i), s, l, sec]
                                         for n, i, s, l, sec, _ in CANVAS_STUDENTS]
    # 10/10 -> 20/20; Bob: latest upload 7/10, late: -1, so 6/10 -> 12; Ann: unchanged; Eve: 6/10 -> 12;
    # Kim (by login): 7/10 -> 14; the test student: 20
    assert [r[5] for r in rows[3:]] == ["20", "12", "", "12", "14", "20"]
    imported = canvas_import(text.lstrip("\ufeff"), {"4242": "Homework 1: derivatives", "77": "Quiz"},
                             {str(s[1]) for s in CANVAS_STUDENTS})
    assert imported["new_assignments"] == [] and imported["missing_students"] == []
    assert imported["points"] == {"4242": "20"}
    assert {k: v["4242"] for k, v in imported["grades"].items()} == {
        "101": "20", "102": "12", "103": "", "104": "12", "105": "14", "199": "20"}
    assert any("555" in n or "Nobody" in n or "nobodyhere" in n for n in notes)  # not in the roster: said so
    gradebook = list(csv.DictReader(open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8")))
    assert len(gradebook) == len(results)
    assert [r["counted"] for r in gradebook] == ["yes", "no", "no", "yes", "yes", "yes", "yes", "yes"]
    summary = json.loads((tmp_path / "out" / "lms.json").read_text(encoding="utf-8"))
    assert summary["roster"]["non_submitters"] == ["Smith, Ann"]
    assert [s["test_student"] for s in summary["students"]].count(True) == 1


def test_canvas_column_must_be_found_or_nothing_is_imported(tmp_path):
    roster, results = canvas_case(tmp_path)
    with pytest.raises(CourseError, match="--lms-column"):
        export.write_all(collected(results), PLAN, tmp_path / "out", roster)
    assert (tmp_path / "out" / "gradebook.csv").exists() and (tmp_path / "out" / "report.html").exists()
    assert not (tmp_path / "out" / "canvas.csv").exists()


def test_canvas_anonymous_submissions_are_graded_under_their_anonymous_ids(tmp_path):
    roster = tmp_path / "export.csv"
    roster.write_text(canvas_export([("Doe, Jane", 101, "S1", "jdoe", "A", {})], [("hw01_derivatives", 9, "10")]),
                      encoding="utf-8")
    results = [result(canvas_name(None, None, 5, "hw01.ipynb", late=True, anonymous_id="Hx3Kq"), failed=("q1/sin",))]
    notes = export.write_all(collected(results), PLAN, tmp_path / "out", roster)
    row = next(csv.DictReader(open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8")))
    assert (row["student"], row["late"], row["total"]) == ("anon_Hx3Kq", "yes", "8")
    assert rows_of(tmp_path / "out" / "canvas.csv")[2] == ["Doe, Jane", "101", "S1", "jdoe", "A", ""]
    assert any("anonymous" in n and "SpeedGrader" in n for n in notes)


# ---------------------------------------------------------------- Moodle, cell by cell

MOODLE_STUDENTS = [
    (1001, "Jane Doe", "jdoe@uni.edu", "Submitted for grading"),  # notebook + PDF, folder layout
    (1002, "Bob Roe", "broe@uni.edu", "Submitted for grading - 2 days 3 hours late"),  # late, re-uploaded
    (1003, "Ann Smith", "asmith@uni.edu", "No submission"),  # submitted nothing
    (1004, "Kim Lee", "klee@uni.edu", "Submitted for grading"),  # flat layout
]


@pytest.mark.parametrize("folders", [True, False])
def test_moodle_csv_is_the_worksheet_with_grades_and_feedback(tmp_path, folders):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(moodle_worksheet(MOODLE_STUDENTS, maximum="100.00", bom=True), encoding="utf-8")
    results = [
        result(moodle_name("Jane Doe", 1001, "hw01_derivatives.ipynb", folders)),
        result(moodle_name("Jane Doe", 1001, "report.pdf", folders), status=Status.NOT_A_NOTEBOOK),
        result(moodle_name("Bob Roe", 1002, "hw01_derivatives.ipynb", folders), failed=("q2/zero",)),
        result(moodle_name("Bob Roe", 1002, "hw01_derivatives (1).ipynb", folders), failed=("q1/sin",)),
        result(moodle_name("Kim Lee", 1004, "=1+2.ipynb", folders), failed=("q2/five", "q2/zero")),
        result(moodle_name("Kim Lee", 1004, "<img src=x>.pdf", folders), status=Status.NOT_A_NOTEBOOK),
    ]
    export.write_all(collected(results), PLAN, tmp_path / "out", roster, late_penalty="5%")
    text = (tmp_path / "out" / "moodle.csv").read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    rows = rows_of(tmp_path / "out" / "moodle.csv")
    original = rows_of(roster)
    assert rows[0] == MOODLE_HEADER
    grade, feedback = MOODLE_HEADER.index("Grade"), MOODLE_HEADER.index("Feedback comments")
    for new, old in zip(rows, original):  # every other cell as downloaded
        assert [c for i, c in enumerate(new) if i not in (grade, feedback)] == \
               [c for i, c in enumerate(old) if i not in (grade, feedback)]
    # Jane 10/10 -> 100; Bob: latest "(1)" 8/10, late -5% of 10 -> 7.5/10 -> 75; Ann untouched; Kim 4/10 -> 40
    assert [r[grade] for r in rows[1:]] == ["100", "75", "", "40"]
    changed = moodle_import(text, existing={}, maximum=100.0)
    assert {p: e["grade"] for p, e in changed.items()} == {"1001": 100.0, "1002": 75.0, "1004": 40.0}
    assert "1003" not in changed
    comment = changed["1002"]["feedback"]
    assert "\n" not in comment and comment.startswith("<p><strong>7.5 / 10</strong>")
    assert "Question 1 · Forward difference: 2 / 4" in comment and "late" in comment
    other = results[-1].identity.file  # what the download kept of "<img src=x>.pdf"
    assert html.escape(other) in changed["1004"]["feedback"] and "<img" not in changed["1004"]["feedback"]
    gradebook = list(csv.DictReader(open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8")))
    assert [(r["student"], r["late"], r["counted"]) for r in gradebook] == [
        ("1001", "no", "yes"), ("1001", "no", "no"), ("1002", "yes", "no"), ("1002", "yes", "yes"), ("1004", "no", "yes"),
        ("1004", "no", "no")]


def test_moodle_decimal_comma_and_no_feedback_column(tmp_path):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(moodle_worksheet(MOODLE_STUDENTS[:1], maximum="30,00", feedback=False), encoding="utf-8")
    results = [result(moodle_name("Jane Doe", 1001, "hw.ipynb"), failed=("q1/sin",))]  # 8/10 of 30 = 24
    notes = export.write_all(collected(results), PLAN, tmp_path / "out", roster)
    rows = rows_of(tmp_path / "out" / "moodle.csv")
    assert rows[0] == MOODLE_HEADER[:-1] and rows[1][MOODLE_HEADER.index("Grade")] == "24"
    assert any("Feedback comments" in n for n in notes)


# ---------------------------------------------------------------- end to end: `course grade`


def _grade(*args):
    return subprocess.run([sys.executable, "-m", "course.cli", "grade", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=900)


def test_course_grade_round_trip_with_real_downloads(tmp_path):
    """The real batch (`course grade`) on a Canvas zip and a Moodle folder made from the student
    notebook, then canvas.csv and moodle.csv read back as the importers read them.
    NOTE for the lead: this runs the batch being rewritten; if it fails inside course/batch.py,
    the export side is covered by the tests above."""
    from course.build import samples
    from course.build.assemble import sources

    reference = samples.reference_answers(sources(ROOT, ["hw01_derivatives"])[0].module("reference"))
    notebook = ROOT / "assignments" / "hw01_derivatives" / "hw01_derivatives.ipynb"
    right = samples.dumps(samples.fill(notebook, reference))
    wrong_relu = samples.dumps(samples.fill(notebook, {**reference,
                                                       "relu_grad": "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n"}))
    canvas_zip = tmp_path / "submissions.zip"
    with zipfile.ZipFile(canvas_zip, "w") as z:
        z.writestr(canvas_name("Doe, Jane", 101, 9001, "hw01_derivatives.ipynb"), right)
        z.writestr(canvas_name("Doe, Jane", 101, 9002, "hw01_derivatives.pdf"), b"%PDF-1.4")
        z.writestr(canvas_name("Roe, Bob", 102, 9011, "hw01_derivatives-1.ipynb", late=True), wrong_relu)
        z.writestr(canvas_name("Student, Test", 199, 9030, "hw01_derivatives.ipynb"), right)
    export_csv = tmp_path / "export.csv"
    export_csv.write_text(canvas_export([s for s in CANVAS_STUDENTS if s[1] in (101, 102, 103, 199)],
                                        [("hw01_derivatives", 4242, "100")], bom=True), encoding="utf-8")
    out = tmp_path / "canvas-out"
    run = _grade(str(canvas_zip), "--assignment", "hw01_derivatives", "--output", str(out), "--roster",
                 str(export_csv), "--late-penalty", "10%")
    assert run.returncode == 0, run.stderr[-3000:]
    gradebook = list(csv.DictReader(open(out / "gradebook.csv", newline="", encoding="utf-8")))
    full = float(gradebook[0]["max"])
    by_source = {r["submission"]: r for r in gradebook}
    bob = by_source[canvas_name("Roe, Bob", 102, 9011, "hw01_derivatives-1.ipynb", late=True)]
    assert bob["status"] == "ok" and bob["late"] == "yes" and float(bob["score"]) < full
    assert float(bob["total"]) == pytest.approx(float(bob["score"]) - 0.1 * full)
    imported = canvas_import((out / "canvas.csv").read_text(encoding="utf-8").lstrip("\ufeff"),
                             {"4242": "hw01_derivatives"}, {"101", "102", "103", "199"})
    assert imported["new_assignments"] == [] and imported["missing_students"] == []
    assert {k: v["4242"] for k, v in imported["grades"].items()} == {
        "101": "100", "102": rosters.number(float(bob["total"]) / full * 100), "103": "", "199": "100"}
    assert (out / "report.html").exists() and len(list((out / "feedback").glob("*.html"))) == 4

    moodle_folder = tmp_path / "moodle"
    for participant, name, file, text in [(1001, "Jane Doe", "hw01_derivatives.ipynb", right),
                                          (1002, "Bob Roe", "hw01_derivatives.ipynb", wrong_relu)]:
        path = moodle_folder / moodle_name(name, participant, file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (moodle_folder / moodle_name("Jane Doe", 1001, "notes.pdf", folders=False)).write_bytes(b"%PDF-1.4")
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(moodle_worksheet(MOODLE_STUDENTS[:3], maximum="10.00"), encoding="utf-8")
    out = tmp_path / "moodle-out"
    run = _grade(str(moodle_folder), "--assignment", "hw01_derivatives", "--output", str(out), "--roster",
                 str(worksheet))
    assert run.returncode == 0, run.stderr[-3000:]
    changed = moodle_import((out / "moodle.csv").read_text(encoding="utf-8"), {}, 10.0)
    gradebook = {r["submission"]: r for r in csv.DictReader(open(out / "gradebook.csv", newline="", encoding="utf-8"))}
    bob = gradebook[moodle_name("Bob Roe", 1002, "hw01_derivatives.ipynb")]
    assert bob["late"] == "yes" and bob["late penalty"] == "0"  # late in the worksheet; no penalty asked for
    assert changed["1001"]["grade"] == 10.0
    assert changed["1002"]["grade"] == pytest.approx(round(float(bob["total"]) / float(bob["max"]) * 10, 2))
    assert "1003" not in changed and "<li>" in changed["1002"]["feedback"]
    assert len(gradebook) == 3


# ---------------------------------------------------------------- identity from the layout alone


def otter_export_names(count: int, tmp_path: Path) -> list[str]:
    """Names otter's export cell really makes (``Notebook.export``: notebook stem, timestamp)."""
    import nbformat
    import otter

    names = []
    for _ in range(count):
        folder = tmp_path / f"export{len(names)}"
        (folder / "tests").mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), folder / "hw04_hessians.ipynb")
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            otter.Notebook(tests_dir="tests").export("hw04_hessians.ipynb", pdf=False, force_save=False,
                                                     display_link=False)
        names += [p.name for p in folder.glob("*.zip")]
    return names


def test_otter_export_names_are_never_canvas_ids(tmp_path):
    """Four students' otter export zips, two in their folders and two side by side: four
    students, each counted; Canvas's own name for an export zip is still read as Canvas's."""
    names = otter_export_names(4, tmp_path)
    assert all(re.fullmatch(r"hw04_hessians_\d{4}_\d\d_\d\dT\d\d_\d\d_\d\d_\d{6}\.zip", n) for n in names), names
    sources = [f"kim/{names[0]}", f"lee/{names[1]}", names[2], names[3]]
    identities = who.identify_all(sources)
    assert [(i.lms, i.student) for i in identities] == [("", "kim"), ("", "lee"), ("", names[2][:-4]),
                                                       ("", names[3][:-4])]
    submitters = students.group(collected([result(s) for s in sources]))
    assert [(s.student, s.counted.source, s.others) for s in submitters] == [
        ("kim", sources[0], []), ("lee", sources[1], []), (names[2][:-4], sources[2], []),
        (names[3][:-4], sources[3], [])]
    in_canvas = canvas_name("Kim, Ann", 12, 34, names[0])
    assert who.identify(in_canvas) == who.Identity("canvas", "12", "kimann", attachment=34, file=names[0])
    again = canvas_name("Kim, Ann", 12, 35, names[0][:-4] + "-1.zip")
    assert who.identify(again).file == names[0][:-4] + "-1.zip" and who.identify(again).resubmission == 1


@pytest.mark.parametrize("sources, expected", [
    # inside a student's folder a name says nothing about whose the file is
    (["mallory/victim_55_999999999_hw01_derivatives.ipynb", "victim/hw01_derivatives.ipynb"],
     [("", "mallory"), ("", "victim")]),
    (["Mallory_9_assignsubmission_file/Victim_7_assignsubmission_file_hw01.ipynb",
      "Victim_7_assignsubmission_file/hw01.ipynb"], [("moodle", "9"), ("moodle", "7")]),
    (["Mallory_9_assignsubmission_file/victim_55_99_hw01.ipynb"], [("moodle", "9")]),
    # a folder holding the whole download is not a student's
    (["submissions/doejane_12_34_hw01.ipynb", "submissions/roebob_13_35_hw01.ipynb"],
     [("canvas", "12"), ("canvas", "13")]),
    (["hw01/jdoe/hw01.ipynb", "hw01/broe/hw01.ipynb"], [("", "jdoe"), ("", "broe")]),
    (["a/b/doejane_12_34_hw01.ipynb", "a/b/Jane_5_assignsubmission_file/x.ipynb"], [("canvas", "12"), ("moodle", "5")]),
    # a student's only folder stays the student's
    (["kim/hw04.ipynb", "kim/notes.pdf"], [("", "kim"), ("", "kim")]),
])
def test_lms_names_count_at_the_top_of_the_download_only(sources, expected):
    assert [(i.lms, i.student) for i in who.identify_all(sources)] == expected


def test_a_name_in_someone_elses_folder_cannot_take_their_grade(tmp_path):
    """mallory's stub named like the victim's Canvas download (a larger attachment id) stays
    mallory's: the victim keeps the 20 points of their own notebook in canvas.csv."""
    roster = tmp_path / "export.csv"
    roster.write_text(canvas_export([("Victim, Vic", 55, "S55", "victim", "A", {}),
                                     ("Mallory, Mal", 56, "S56", "mallory", "A", {})],
                                    [("hw01_derivatives", 4242, "20")]), encoding="utf-8")
    stub = result("mallory/victim_55_999999999_hw01_derivatives.ipynb",
                  failed=tuple(f"{q['name']}/{c['id']}" for q in PLAN["questions"] for c in q["cases"]))
    results = [stub, result("victim/hw01_derivatives.ipynb")]
    export.write_all(collected(results), PLAN, tmp_path, roster)
    imported = canvas_import((tmp_path / "canvas.csv").read_text(encoding="utf-8"), {"4242": "hw01_derivatives"},
                             {"55", "56"})
    assert {k: v["4242"] for k, v in imported["grades"].items()} == {"55": "20", "56": "0"}
    rows = {r["submission"]: r for r in csv.DictReader(open(tmp_path / "gradebook.csv", encoding="utf-8"))}
    assert rows[stub.source]["student"] == "mallory" and rows[stub.source]["counted"] == "yes"


def test_names_that_slug_alike_keep_both_rows_with_stable_keys():
    from course.grade.submissions import unique_keys

    sources = ["a b.ipynb", "a_b.ipynb", "A_B.ipynb", "c.ipynb"]
    keys = unique_keys(sources)
    assert len({k.casefold() for k in keys}) == 4 and keys[3] == "c.ipynb"
    assert unique_keys(["zz.ipynb", *reversed(sources)]) == ["zz.ipynb", *reversed(keys)]  # its source alone
    crafted = keys[0]  # a file named as another's key: both still have their own
    both = unique_keys([crafted, "a b.ipynb", "a_b.ipynb"])
    assert len({k.casefold() for k in both}) == 3 and all(re.fullmatch(r"[A-Za-z0-9._-]+", k) for k in both)


def test_text_from_a_submission_is_escaped_in_every_output(tmp_path):
    """ANSI escapes, a forged line and a right-to-left override, in a file name and a message:
    shown escaped in gradebook.csv, the feedback pages, Gradescope's JSON, lms.json, report.html."""
    name = "x\x1b[31m\nx.ipynb: ok\u202egpj.ipynb"
    evil = result(f"eve/{name}", failed=("q1/sin",))
    evil.detail = "\x1b[2J\r\nforged.ipynb: ok 30/30\u2066\u200b"
    next(c for c in evil.cases if c.case == "sin").message = "got \x1b[31m1\u202e0"
    evil.log = ["cell 2: \x1b]0;title\x07\nforged.ipynb: ok"]
    export.write_all(collected([evil, result("honest/hw01.ipynb")]), PLAN, tmp_path)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_text(encoding="utf-8")
            for char in "\x1b\x07\r\u202e\u2066\u200b":
                assert char not in data, (path, char)
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv", encoding="utf-8")))
    assert not any("\n" in cell for row in rows for cell in row.values())  # a cell is one line
    assert rows[0]["submission"] == "eve/x\\x1b[31m\\nx.ipynb: ok\\u202egpj.ipynb"
    assert rows[0]["detail"] == "\\x1b[2J\\r\\nforged.ipynb: ok 30/30\\u2066\\u200b"
    page = next((tmp_path / "feedback").glob("eve*.html")).read_text(encoding="utf-8")
    assert "\\u202egpj" in page and "\\x1b[31m1\\u202e0" in page
    assert "\\u202e" in (tmp_path / "report.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- identity, read once at collect


def test_a_batch_result_carries_the_identity_collect_read_and_an_old_record_resumes(tmp_path):
    """A Canvas download graded for real: each result carries who its file belongs to as the
    download's names say (LATE, the LMS, the attachment), read once when the batch is collected,
    and its record keeps it.  A record written before identity was typed (flat ``student``,
    ``name``, ``late``, ``file``) still loads, and a resumed batch grades nothing again and
    gives it the identity this download's names give (its LMS included)."""
    from tests.grading import autograder_zip, make_submission
    from course.cli import grade_and_export

    notebook = make_submission("hw01_derivatives", {}, tmp_path / "made", "right")
    late_name = canvas_name("Roe, Bob", 102, 9011, "hw01_derivatives.ipynb", late=True)
    on_time_name = canvas_name("Doe, Jane", 101, 9001, "hw01_derivatives.ipynb")
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as z:
        z.write(notebook, late_name)
        z.write(notebook, on_time_name)
    out = tmp_path / "out"

    def grade() -> tuple[dict[str, Result], list[str]]:
        lines: list[str] = []
        graded = grade_and_export(download, autograder_zip("hw01_derivatives"), out, workers=1, log=lines.append)
        return {r.source: r for r in graded}, lines

    results, _ = grade()
    late = results[late_name]
    bob = who.Identity("canvas", "102", "roebob", late=True, attachment=9011, file="hw01_derivatives.ipynb")
    assert late.identity == bob and late.score == late.max_score > 0
    assert results[on_time_name].identity == who.Identity("canvas", "101", "doejane", attachment=9001,
                                                          file="hw01_derivatives.ipynb")
    path = out / "results" / f"{late.key}.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    assert Result.from_record(record).identity == bob and record["identity"]["lms"] == "canvas"

    yesterday = {k: v for k, v in record.items() if k != "identity"}
    yesterday.update(student="102", name="roebob", late=True, file="hw01_derivatives.ipynb")
    old = Result.from_record(yesterday)
    assert old.identity == who.Identity("", "102", "roebob", late=True, file="hw01_derivatives.ipynb")
    assert (old.score, old.status, old.digest) == (late.score, late.status, late.digest)
    path.write_text(json.dumps(yesterday), encoding="utf-8")
    resumed, lines = grade()
    assert "2 submissions: 2 already graded, 0 to grade" in lines
    assert resumed[late_name].identity == bob
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))}
    assert (rows[late_name]["student"], rows[late_name]["lms"], rows[late_name]["late"]) == ("102", "canvas", "yes")
    assert rows[on_time_name]["late"] == "no"
