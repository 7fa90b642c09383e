"""What a student reads about one graded submission, in the student's language: an HTML page
(``feedback/<key>.html``), the same content as Gradescope's ``results.json``, and a short
summary for Moodle's "Feedback comments".

Content, everywhere the same: the score; what happened to the notebook (in plain words);
per question its points out of its maximum; each public case, passed or failed, with the
check's message (which says what is wrong, in the order None, type, shape, dtype, NaN,
values); each hidden case, passed or failed, with its message, which never holds the
expected value (``checks.py``'s policy).  Late penalties are shown where they apply.

The page is one self-contained file (inline CSS, no script, no font, image or link to fetch)
that reads on a phone: a single column, system fonts, words beside every colour
("passed"/"failed"), so that a screen reader or a black-and-white print says the same.

Gradescope (``gradescope_results``, format from gradescope/autograder_samples docs/specs.md):
a visible, unscored "notebook ran" check whose ``status`` says whether every cell ran; one
test per case, numbered ``<question>.<case>``, public cases ``visible`` and hidden cases
``after_published``, so students see the hidden results (and, per Gradescope, their total)
only once the instructor publishes the grades.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from calc4ml_runtime import messages
from calc4ml_runtime.messages import _
from calc4ml_runtime.plan import Plan
from course.text import clean, escape
from course.results import Result, Status

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_CHARS = 800


@dataclass
class Standing:
    """Where a file stands for its student, from the batch's grouping (``lms.group``)."""

    counted: bool = True  # this is the student's file that counts
    counted_file: str = ""  # when it is not: the one that does
    others: list[str] = field(default_factory=list)  # when it is: the student's other files
    late: bool = False
    penalty: float = 0.0  # points taken off
    policy: str = ""  # the instructor's --late-penalty, e.g. "10%"


@contextlib.contextmanager
def language(lang: str):
    """``_`` speaks ``lang`` inside the block (this thread only)."""
    before = messages.language()
    messages.set_language(lang or "en")
    try:
        yield
    finally:
        messages.set_language(before)


def points(value: float) -> str:
    return f"{round(value + 0.0, 2):g}"


def status_text(status: Status) -> str:
    """What happened to the notebook, in the student's terms."""
    return {
        Status.OK: _("Your notebook ran from top to bottom, and every question was graded."),
        Status.CELL_ERRORS: _("Some cells of your notebook raised errors; everything they did not stop was graded."),
        Status.MISSING_FUNCTION: _("A function the questions call is not defined in your notebook: check its name, "
                                   "and that its cell runs."),
        Status.TIMEOUT: _("Your notebook, or one of its functions, ran out of time; what finished was graded."),
        Status.CRASHED: _("The process running your notebook stopped (it exited or crashed) before grading "
                          "finished; what finished was graded."),
        Status.PROTOCOL: _("The process running your notebook sent something that is not an answer; it was "
                           "stopped."),
        Status.NOT_A_NOTEBOOK: _("This file is not a notebook the grader can read, so nothing in it was graded."),
        Status.GRADER_ERROR: _("The grader itself failed on this submission: this is not your fault. Your "
                               "instructor has the log and will grade it again."),
    }.get(status, str(status))


def first_failure(errors: list[dict]) -> dict | None:
    """The first cell that failed on its own (not as a consequence of an earlier one)."""
    return next((e for e in errors if not e.get("consequence")), None)


def cell_error_text(error: dict, errors: list[dict]) -> str:
    """One failed cell in the student's words, by its number among the code cells and its first
    line: "Cell 4 (`import tqdm`) raised ModuleNotFoundError: ...", and for a NameError that
    an earlier failure caused, "(a consequence of cell 3's error)".  ``errors``: all of them,
    in order (items of the older shape have no ``line`` or ``consequence``)."""
    line = clean(error.get("line") or "")
    text = (_("Cell {cell} (`{line}`) raised {error}") if line else _("Cell {cell} raised {error}")).format(
        cell=error["cell"], line=line, error=clean(error["error"]))
    if error.get("consequence"):
        earlier = [e for e in errors if not e.get("consequence") and e["cell"] < error["cell"]]
        text += " " + (_("(a consequence of cell {cell}'s error)").format(cell=earlier[-1]["cell"]) if earlier
                       else _("(a consequence of an earlier cell's error)"))
    return text


def cell_error_lines(errors: list[dict], limit: int = 8) -> list[str]:
    """What the page and Gradescope say about the cells that raised: the first failure first."""
    lines = [cell_error_text(e, errors) for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(_("... and {n} more cells that raised errors.").format(n=len(errors) - limit))
    return lines


def _message(case) -> str:
    message = clean(case.message)
    for prefix in (f"{case.label}: ", f"{case.label}:"):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + " …"


def questions(result: Result, plan: Plan) -> list[dict]:
    """Per question, in the plan's order: its points, its cases and how each went."""
    lang = result.language or "en"
    translated = plan.get("translations", {}).get(lang, {})
    titles, labels = translated.get("titles", {}), translated.get("labels", {})
    ran = result.status not in (Status.NOT_A_NOTEBOOK, Status.GRADER_ERROR)
    found = []
    for n, q in enumerate(plan["questions"], start=1):
        cases = [c for c in result.cases if c.question == q["name"]]
        entries = []
        for m, case in enumerate(cases, start=1):
            entries.append({
                "number": f"{n}.{m}", "id": case.case, "hidden": case.hidden,
                "label": clean(labels.get(f"{q['name']}/{case.case}", case.label)),
                "state": "passed" if case.passed else ("failed" if ran else "not run"),
                "points": case.points, "max": case.max_points,
                "message": "" if case.passed or not ran else _message(case),
            })
        score = sum(c.points for c in cases)
        maximum = sum(c.max_points for c in cases) if cases else q["points"]
        found.append({"number": n, "name": q["name"], "title": clean(titles.get(q["name"], q["title"])),
                      "score": score, "max": maximum, "full": bool(cases) and score == maximum, "cases": entries})
    return found


def _strings() -> dict[str, str]:
    """The page's words, in the current language."""
    return {
        "score": _("Score"), "points": _("points"), "question": _("Question"),
        "passed": _("passed"), "failed": _("failed"), "not run": _("not run"),
        "public": _("public check"), "hidden": _("hidden check"),
        "hidden_note": _("Hidden checks use inputs you have not seen; their messages say what went wrong "
                         "without giving the expected answer."),
        "file": _("Graded file"), "late": _("Submitted late"),
        "no_cases": _("No checks were run for this question."),
    }


def context(result: Result, plan: Plan, standing: Standing | None = None) -> dict:
    """Everything the page shows, computed in the result's language."""
    standing = standing or Standing()
    with language(result.language):
        total = max(0.0, result.score - standing.penalty)
        maximum = result.max_score
        late = ""
        if standing.late and standing.penalty:
            late = _("Submitted late: the course's late penalty ({policy}) took {penalty} off your score.").format(
                penalty=points(standing.penalty), policy=standing.policy)
        elif standing.late:
            late = _("Submitted late.")
        if standing.counted:
            others = ", ".join(clean(o) for o in standing.others)
            standing_text = (_("Only this file counts toward your grade; your other files do not: {files}.").format(
                files=others) if others else "")
        else:
            standing_text = _("This file does not count toward your grade: {file} is the one that does.").format(
                file=clean(standing.counted_file))
        return {
            "lang": result.language or "en", "assignment": plan["assignment"], "title": _("Feedback"),
            "file": escape(result.identity.file or result.source),
            "student": escape(result.identity.name or result.identity.student),
            "score": points(total), "raw_score": points(result.score), "max": points(maximum),
            "percent": f"{100 * total / maximum:.1f}" if maximum else "0.0",
            "status": result.status.value, "status_text": status_text(result.status),
            "detail": "" if result.cell_errors and result.status is Status.CELL_ERRORS
            else clean(result.detail)[:MESSAGE_CHARS],
            "cell_errors": cell_error_lines(result.cell_errors), "late": late, "standing": standing_text,
            "counted": standing.counted, "questions": questions(result, plan), "s": _strings(),
            "any_hidden": any(c.hidden for c in result.cases),
        }


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def page(result: Result, plan: Plan, standing: Standing | None = None) -> str:
    """The student's HTML feedback page for one graded file."""
    return _environment().get_template("feedback.html.j2").render(**context(result, plan, standing))


def comment_html(result: Result, plan: Plan, standing: Standing | None = None) -> str:
    """A short summary for Moodle's "Feedback comments" (Moodle shows it as HTML): one line."""
    import html

    c = context(result, plan, standing)
    items = "".join(f"<li>{html.escape(c['s']['question'])} {q['number']} · {html.escape(q['title'])}: "
                    f"{points(q['score'])} / {points(q['max'])}</li>" for q in c["questions"])
    parts = [f"<p><strong>{c['score']} / {c['max']}</strong> ({c['percent']}%) · {html.escape(c['assignment'])}</p>",
             f"<ul>{items}</ul>"]
    if c["status"] != Status.OK.value:
        cause = c["detail"] or (c["cell_errors"][0] if c["cell_errors"] else "")
        detail = f" ({html.escape(cause[:200])})" if cause else ""
        parts.append(f"<p>{html.escape(c['status_text'])}{detail}</p>")
    if c["late"]:
        parts.append(f"<p>{html.escape(c['late'])}</p>")
    if c["standing"]:
        parts.append(f"<p>{html.escape(c['standing'])}</p>")
    return "".join(parts).replace("\n", " ")


def gradescope_results(result: Result, plan: Plan) -> dict:
    """One submission in Gradescope's ``results.json`` format, with the page's content."""
    with language(result.language):
        qs = questions(result, plan)
        public = [c for q in qs for c in q["cases"] if not c["hidden"]]
        hidden = [c for q in qs for c in q["cases"] if c["hidden"]]
        ran = result.status is Status.OK
        lines = [status_text(result.status)]
        if result.detail:
            lines.append(clean(result.detail)[:MESSAGE_CHARS])
        lines.append(_("Public checks: {passed} of {total} passed.").format(
            passed=sum(c["state"] == "passed" for c in public), total=len(public)))
        if hidden:
            lines.append(_("{n} hidden checks were graded too; their results, and your total, appear when your "
                           "instructor publishes the grades.").format(n=len(hidden)))
        ran_output = [status_text(result.status)]
        if result.detail and not (result.cell_errors and result.status is Status.CELL_ERRORS):
            ran_output.append(clean(result.detail)[:MESSAGE_CHARS])
        ran_output += cell_error_lines(result.cell_errors)
        tests = [{
            "name": _("Your notebook ran"), "score": 0, "max_score": 0,
            "status": "passed" if ran else "failed",
            "output": "\n".join(ran_output),
            "visibility": "visible",
        }]
        for q in qs:
            for c in q["cases"]:
                output = {"passed": _("passed"), "failed": _("failed"), "not run": _("not run")}[c["state"]]
                if c["message"]:
                    output += ": " + c["message"]
                tests.append({
                    "name": f"{_('Question')} {q['number']} · {q['title']}: {c['label']}",
                    "number": c["number"], "score": c["points"], "max_score": c["max"],
                    "output": output, "tags": [q["name"], "hidden" if c["hidden"] else "public"],
                    "visibility": "after_published" if c["hidden"] else "visible",
                })
        return {
            "score": result.score, "execution_time": round(result.seconds, 3),
            "output": "\n\n".join(lines), "output_format": "text", "test_output_format": "text",
            "test_name_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {"status": result.status.value, "language": result.language,
                           "questions": {q["name"]: q["score"] for q in qs}},
        }
