"""Grading a folder or zip of submissions with the hardened grader (`course grade` runs this,
then writes the outputs: ``course.cli``).

Every submission gets a row, whatever it or its neighbours did: anything that goes wrong
while grading one submission becomes that submission's status and note (a grader fault is
retried once on a fresh worker, then reported as ``grader error``, with its traceback in
``grading.log``).  Results are written one file per submission, atomically, keyed by the
notebook's and the autograder's digests: a run that is killed and started again grades only
what is missing.  Nothing outlives the batch: on return, Ctrl-C or a kill, the workers and
their student processes die (they hold PR_SET_PDEATHSIG), and the next run removes a killed
run's scratch folder.

A batch writes only grading's own records: ``plan.json``, ``results/<key>.json``,
``grading.log`` and, for a shard, ``shard.json``; no gradebook, LMS file, feedback or report
(``course.outputs.export`` makes them from the results returned).  A class too big for one
machine is graded in shares (``shard``) and its results joined again (``merge``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from course.files import write_atomic
from calc4ml_runtime.plan import all_cases, forbidden_apis, Plan
from course.grade.grading import grade_one, load_plan, plan_functions, read_digest, Slots  # noqa: F401
from course.layout import CourseError
from course.grade.pool import hide_memory, Limits
from course.results import Result
from course.grade.submissions import collect, Submission
from course.text import escape

SCRATCH_PREFIX = "course-grade-"


def shard_of(key: str, count: int) -> int:
    """Which of ``count`` shares (1-based) a submission belongs to: the same on every machine."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % count + 1


def remove_stale_scratch() -> None:
    """Scratch folders of earlier runs whose process is gone (killed runs leave them)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        try:
            pid = int(folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError):
            pass


def to_stderr(line: str) -> None:
    """The batch's progress, for the instructor's terminal."""
    print(line, file=sys.stderr, flush=True)


def grade_all(submissions_path: Path, autograder: Path, output: Path, workers: int = 2,
              limits: Limits | None = None, log: Callable[[str], None] = to_stderr,
              shard: tuple[int, int] | None = None) -> list[Result]:
    """Grade every submission not already graded in ``output``; return all results, in the
    download's order.

    With ``shard`` (I, N), grade only the I-th share and record it in ``shard.json``, for
    ``merge`` once every share is done."""
    hide_memory()
    limits = limits or Limits()
    plan, plan_digest = load_plan(autograder)
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / "plan.json", json.dumps(plan, ensure_ascii=False))
    grading_log = output / "grading.log"
    log_lock = threading.Lock()

    def note(text: str) -> None:
        with log_lock, open(grading_log, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(escape(text, 20000, newlines=True) + "\n")

    submissions = collect(submissions_path, log=note)
    if shard is not None:
        every = [s.key for s in submissions]
        submissions = [s for s in submissions if shard_of(s.key, shard[1]) == shard[0]]
        write_atomic(output / "shard.json", json.dumps({"shard": shard[0], "of": shard[1], "plan": plan_digest,
                                                        "keys": every, "mine": [s.key for s in submissions]}))
    results_dir = output / "results"
    done: dict[str, Result] = {}
    todo: list[Submission] = []
    for s in submissions:
        previous = results_dir / f"{s.key}.json"
        if previous.exists():
            try:
                expected = read_digest(s.notebook(), plan_digest)
                record = json.loads(previous.read_text(encoding="utf-8"))
                if record.get("digest") == expected:
                    done[s.key] = Result.from_record(record)
                    done[s.key].identity = s.identity  # as collect read it (an older record may lack some)
                    continue
            except (OSError, ValueError, TypeError, KeyError):
                pass
        todo.append(s)
    log(f"{len(submissions)} submissions: {len(done)} already graded, {len(todo)} to grade")

    remove_stale_scratch()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    os.chmod(scratch, 0o711)  # a student uid may reach its own folder (without a private root), list none
    slots = Slots(max(1, workers), scratch, forbidden_apis(all_cases(plan)))
    if todo:
        slots.warm_up()
    problems: list[str] = []
    counter = {"done": 0}

    def run(s: Submission) -> None:
        result = grade_one(s, plan, plan_digest, limits, slots, problems)
        save(results_dir, result)
        with log_lock:
            done[s.key] = result
            counter["done"] += 1
            n = counter["done"]
        # one line per field: a name or a message cannot start a line of its own, or colour one
        note(f"{escape(s.source)}: {result.status} {escape(result.detail)}"
             + "".join(f"\n    {escape(line)}" for line in result.log))
        while problems:
            note("GRADER FAULT " + problems.pop(0))
        log(f"[{n:>4}/{len(todo)}] {escape(s.source)}: {result.score:g}/{result.max_score:g} {result.status}"
            f"{' (' + escape(result.detail[:80]) + ')' if result.detail else ''} in {result.seconds:.1f} s")

    executor = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [executor.submit(run, s) for s in todo]
        wait(futures)
        for future in futures:
            future.result()
    except BaseException:  # Ctrl-C, or a bug: stop every student process before anything else
        slots.close()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        slots.close()
        executor.shutdown(wait=True)
        shutil.rmtree(scratch, ignore_errors=True)
    results = [done[s.key] for s in submissions]
    if shard is not None:
        log(f"shard {shard[0]}/{shard[1]}: {len(results)} results in {results_dir}; once every shard is done, "
            "`course merge` makes the gradebook, the LMS file and the report")
    return results


def save(results_dir: Path, result: Result) -> None:
    """``results/<key>.json``: what a resumed batch, `course report` and `course merge` read."""
    write_atomic(results_dir / f"{result.key}.json", json.dumps(result.to_record(), indent=1, sort_keys=True))


def merge(shards: list[Path], output: Path, log: Callable[[str], None] = to_stderr) -> list[Result]:
    """The results of one batch graded as N shards, in ``output`` as a single run over the same
    submissions would have left them (the same order, ``plan.json``, ``grading.log``)."""
    infos = []
    for folder in shards:
        try:
            infos.append((folder, json.loads((folder / "shard.json").read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:
            raise CourseError(f"{folder}: not the output of `course grade --shard` ({error})") from None
    first = infos[0][1]
    count = first["of"]
    if sorted(info["shard"] for _, info in infos) != list(range(1, count + 1)):
        raise CourseError(f"merge needs each of the {count} shards once; got "
                          + ", ".join(f"{info['shard']}/{info['of']} ({folder})" for folder, info in infos))
    for folder, info in infos:
        if (info["of"], info["plan"], info["keys"]) != (count, first["plan"], first["keys"]):
            raise CourseError(f"{folder} graded other submissions or another autograder than {infos[0][0]}: "
                              "run every shard on the same download with the same autograder")
    by_key: dict[str, Result] = {}
    for folder, info in infos:
        for key in info["mine"]:
            try:
                by_key[key] = Result.from_record(json.loads((folder / "results" / f"{key}.json").read_text("utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                raise CourseError(f"{folder}: shard {info['shard']}/{count} has no result for {escape(key)} yet: "
                                  "run the same `course grade --shard` again (it resumes), then merge") from None
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / "plan.json", (infos[0][0] / "plan.json").read_text(encoding="utf-8"))
    results = [by_key[key] for key in first["keys"]]
    for result in results:
        save(output / "results", result)
    with open(output / "grading.log", "w", encoding="utf-8") as merged_log:
        for folder, _ in sorted(infos, key=lambda item: item[1]["shard"]):
            if (folder / "grading.log").exists():
                merged_log.write((folder / "grading.log").read_text(encoding="utf-8", errors="backslashreplace"))
    log(f"merged {len(results)} results from {count} shards")
    return results


def saved_plan(output: Path) -> Plan:
    """The plan a batch graded ``output``'s results with (its ``plan.json``)."""
    return json.loads((output / "plan.json").read_text(encoding="utf-8"))
