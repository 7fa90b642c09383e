"""What a batch writes after grading: the gradebook, the file the LMS imports, students'
feedback, Gradescope results, and the class report.

- ``gradebook.csv``: one row per file of the download, always; whether the file counts for
  its student (``students.group``: one counted file per student, the others noted), ``late``, the
  late penalty when one applies, a column per question, totals, and the sandbox protections
  this machine lacked for that file (the grader's ``NO ...`` log lines), and the language the
  feedback speaks (read from the notebook's text when its ``metadata.course`` was lost).  Text that came from a
  submission (file names, names, messages) is one line with its control, bidi and zero-width
  characters shown escaped, and neutralised where a spreadsheet would read it as a formula
  (``text.cell``).
- ``canvas.csv`` or ``moodle.csv``: with ``--roster`` (Canvas's gradebook export or Moodle's
  grading worksheet), the file that LMS imports, in its own shape, one row per student
  (``lms.canvas.write``, ``lms.moodle.write``).  Without a roster no import file is written:
  Canvas needs the assignment's ``Title (id)`` header and Moodle the worksheet's own rows.
- ``feedback/<key>.html`` per file (``feedback.page``), ``gradescope/<key>.json``
  (``gradescope.results_json``), ``lms.json`` (the grouping, lateness, penalties and
  notes, which ``course report`` reads again) and ``report.html`` (``report.write``, given
  the grouping and the summary in memory).

Late penalty (``--late-penalty``), never applied unless asked for: ``10%`` takes 10% of the
assignment's points off a late student's score, ``2`` takes 2 points off, never below 0 (as
Canvas's own late policy deducts a percentage of the points possible: ``LatePolicy#points_
deducted``).  Lateness comes from Canvas's ``LATE`` file names and Moodle's worksheet status.
Don't combine it with an LMS late policy, which would deduct a second time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from calc4ml_runtime.plan import Plan
from course.grade import gradescope
from course.identity import CANVAS
from course.lms import canvas, moodle
from course.lms.roster import Roster, number, read_roster
from course.lms.students import Submitter, Summary, group, non_submitters
from course.outputs import feedback, report
from course.files import write_atomic
from course.layout import CourseError
from course.results import Result, Status
from course.text import cell, escape


def parse_penalty(policy: str | None) -> tuple[float, bool] | None:
    """``"10%"`` -> (10, True): a percentage of the assignment's points; ``"2"`` -> (2, False)."""
    if policy is None or not str(policy).strip():
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%|pts?|points?)?\s*", str(policy))
    if not match or float(match.group(1)) < 0 or (match.group(2) == "%" and float(match.group(1)) > 100):
        raise CourseError(f"--late-penalty {policy!r}: give a percentage of the assignment's points (10%) "
                          "or a number of points (2)")
    return float(match.group(1)), match.group(2) == "%"


def apply_penalty(submitters: list[Submitter], policy: str | None) -> None:
    rule = parse_penalty(policy)
    for s in submitters:
        s.penalty = 0.0
        if rule and s.late:
            amount, percent = rule
            s.penalty = min(s.counted.score, amount * s.max_score / 100 if percent else amount)


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _note(submitter: Submitter, result: Result) -> str:
    if result is not submitter.counted:
        return f"not counted: {escape(submitter.counted.source)} counts for this student"
    notes = []
    for other in submitter.others:
        notebook = other.identity.notebook
        kind = "graded but not counted" if notebook else "not graded"
        score = f", {other.score:g}/{other.max_score:g}" if notebook else ""
        notes.append(f"{escape(other.source)} ({kind}{score})")
    if submitter.test_student:
        notes.insert(0, "Canvas's test student")
    return ("also submitted: " if submitter.others else "") + "; ".join(notes) if notes else ""


def _language(result: Result) -> str:
    """The edition the feedback speaks, and where it was read when the notebook lost its metadata."""
    if result.status is Status.NOT_A_NOTEBOOK:
        return ""
    return result.language + (" (read from its text: metadata.course is missing)" if result.language_detected else "")


def gradebook(results: list[Result], plan: Plan, submitters: list[Submitter]) -> str:
    """``gradebook.csv``: one row per file."""
    questions = [q["name"] for q in plan["questions"]]
    total = sum(q["points"] for q in plan["questions"])
    owner = {id(r): s for s in submitters for r in [s.counted, *s.others]}
    rows = [["submission", "student", "name", "lms", "late", "status", "detail", "counted", "note", "language",
             *questions,
             "score", "late penalty", "total", "max", "percent", "protections missing"]]
    n = cell
    for r in results:
        s = owner[id(r)]
        counted = r is s.counted
        penalty = s.penalty if counted else 0.0
        final = max(0.0, r.score - penalty)
        scores = r.question_scores()
        rows.append([n(r.source), n(s.student), n(s.name), s.identity.lms, "yes" if s.late else "no",
                     r.status.value, n(r.detail), "yes" if counted else "no", n(_note(s, r)), _language(r),
                     *[f"{scores.get(q, 0):g}" for q in questions], f"{r.score:g}", number(penalty),
                     number(final), f"{total:g}", f"{100 * final / total:.1f}" if total else "0",
                     n("; ".join("NO " + p for p in r.protections_missing))])
    return _csv(rows)


def standing(submitter: Submitter, result: Result, policy: str | None) -> feedback.Standing:
    if result is not submitter.counted:
        return feedback.Standing(counted=False, counted_file=submitter.identity.file, late=submitter.late)
    return feedback.Standing(others=[o.identity.file for o in submitter.others], late=submitter.late,
                             penalty=submitter.penalty, policy=policy or "")


def missing_protections(results: list[Result]) -> list[str]:
    """The protections missing on the grading machine, as any submission's sandbox measured them."""
    return sorted({p for r in results for p in r.protections_missing})


def summary(submitters: list[Submitter], roster: Roster | None, policy: str | None, notes: list[str],
            protections_missing: list[str]) -> Summary:
    """``lms.json``: what ``course report`` needs besides the results."""
    missing = non_submitters(roster, submitters) if roster is not None else []
    students = roster.student_rows() if roster is not None else []
    test_rows = {i for i in students if roster is not None and roster.test_student(roster.rows[i])}
    return {
        "late_penalty": policy, "notes": notes, "protections_missing": protections_missing,
        "roster": None if roster is None else {
            "lms": roster.lms, "file": roster.path.name, "students": len(set(students) - test_rows),
            "non_submitters": [escape(roster.student_name(roster.rows[i])) for i in missing if i not in test_rows],
        },
        "students": [{
            "student": escape(s.student), "lms": s.identity.lms, "name": escape(s.name),
            "counted": s.counted.key, "others": [o.key for o in s.others], "late": s.late,
            "penalty": s.penalty, "test_student": s.test_student, "anonymous": s.identity.anonymous,
            "in_roster": s.row is not None,
        } for s in submitters],
    }


def write_all(results: list[Result], plan: Plan, output: Path, roster: Path | None = None,
              lms_column: str | None = None, late_penalty: str | None = None) -> list[str]:
    """Write every output of a batch; return notes for the instructor (also in report.html).

    Raises ``CourseError`` (after writing everything else) when the roster or the column
    cannot be used, so that a second run with the right option writes the LMS file without
    grading again."""
    output.mkdir(parents=True, exist_ok=True)
    parse_penalty(late_penalty)  # a typo stops here, before anything is written
    notes: list[str] = []
    problem: CourseError | None = None
    roster_data = None
    if roster is not None:
        try:
            roster_data = read_roster(Path(roster))
        except CourseError as error:
            problem = error
            notes.append(f"roster not used: {error}")
    submitters = group(results, roster_data)
    apply_penalty(submitters, late_penalty)
    owner = {id(r): s for s in submitters for r in [s.counted, *s.others]}

    write_atomic(output / "gradebook.csv", gradebook(results, plan, submitters))
    for r in results:
        s = owner[id(r)]
        write_atomic(output / "feedback" / f"{r.key}.html", feedback.page(r, plan, standing(s, r, late_penalty)))
        write_atomic(output / "gradescope" / f"{r.key}.json",
                     json.dumps(gradescope.results_json(r, plan), indent=1, ensure_ascii=False))

    if roster_data is not None:
        try:
            if roster_data.lms == CANVAS:
                notes += canvas.write(roster_data, submitters, output / "canvas.csv", plan["assignment"], lms_column)
            else:
                comments = {s.row: feedback.comment_html(s.counted, plan, standing(s, s.counted, late_penalty))
                            for s in submitters if s.row is not None}
                notes += moodle.write(roster_data, submitters, output / "moodle.csv", comments)
        except CourseError as error:
            problem = error
            notes.append(f"no {roster_data.lms}.csv: {error}")
        unmatched = [s for s in submitters if s.row is None and not s.identity.anonymous]
        if unmatched:
            notes.append(f"{len(unmatched)} submitter(s) not in the roster, so not in the import file: "
                         + ", ".join(escape(s.counted.source) for s in unmatched[:10])
                         + (" ..." if len(unmatched) > 10 else ""))
        missing = [i for i in non_submitters(roster_data, submitters)
                   if not roster_data.test_student(roster_data.rows[i])]
        if missing:
            notes.append(f"{len(missing)} student(s) of the roster submitted nothing; their grade cells are left "
                         "as the LMS exported them")
    elif roster is None and results:
        notes.append("no import file: pass --roster with Canvas's gradebook export (Grades > Export) or Moodle's "
                     "grading worksheet to get canvas.csv or moodle.csv")
    anonymous = [s for s in submitters if s.identity.anonymous]
    if anonymous:
        notes.append(f"{len(anonymous)} anonymous Canvas submission(s) are graded under their anonymous ids; Canvas "
                     "imports no grades for an anonymous assignment before its grades are posted "
                     "(gradebook_importer.rb): enter them in SpeedGrader, which shows the same ids")
    rule = parse_penalty(late_penalty)
    late = [s for s in submitters if s.late]
    if rule and late:
        notes.append(f"late penalty {late_penalty} applied to {len(late)} late student(s): "
                     f"{number(sum(s.penalty for s in late))} taken off in all (gradebook.csv: 'late penalty')")
    recorded = summary(submitters, roster_data, late_penalty, notes, missing_protections(results))
    write_atomic(output / "lms.json", json.dumps(recorded, indent=1, ensure_ascii=False))
    report.write(output, results, plan, submitters, recorded)
    if problem is not None:
        raise problem
    return notes
