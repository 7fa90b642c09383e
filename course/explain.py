"""What a graded submission means, in the student's words and language: the sentences that both
the grader (a result's ``detail``, Gradescope's ``results.json``) and the outputs (the HTML
feedback page, Moodle's comment) show, so that every place says the same thing.

Here, below both, so that the autograder zip's engine carries these sentences without the
outputs' templates: what happened to the notebook (``status_text``), which cells raised
(``cell_error_text``, ``cell_error_lines``), and per question its points and its cases with
their messages (``questions``), each message shortened and never holding more than the check
said (``checks.py``'s policy keeps hidden expected values out of it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from calc4ml_runtime import messages
from calc4ml_runtime.messages import _
from calc4ml_runtime.plan import Plan
from course.results import CaseResult, Result, Status
from course.text import clean

MESSAGE_CHARS = 800  # of one message: a long tensor printout says nothing more past this


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """``_`` speaks ``lang`` inside the block (this thread only)."""
    before = messages.language()
    messages.set_language(lang or "en")
    try:
        yield
    finally:
        messages.set_language(before)


def points(value: float) -> str:
    """Points as a person writes them: 2, 2.5, 0.33 (never 2.0 or -0)."""
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


def detail(result: Result) -> str:
    """The result's note for the student, shortened; none when its cell errors say it better."""
    if result.cell_errors and result.status is Status.CELL_ERRORS:
        return ""
    return clean(result.detail)[:MESSAGE_CHARS]


def case_message(case: CaseResult) -> str:
    """A failed case's message without the label the page already shows beside it, shortened."""
    message = clean(case.message)
    for prefix in (f"{case.label}: ", f"{case.label}:"):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + " …"


def questions(result: Result, plan: Plan) -> list[dict]:
    """Per question, in the plan's order: its points, its cases and how each went, with titles
    and labels in the result's language (the plan's ``translations``)."""
    lang = result.language or "en"
    translated = plan.get("translations", {}).get(lang)
    titles, labels = (translated["titles"], translated["labels"]) if translated else ({}, {})
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
                "message": "" if case.passed or not ran else case_message(case),
            })
        score = sum(c.points for c in cases)
        maximum = sum(c.max_points for c in cases) if cases else q["points"]
        found.append({"number": n, "name": q["name"], "title": clean(titles.get(q["name"], q["title"])),
                      "score": score, "max": maximum, "full": bool(cases) and score == maximum, "cases": entries})
    return found


def states() -> dict[str, str]:
    """A case's state ("passed", "failed", "not run") as the student reads it."""
    return {"passed": _("passed"), "failed": _("failed"), "not run": _("not run")}
