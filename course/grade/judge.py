"""Grade one notebook: read its code cells, run them in a student process, put the plan's
cases to it one at a time, and judge every answer here, in the grader, against the plan.

The stages, each a function: ``read_notebook`` (strict: a malformed notebook is the
student's problem, reported, never a crash of the grader), ``start`` (a locked-down process
runs the cells), ``ask`` (one case's calls, with a deadline), ``judge_case`` (compare and
explain, in the notebook's language), ``overall_status``.  A function that timed out or
crashed is not called again; a fresh process answers the remaining cases.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from calc4ml_runtime import checks, messages, values
from calc4ml_runtime.calls import load_fixtures
from calc4ml_runtime.plan import CallSpec, CaseSpec, Plan, QuestionSpec
from course.grade import protocol
from course import explain
from course.grade.pool import Died, Limits, StudentProcess, Worker
from course.results import CaseResult, Result, Status

MAX_NOTEBOOK_BYTES = 20 << 20


class NotANotebook(ValueError):
    """The file cannot be read as a Jupyter notebook; the message says why."""


@dataclass
class Notebook:
    cells: list[tuple[int, str]]  # (index in the notebook, source) of every code cell
    language: str  # the edition it was handed out in: "en", "ko"


def read_notebook(raw: bytes) -> Notebook:
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotANotebook(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotANotebook("not UTF-8 text")
    except ValueError as error:
        raise NotANotebook(f"not valid notebook JSON ({protocol.clean(str(error), 120)})")
    except RecursionError:
        raise NotANotebook("nested too deeply to be a notebook")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise NotANotebook("not a Jupyter notebook in format 4")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            raise NotANotebook(f"cell {index} is not a cell")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotANotebook(f"cell {index} has no readable source")
        cells.append((index, source))
    metadata = nb.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    language = course.get("language") if isinstance(course, dict) else None
    return Notebook(cells, language if language in ("en", "ko") else "en")


class OutOfBudget(Died):
    """The notebook's time budget ran out while the grader waited: told to the student as the
    budget's doing (``budget_reason``), never as one call's timeout."""

    def __init__(self, limits: Limits):
        super().__init__(Status.TIMEOUT, budget_message(limits))


@dataclass
class Session:
    """The student process answering a notebook's cases, restarted after a crash or timeout."""

    worker: Worker
    plan: Plan
    notebook: Notebook
    limits: Limits
    process: StudentProcess | None = None
    restarts: int = -1
    budget_end: float = math.inf  # time.monotonic() when the notebook's time budget is used up (set at start)
    cell_errors: list[protocol.CellError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # protections the sandbox lacked, sealed before the notebook ran

    def start(self) -> StudentProcess:
        if self.restarts >= self.limits.restarts:
            raise Died(Status.CRASHED, "the notebook crashed or timed out too often")
        self.restarts += 1
        process = self.worker.launch(self.limits)
        if self.budget_end == math.inf:  # from the first process on: a worker's warm-up is the grader's time
            self.budget_end = time.monotonic() + self.limits.budget_seconds
        try:
            process.send({"op": "run", "cells": self.notebook.cells, "fixtures": self.plan["fixtures"],
                          "language": self.notebook.language, "skip": self.plan.get("demonstrations", [])})
            sealed, _ = self.receive(process, self.limits.notebook_seconds)
            protections = protocol.validate_sandbox(sealed)  # measured before the notebook was there
            message, _ = self.receive(process, self.limits.notebook_seconds)
            self.cell_errors, notes, ran = protocol.validate_ready(message)
            self.missing = [p.detail for p in protections if not p.present]
            self.notes = [p.line() for p in protections] + [
                f"ran {ran} of {len(self.notebook.cells)} code cells (unchanged demonstrations skipped)"] + [
                f"the notebook: {note}" for note in notes]  # its own words: never read as the sandbox's
        except protocol.ProtocolViolation as error:
            process.close()
            raise Died(Status.PROTOCOL, f"while running the notebook: sent something that is not a report ({error})")
        except Died as died:
            tail = process.output_tail(300)
            process.close()
            if isinstance(died, OutOfBudget):
                raise
            raise Died(died.status, f"while running the notebook: {died.detail}"
                       + (f"; its last output: {tail!r}" if tail else ""))
        self.process = process
        return process

    def ask(self, calls: list[CallSpec]) -> list[Any] | protocol.CallError:
        """One case's outputs, rebuilt as values, or how a call failed; raises ``Died`` when the
        process timed out, crashed or answered outside the protocol."""
        process = self.process or self.start()
        process.send({"op": "case", "calls": calls})
        message, buffers = self.receive(process, self.limits.call_seconds * len(calls))
        try:
            answer = protocol.validate_outputs(message, len(calls))
            if isinstance(answer, protocol.CallError):
                return answer
            return [values.unpack(value, buffers) for value in answer]
        except (ValueError, RecursionError, protocol.ProtocolViolation) as error:
            raise Died(Status.PROTOCOL, f"sent something that is not an answer ({protocol.clean(error, 200)})")

    def receive(self, process: StudentProcess, seconds: float) -> tuple[object, list[bytes]]:
        """``process.receive`` within ``seconds`` and the notebook's budget: a wait the budget
        cut short ends in the budget's message, not in a timeout the student could not see."""
        left = self.budget_end - time.monotonic()
        if left >= seconds:
            return process.receive(seconds)
        try:
            return process.receive(max(0.0, left))
        except Died as died:
            if died.status is Status.TIMEOUT:
                raise OutOfBudget(self.limits)
            raise

    def drop(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None


def budget_reason(limits: Limits) -> str:
    return messages._("the time budget of the notebook ({seconds:g} s for its cells and every call) was used up; "
                     "make the slow functions faster").format(seconds=limits.budget_seconds)


def budget_message(limits: Limits) -> str:
    """A case's message when the notebook's budget ran out before or while it ran."""
    return messages._("not graded: {why}").format(why=budget_reason(limits))


def blamed_cell(errors: list[protocol.CellError], notebook: Notebook, name: str) -> protocol.CellError | None:
    """The failed cell to blame for ``name`` being undefined: the first cell that failed on its
    own and mentions the name (``def name``, ``import name``, ``name = ...``), else the first
    cell that failed on its own."""
    causes = [e for e in errors if not e["consequence"]]
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    for error in causes:
        if 1 <= error["cell"] <= len(notebook.cells) and pattern.search(notebook.cells[error["cell"] - 1][1]):
            return error
    return causes[0] if causes else None


def with_cause(error: protocol.CallError, errors: list[protocol.CellError], notebook: Notebook) -> str:
    """A failed call's message, saying when a failed cell is why its function is missing or hits a NameError."""
    if not errors:
        return error.message
    if error.missing:
        cell = blamed_cell(errors, notebook, error.fn)
        return error.message if cell is None else messages._(
            "{fn} is missing because cell {cell} failed: {error}").format(fn=error.fn, cell=cell["cell"],
                                                                          error=cell["error"])
    cell = blamed_cell(errors, notebook, error.undefined) if error.undefined else None
    if cell is None:
        return error.message
    return error.message + " " + messages._("(a consequence of cell {cell}'s error: {error})").format(
        cell=cell["cell"], error=cell["error"])


def judge_case(question: QuestionSpec, case: CaseSpec, outputs: list, fixtures: dict) -> str:
    """'' when the outputs are right, else what is wrong, in the student's terms."""
    try:
        checks.judge(case, outputs, fixtures, tuple(question["outputs"]))
        return ""
    except checks.CheckFailure as failure:
        return str(failure)


def overall_status(problems: list[Status], missing: set[str]) -> tuple[Status, str]:
    for status in (Status.PROTOCOL, Status.TIMEOUT, Status.CRASHED):
        if status in problems:
            return status, "in a graded call: see the feedback"
    if missing:
        return Status.MISSING_FUNCTION, ", ".join(sorted(missing))
    if Status.CELL_ERRORS in problems:
        return Status.CELL_ERRORS, ""
    return Status.OK, ""


_fixtures: dict[int, tuple[Plan, dict]] = {}


def fixtures_of(plan: Plan) -> dict:
    """The plan's fixtures, defined once per plan (and so are their caches, like sketch's)."""
    if id(plan) not in _fixtures or _fixtures[id(plan)][0] is not plan:
        _fixtures[id(plan)] = (plan, load_fixtures(plan["fixtures"]))
    return _fixtures[id(plan)][1]


def grade_notebook(worker: Worker, plan: Plan, raw: bytes, limits: Limits, result: Result) -> Result:
    """Fill ``result`` (identity already set) with the grading of the notebook ``raw``."""
    start = time.monotonic()
    fixtures = fixtures_of(plan)
    try:
        notebook = read_notebook(raw)
    except NotANotebook as problem:
        return all_zero(plan, result, Status.NOT_A_NOTEBOOK, str(problem), start)
    result.language = notebook.language
    messages.set_language(notebook.language)
    session = Session(worker, plan, notebook, limits)
    try:
        session.start()
    except Died as died:
        out_of_time = isinstance(died, OutOfBudget)
        return all_zero(plan, result, died.status, budget_reason(limits) if out_of_time else died.detail, start)
    problems = [Status.CELL_ERRORS] if session.cell_errors else []
    cell_errors = session.cell_errors
    missing: set[str] = set()
    broken: dict[str, str] = {}  # function -> how it failed: not called again
    try:
        for question in plan["questions"]:
            for case in question["cases"]:
                message = ""
                functions = [call["fn"] for call in case["calls"]]
                if limits.deadline is not None and time.monotonic() > limits.deadline:
                    message = messages._("not graded: the overall time limit ran out")
                elif time.monotonic() >= session.budget_end:
                    message = budget_message(limits)
                    problems.append(Status.TIMEOUT)
                elif any(fn in broken for fn in functions):
                    fn = next(fn for fn in functions if fn in broken)
                    message = messages._("not run: {fn} {how} on an earlier case").format(fn=fn, how=broken[fn])
                else:
                    try:
                        answer = session.ask(case["calls"])
                    except Died as died:
                        problems.append(died.status)
                        how = messages._("timed out") if died.status is Status.TIMEOUT else messages._("crashed")
                        broken.update({fn: how for fn in functions})
                        out_of_time = isinstance(died, OutOfBudget)
                        message = died.detail if out_of_time else f"{'/'.join(functions)}: {died.detail}"
                        session.drop()
                    else:
                        if isinstance(answer, protocol.CallError):
                            if answer.missing:
                                missing.add(answer.fn)
                            message = with_cause(answer, cell_errors, notebook)
                        else:
                            message = judge_case(question, case, answer, fixtures)
                result.cases.append(CaseResult(question["name"], case["id"], case["label"],
                                               0 if message else case["points"], case["points"], case["hidden"],
                                               message))
    finally:
        session.drop()
    records: list[dict[str, Any]] = [dict(error) for error in cell_errors]  # as results.Result keeps them
    result.cell_errors = records if len(records) <= 20 else records[:15] + records[-5:]
    lines = [f"cell {e['cell']} ({e['line']}): {e['error']}" + (" (a consequence)" if e["consequence"] else "")
             for e in result.cell_errors]
    if len(cell_errors) > 20:
        lines.insert(15, f"... {len(cell_errors) - 20} more ...")
    result.log += lines + session.notes
    result.protections_missing = session.missing
    result.status, result.detail = overall_status(problems, missing)
    if result.status is Status.CELL_ERRORS:
        result.detail = explain.cell_error_text(explain.first_failure(records) or records[0], records)
    if time.monotonic() >= session.budget_end and result.status is Status.TIMEOUT:
        result.detail = budget_reason(limits)
    result.seconds = time.monotonic() - start
    return result


def all_zero(plan: Plan, result: Result, status: Status, detail: str, start: float) -> Result:
    result.status, result.detail = status, detail
    result.cases = [CaseResult(q["name"], c["id"], c["label"], 0, c["points"], c["hidden"],
                               messages._("not graded: {why}").format(why=detail))
                    for q in plan["questions"] for c in q["cases"]]
    result.seconds = time.monotonic() - start
    return result
