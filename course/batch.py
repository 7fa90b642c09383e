"""`course grade`: grade a folder or zip of submissions with the hardened grader.

Every submission gets a row, whatever it did.  Results are written one file per submission,
atomically, keyed by the notebook's and the autograder's digests: a run that is killed and
started again grades only what is missing, and a submission graded twice with the same
autograder gets the same result.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from course import export
from course.export import write_atomic
from course.grade import Limits, Worker, digest, grade_notebook, hide_memory, zero_result

MAX_MEMBER_BYTES = 50 << 20
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<id>\d+)_(?P<submission>\d+)_", re.I)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_file_?$")


@dataclass
class Submission:
    key: str  # a stable, file-system-safe name
    source: str  # where it came from (path inside the folder or zip)
    student: str
    raw: bytes | None  # the notebook's bytes; None when there is no notebook
    problem: str = ""


def student_id(path: str) -> str:
    """The student's identifier from an LMS download's file name (Canvas, Moodle), else the stem."""
    parts = Path(path).parts
    match = CANVAS_NAME.match(parts[-1])
    if match:
        return match.group("id")
    for part in parts[:-1]:
        folder = MOODLE_FOLDER.match(part)
        if folder:
            return folder.group("id")
    return Path(parts[0] if len(parts) > 1 else parts[-1]).stem


def _key(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_")[:150] or "submission"


def _notebook_in_zip(data: bytes) -> tuple[bytes | None, str]:
    """The one notebook of a student's zip (what otter's export cell makes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            notebooks = [i for i in z.infolist() if i.filename.endswith(".ipynb") and "__MACOSX" not in i.filename]
            if len(notebooks) != 1:
                return None, f"a zip with {len(notebooks)} notebooks (expected exactly one)"
            if notebooks[0].file_size > MAX_MEMBER_BYTES:
                return None, "a notebook larger than 50 MB"
            return z.read(notebooks[0]), ""
    except (zipfile.BadZipFile, OSError, RuntimeError) as e:
        return None, f"an unreadable zip ({e})"


def _entry(source: str, data: bytes) -> Submission:
    raw, problem = data, ""
    if source.lower().endswith(".zip"):
        raw, problem = _notebook_in_zip(data)
    elif not source.lower().endswith(".ipynb"):
        raw, problem = None, f"a {Path(source).suffix or 'extensionless'} file"
    return Submission(_key(source), source, student_id(source), raw, problem)


def _skip(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in Path(name).parts)


def collect(path: Path) -> list[Submission]:
    """Submissions in a folder (recursively) or in a zip such as Canvas's "Download Submissions"."""
    found = []
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            rel = str(file.relative_to(path))
            if file.is_file() and not file.is_symlink() and not _skip(rel):
                found.append(_entry(rel, file.read_bytes()[: MAX_MEMBER_BYTES + 1]))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in sorted(z.infolist(), key=lambda i: i.filename):
                if info.is_dir() or _skip(info.filename):
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    found.append(Submission(_key(info.filename), info.filename, student_id(info.filename),
                                            None, "a file larger than 50 MB"))
                    continue
                found.append(_entry(info.filename, z.read(info)))
    elif path.is_file():
        found.append(_entry(path.name, path.read_bytes()))
    else:
        raise SystemExit(f"no submissions at {path}")
    keys: dict[str, int] = {}
    for s in found:  # two sources that slug alike still get two rows
        keys[s.key] = keys.get(s.key, 0) + 1
        if keys[s.key] > 1:
            s.key = f"{s.key}-{keys[s.key]}"
    return found


def load_plan(autograder: Path) -> tuple[dict, bytes]:
    data = autograder.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(z.read("plan.json")), data


def record(submission: Submission, result, plan_digest: str) -> dict:
    return {
        "key": submission.key, "source": submission.source, "student": submission.student,
        "digest": digest(submission.raw or submission.problem.encode(), plan_digest.encode()),
        "status": result.status, "detail": result.detail,
        "score": result.score, "max_score": result.max_score,
        "questions": result.question_scores(), "cases": [asdict(c) for c in result.cases],
        "log": result.log, "seconds": round(result.seconds, 3),
    }


def grade_all(submissions_path: Path, autograder: Path, output: Path, workers: int = 2,
              limits: Limits | None = None, roster: Path | None = None, log=None) -> list[dict]:
    """Grade every submission not already graded; write all outputs; return the records."""
    hide_memory()
    limits = limits or Limits()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    plan, autograder_bytes = load_plan(autograder)
    plan_digest = digest(autograder_bytes)
    submissions = collect(submissions_path)
    results_dir = output / "results"
    records: dict[str, dict] = {}
    todo = []
    for s in submissions:
        done = results_dir / f"{s.key}.json"
        expected_digest = digest(s.raw or s.problem.encode(), plan_digest.encode())
        if done.exists():
            try:
                previous = json.loads(done.read_text())
                if previous.get("digest") == expected_digest:
                    records[s.key] = previous
                    continue
            except ValueError:
                pass
        todo.append(s)
    log(f"{len(submissions)} submissions: {len(records)} already graded, {len(todo)} to grade")

    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    os.chmod(scratch, 0o711)  # sandbox uids may enter their own folders, not list others
    pool: queue.Queue = queue.Queue()
    counter = {"done": 0}
    lock = threading.Lock()
    grading_log = output / "grading.log"
    output.mkdir(parents=True, exist_ok=True)

    def grade_one(s: Submission) -> None:
        if s.raw is None:
            result = zero_result(plan, "not a notebook", s.problem)
        else:
            worker = pool.get()
            try:
                result = grade_notebook(worker, plan, s.raw, limits)
            except (RuntimeError, OSError) as first:  # the worker itself failed: a fresh one, once
                worker.close()
                worker = Worker(worker.slot, scratch)
                try:
                    result = grade_notebook(worker, plan, s.raw, limits)
                except (RuntimeError, OSError) as second:
                    result = zero_result(plan, "grader error", f"{first}; then {second}")
            finally:
                pool.put(worker)
        rec = record(s, result, plan_digest)
        write_atomic(results_dir / f"{s.key}.json", json.dumps(rec, indent=1, sort_keys=True))
        with lock:
            records[s.key] = rec
            counter["done"] += 1
            with open(grading_log, "a") as f:
                f.write(f"{s.source}: {rec['status']} {rec['detail']}\n")
                for line in rec["log"]:
                    f.write(f"    {line}\n")
            log(f"[{counter['done']:>4}/{len(todo)}] {s.source}: {rec['score']:g}/{rec['max_score']:g} "
                f"{rec['status']}{' (' + rec['detail'][:80] + ')' if rec['detail'] else ''} "
                f"in {rec['seconds']:.1f} s")

    try:
        if any(s.raw is not None for s in todo):
            for slot in range(max(1, workers)):
                pool.put(Worker(slot, scratch))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            for future in [executor.submit(grade_one, s) for s in todo]:
                future.result()
    finally:
        while not pool.empty():
            pool.get().close()
        shutil.rmtree(scratch, ignore_errors=True)
    ordered = [records[s.key] for s in submissions]
    export.write_all(ordered, plan, output, roster)
    return ordered


def main(args) -> int:
    start = time.perf_counter()
    autograder = Path(args.autograder or Path("autograder") / f"{args.assignment}-autograder.zip")
    if not autograder.exists():
        raise SystemExit(f"no autograder at {autograder}: run `course build` first or pass --autograder")
    limits = Limits(notebook_seconds=args.timeout, call_seconds=args.call_timeout, memory_mb=args.memory_mb)
    roster = Path(args.roster) if args.roster else None
    records = grade_all(Path(args.submissions), autograder, Path(args.output), args.workers, limits, roster)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(f"graded {len(records)} submissions in {time.perf_counter() - start:.1f} s: "
          + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    print(f"gradebook: {Path(args.output) / 'gradebook.csv'}")
    return 0
