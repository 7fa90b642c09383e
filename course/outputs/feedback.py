"""What a student reads about one graded submission, as the outputs show it: the HTML page
(``feedback/<key>.html``, from ``templates/feedback.html.j2``) and a short summary for Moodle's
"Feedback comments".  The sentences themselves (status, cell errors, per-question cases) are
``course.explain``'s, which Gradescope's ``results.json`` (``course.grade.gradescope``) shows too.

Content, everywhere the same: the score; what happened to the notebook (in plain words);
per question its points out of its maximum; each public case, passed or failed, with the
check's message (which says what is wrong, in the order None, type, shape, dtype, NaN,
values); each hidden case, passed or failed, with its message, which never holds the
expected value (``checks.py``'s policy).  Late penalties are shown where they apply.

The page is one self-contained file (inline CSS, no script, no font, image or link to fetch)
that reads on a phone: a single column, system fonts, words beside every colour
("passed"/"failed"), so that a screen reader or a black-and-white print says the same.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from calc4ml_runtime.messages import _
from calc4ml_runtime.plan import Plan
from course import explain
from course.explain import points
from course.results import Result, Status
from course.text import clean, escape

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Standing:
    """Where a file stands for its student, from the batch's grouping (``lms.group``)."""

    counted: bool = True  # this is the student's file that counts
    counted_file: str = ""  # when it is not: the one that does
    others: list[str] = field(default_factory=list)  # when it is: the student's other files
    late: bool = False
    penalty: float = 0.0  # points taken off
    policy: str = ""  # the instructor's --late-penalty, e.g. "10%"


def _strings() -> dict[str, str]:
    """The page's words, in the current language."""
    return {
        "score": _("Score"), "points": _("points"), "question": _("Question"),
        **explain.states(),
        "public": _("public check"), "hidden": _("hidden check"),
        "hidden_note": _("Hidden checks use inputs you have not seen; their messages say what went wrong "
                         "without giving the expected answer."),
        "file": _("Graded file"), "late": _("Submitted late"),
        "no_cases": _("No checks were run for this question."),
    }


def context(result: Result, plan: Plan, standing: Standing | None = None) -> dict:
    """Everything the page shows, computed in the result's language."""
    standing = standing or Standing()
    with explain.language(result.language):
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
            "status": result.status.value, "status_text": explain.status_text(result.status),
            "detail": explain.detail(result),
            "cell_errors": explain.cell_error_lines(result.cell_errors), "late": late, "standing": standing_text,
            "counted": standing.counted, "questions": explain.questions(result, plan), "s": _strings(),
            "any_hidden": any(c.hidden for c in result.cases),
        }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def page(result: Result, plan: Plan, standing: Standing | None = None) -> str:
    """The student's HTML feedback page for one graded file."""
    return _environment().get_template("feedback.html.j2").render(**context(result, plan, standing))


def comment_html(result: Result, plan: Plan, standing: Standing | None = None) -> str:
    """A short summary for Moodle's "Feedback comments" (Moodle shows it as HTML): one line."""
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
