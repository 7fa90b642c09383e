"""`course push canvas`: a batch's grades and feedback pages into Canvas, through its REST API.

What it does, in order, each step through ``canvasapi`` (Canvas's documented endpoints):

1. reads the batch's output (``lms.json``: who counts for whom, late penalties; ``results/``:
   scores; ``feedback/``: pages) and keeps the students whose LMS id is a Canvas user id;
2. reads the assignment (``GET /courses/:c/assignments/:a``): refuses while it is anonymous
   (``anonymize_students``: Canvas hides who is who until grades are posted), notes manual
   posting (the grades stay hidden from students until the instructor posts them: this command
   never posts), and reads the course's late policy (``GET /courses/:c/late_policy``): with
   automatic deductions on, Canvas deducts again from any late score it receives;
3. reads the current grades (``GET /courses/:c/assignments/:a/submissions``) and lists what
   would change: the *dry run*, which is the default;
4. with ``--yes``: posts the changed grades, scaled to the assignment's points, in one bulk
   update (``POST .../submissions/update_grades``) and waits on its progress
   (``GET /progress/:id``); attaches each student's feedback page as a submission comment
   (``POST .../submissions/:u/comments/files``, the upload, ``PUT .../submissions/:u``);
   re-reads the grades and confirms each one.

A failure (a rejected token, a missing course, Canvas's rate limit past a few retries) stops
with a message that says what was done and what was not; ``canvas-push.json`` in the output
records every grade and comment that Canvas confirmed, so a second run sends only the rest.
The token comes from ``CANVAS_TOKEN`` and is never printed or written.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from course.layout import CourseError
from course.lms.students import Summary

TOKEN_VARIABLE = "CANVAS_TOKEN"
RETRIES = 4  # on Canvas's rate limit (403 "Rate Limit Exceeded"), waiting 1, 2, 4, 8 s


@dataclass
class Grade:
    user: str  # Canvas user id
    name: str
    score: float  # the autograder's points, after any late penalty
    max_score: float
    late: bool
    page: Path  # the feedback page


@dataclass
class Change:
    grade: Grade
    current: float | None
    new: float


def summary_of(output: Path) -> Summary:
    """``lms.json``: who counts for whom, lateness and the late penalty of a graded batch."""
    try:
        return json.loads((output / "lms.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CourseError(f"{output} holds no graded batch (lms.json: {error}): run `course grade` first") from None


def grades_of(output: Path, summary: Summary) -> list[Grade]:
    """The counted result of each Canvas student of a batch (test student and anonymous ids left out)."""
    grades = []
    for student in summary["students"]:
        if student["lms"] != "canvas" or student["anonymous"] or student["test_student"]:
            continue
        record = json.loads((output / "results" / f"{student['counted']}.json").read_text(encoding="utf-8"))
        grades.append(Grade(str(student["student"]), student["name"], max(0.0, record["score"] - student["penalty"]),
                            record["max_score"], bool(student["late"]),
                            output / "feedback" / f"{student['counted']}.html"))
    return grades


def _explain(error: Exception, what: str) -> CourseError:
    from canvasapi import exceptions

    if isinstance(error, (exceptions.InvalidAccessToken, exceptions.Unauthorized)):
        return CourseError(f"{what}: Canvas rejected the token (401): make a new one under Account > Settings > "
                           f"Approved Integrations and put it in {TOKEN_VARIABLE}")
    if isinstance(error, exceptions.ResourceDoesNotExist):
        return CourseError(f"{what}: Canvas has no such course or assignment, or this token cannot see it (404): "
                           "check --course and --assignment (the numbers in the assignment's URL)")
    if isinstance(error, exceptions.Forbidden):
        return CourseError(f"{what}: Canvas refused (403: {_text(error)}): the token's user must be able to grade "
                           "this course")
    if isinstance(error, exceptions.CanvasException):
        return CourseError(f"{what}: Canvas answered with an error ({type(error).__name__}: {_text(error)})")
    return CourseError(f"{what}: Canvas could not be reached ({type(error).__name__}: {_text(error)})")


def _text(error: Exception) -> str:
    return str(error).replace(os.environ.get(TOKEN_VARIABLE) or "\0", "[token]")[:300]


def _rate_limited(error: Exception) -> bool:
    from canvasapi import exceptions

    return isinstance(error, exceptions.Forbidden) and "rate limit" in str(error).lower()


def call(what: str, action: Callable, sleep: Callable[[float], None] = time.sleep):
    """``action()``, retried while Canvas throttles; any other failure a clear ``CourseError``."""
    for attempt in range(RETRIES + 1):
        try:
            return action()
        except Exception as error:  # canvasapi's, requests' and the network's: all explained
            if _rate_limited(error) and attempt < RETRIES:
                sleep(2 ** attempt)
                continue
            if _rate_limited(error):
                raise CourseError(f"{what}: Canvas's rate limit held after {RETRIES} retries: wait a few minutes "
                                  "and run the same command again (what Canvas confirmed is not sent twice)") from None
            raise _explain(error, what) from None


def _number(value: float) -> float:
    return round(value, 2)


def push(output: Path, url: str, course_id: int, assignment_id: int, send: bool = False,
         say: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep) -> list[Change]:
    """The dry run (``send`` false) or the push; returns the changes it listed."""
    from canvasapi import Canvas

    def ask(what: str, action: Callable):
        return call(what, action, sleep)

    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise CourseError(f"set {TOKEN_VARIABLE} to a Canvas access token (Account > Settings > New Access Token); "
                          "it is read from the environment only, never from the command line")
    summary = summary_of(output)
    grades = grades_of(output, summary)
    canvas = Canvas(url.rstrip("/"), token)
    course = ask("reading the course", lambda: canvas.get_course(course_id))
    assignment = ask("reading the assignment", lambda: course.get_assignment(assignment_id))
    if getattr(assignment, "anonymize_students", False):
        raise CourseError(f"{assignment.name!r} is graded anonymously and its grades are not posted: Canvas keeps "
                          "students' identities hidden, so grades cannot be matched; post the grades in Canvas first")
    possible = getattr(assignment, "points_possible", None)
    policy = ask("reading the late policy", lambda: course.get_late_policy())
    state_file = output / "canvas-push.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    key = f"{url.rstrip('/')}/courses/{course_id}/assignments/{assignment_id}"
    done = state.setdefault(key, {"grades": {}, "comments": []})

    submissions = {str(s.user_id): s for s in ask("reading the current grades", lambda: list(
        assignment.get_submissions())) if getattr(s, "user_id", None) is not None}
    current = {user: getattr(s, "score", None) for user, s in submissions.items()}
    changes, unknown = [], []
    for grade in grades:
        if grade.user not in current:
            unknown.append(grade)
            continue
        new = grade.score / grade.max_score * possible if possible and grade.max_score else grade.score
        before = current[grade.user]
        if before is None or abs(before - new) > 0.005:
            changes.append(Change(grade, before, _number(new)))
    say(f"{assignment.name}: {len(grades)} graded students, {len(changes)} grade(s) to change, "
        f"{len(grades) - len(changes) - len(unknown)} unchanged"
        + (f"; scaled from {grades[0].max_score:g} to Canvas's {possible:g} points" if possible and grades
           and abs(grades[0].max_score - possible) > 1e-9 else ""))
    for change in changes:
        before = "-" if change.current is None else f"{change.current:g}"
        say(f"  {change.grade.name or change.grade.user} ({change.grade.user}): {before} -> {change.new:g}")
    if unknown:
        say(f"not in this Canvas assignment, so not sent: {', '.join(g.user for g in unknown)}")
    if getattr(assignment, "post_manually", False):
        say("manual posting: Canvas keeps these grades and comments hidden from students until you post them")
    penalty = summary.get("late_penalty")
    if getattr(policy, "late_submission_deduction_enabled", False) and penalty and any(g.late for g in grades):
        say(f"warning: this course's late policy deducts {getattr(policy, 'late_submission_deduction', '?')}% per "
            f"{getattr(policy, 'late_submission_interval', 'day')} from late scores Canvas receives, on top of the "
            f"--late-penalty {penalty} already taken off: turn one of them off")
    if not send:
        say("dry run: nothing sent; run again with --yes to send these grades and the feedback pages")
        return changes

    pending = [c for c in changes if done["grades"].get(c.grade.user) != c.new]
    if pending:
        progress = ask("sending the grades", lambda: assignment.submissions_bulk_update(
            grade_data={c.grade.user: {"posted_grade": f"{c.new:g}"} for c in pending}))
        for _ in range(600):
            progress = ask("waiting for Canvas to record the grades", lambda: progress.query())
            if progress.workflow_state in ("completed", "failed"):
                break
            sleep(1)
        if progress.workflow_state != "completed":
            raise CourseError(f"Canvas did not record the grades (its job ended {progress.workflow_state!r}: "
                              f"{getattr(progress, 'message', '')}); nothing was marked as sent, run again")
        say(f"grades sent: {len(pending)}")
    for number, grade in enumerate(grades, 1):
        if grade.user in done["comments"] or grade.user not in submissions:
            continue
        submission = submissions[grade.user]
        uploaded, answer = ask(f"attaching the feedback page of {grade.user}",
                                lambda: submission.upload_comment(str(grade.page)))
        if not uploaded:
            raise CourseError(f"Canvas did not take the feedback page of {grade.user} ({str(answer)[:200]}); "
                              f"{number - 1} of {len(grades)} pages attached so far: run again to attach the rest")
        done["comments"].append(grade.user)
        state_file.write_text(json.dumps(state, indent=1))
        say(f"[{number}/{len(grades)}] feedback attached for {grade.user}")

    reread = {str(s.user_id): s.score for s in ask("re-reading the grades", lambda: list(assignment.get_submissions()))}
    wrong = [c for c in changes if reread.get(c.grade.user) is None or abs(reread[c.grade.user] - c.new) > 0.005]
    for change in changes:
        if change not in wrong:
            done["grades"][change.grade.user] = change.new
    state_file.write_text(json.dumps(state, indent=1))
    if wrong:
        raise CourseError(f"{len(wrong)} grade(s) read back differently from what was sent: "
                          + ", ".join(f"{c.grade.user} (sent {c.new:g}, Canvas has {reread.get(c.grade.user)})"
                                      for c in wrong[:10]))
    say(f"confirmed: Canvas has all {len(changes)} new grade(s)")
    return changes
