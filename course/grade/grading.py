"""Grading one submission with the hardened grader, whatever happens: the plan, the warm
workers' slots, and ``grade_one``, which turns anything that goes wrong into the submission's
own row.  What both `course grade` (``batch``) and Gradescope's entry point (``gradescope``)
run; nothing here writes an LMS file, a gradebook or a report."""

from __future__ import annotations

import json
import queue
import threading
import time
import traceback
import zipfile
from pathlib import Path

from calc4ml_runtime.plan import Plan
from course.files import digest
from course.grade import protocol
from course.grade.functions import notebook_functions
from course.grade.judge import all_zero, grade_notebook
from course.grade.pool import Limits, Worker
from course.results import Result, Status
from course.grade.submissions import Read, Submission
from course.text import escape


def load_plan(autograder: Path) -> tuple[Plan, str]:
    data = autograder.read_bytes()
    with zipfile.ZipFile(autograder) as z:
        return json.loads(z.read("plan.json")), digest(data)


def plan_functions(plan: Plan) -> set[str]:
    return {fn for q in plan["questions"] for fn in q["functions"]}


class Slots:
    """One warm worker per slot, started when first needed, replaced when it fails."""

    def __init__(self, count: int, scratch: Path, guarded: list[str]):
        self.scratch, self.guarded = scratch, guarded
        self.free: queue.Queue[int] = queue.Queue()
        self.all: list[Worker] = []
        self.lock = threading.Lock()
        self.workers: dict[int, Worker] = {}
        for slot in range(count):
            self.free.put(slot)

    def warm_up(self) -> None:
        """Start every worker now: they import torch while the grader does its own set-up."""
        with self.lock:
            for slot in range(self.free.qsize()):
                self.workers.setdefault(slot, Worker(slot, self.scratch, self.guarded))

    def take(self) -> tuple[int, Worker]:
        slot = self.free.get()
        with self.lock:
            if slot not in self.workers:
                self.workers[slot] = Worker(slot, self.scratch, self.guarded)
            return slot, self.workers[slot]

    def replace(self, slot: int) -> Worker:
        with self.lock:
            self.workers.pop(slot).close()
            self.workers[slot] = Worker(slot, self.scratch, self.guarded)
            return self.workers[slot]

    def give_back(self, slot: int) -> None:
        self.free.put(slot)

    def close(self) -> None:
        with self.lock:
            for worker in self.workers.values():
                worker.close()
            self.workers.clear()


def grade_one(s: Submission, plan: Plan, plan_digest: str, limits: Limits, slots: Slots,
              problems: list[str]) -> Result:
    """One submission, whatever happens: a Result, never an exception."""
    def fresh(raw_digest: str = "") -> Result:
        return Result(s.key, s.source, s.identity, digest=raw_digest)

    read = s.notebook()
    result = fresh(read_digest(read, plan_digest))
    if read.notebook is None:
        return _zero(plan, result, Status.NOT_A_NOTEBOOK, read.problem)
    slot, worker = slots.take()
    try:
        failure = ""
        for attempt in (1, 2):
            try:
                graded = grade_notebook(worker, plan, read.notebook, limits, result)
                graded.language_detected = bool(read.detected) and graded.status is not Status.NOT_A_NOTEBOOK
                graded.code = notebook_functions(read.notebook, plan_functions(plan))
                return graded
            except Exception as error:  # a fault of the grader's own, not the student's
                problems.append(f"{escape(s.source)}: attempt {attempt}: " + protocol.clean(traceback.format_exc(), 4000))
                result = fresh(result.digest)
                worker = slots.replace(slot)
                failure = type(error).__name__
        return _zero(plan, result, Status.GRADER_ERROR, f"the grader failed ({failure}); your instructor has the log")
    finally:
        slots.give_back(slot)


def read_digest(read: Read, plan_digest: str) -> str:
    """What a result is keyed by: the notebook as graded (its code) and the autograder."""
    return digest(read.notebook if read.notebook is not None else read.problem.encode(), plan_digest.encode())


def _zero(plan: Plan, result: Result, status: Status, detail: str) -> Result:
    return all_zero(plan, result, status, protocol.clean(detail, 500), time.monotonic())
