"""The grader's side of the hardened grader: warm workers, one graded notebook at a time each.

The grader process holds the plan (the expected values) and never runs student code.
It sends a student process the arguments of one call at a time, reads back plain JSON with
a deadline and a size cap, rebuilds the value strictly and judges it here
(``checks.judge``), so nothing a notebook does to its own process (patching numpy, replacing
the test runner, writing files, exiting) changes how it is judged.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course import checks, runtime

MAX_NOTEBOOK_BYTES = 20 << 20
MAX_REPLY_BYTES = 64 << 20


@dataclass
class Limits:
    notebook_seconds: float = 120.0  # running the whole notebook
    call_seconds: float = 30.0  # one call of a student function
    memory_mb: int = 4096  # address space of the student process (torch alone maps ~650 MB)
    output_mb: int = 8  # everything the notebook prints
    cpu_seconds: int = 900
    restarts: int = 8  # fresh student processes after a crash or a timeout in a call


class Died(Exception):
    """The student process ended or stopped answering."""


def hide_memory() -> None:
    """Same-uid processes cannot read this process's memory (/proc/PID/mem, ptrace)."""
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


class StudentProcess:
    def __init__(self, worker: "Worker", pid: int, sock: socket.socket, workdir: Path):
        self.worker, self.pid, self.sock, self.workdir = worker, pid, sock, workdir
        self.buffer = b""

    def request(self, message: dict, seconds: float) -> dict:
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        return self.reply(seconds)

    def reply(self, seconds: float) -> dict:
        deadline = time.monotonic() + seconds
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Died(f"timed out after {seconds:g} s (an infinite loop, or far too slow)")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise Died(self.worker.how_it_ended(self.pid))
            self.buffer += chunk
            if len(self.buffer) > MAX_REPLY_BYTES:
                raise Died("sent more than 64 MB in one answer")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise Died("sent something that is not an answer")
        if not isinstance(message, dict):
            raise Died("sent something that is not an answer")
        return message

    def output_tail(self, size: int = 2000) -> str:
        try:
            with open(self.workdir / "output.txt", "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - size))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.sock.close()


class Worker:
    """A warm sandbox worker (torch imported once) for one slot of the batch."""

    def __init__(self, slot: int, scratch: Path):
        self.slot, self.scratch, self.exits, self.runs = slot, scratch, {}, 0
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH")}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        self.process = subprocess.Popen([sys.executable, "-m", "course.sandbox", str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], cwd=scratch, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        theirs.close()

    def _message(self, wanted: str, seconds: float = 300.0) -> dict:  # the first waits for preloading
        deadline = time.monotonic() + seconds
        while True:
            self.control.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.control.recv(1 << 16)
            except socket.timeout:
                raise RuntimeError(f"the sandbox worker did not answer ({wanted})")
            if not data:
                raise RuntimeError("the sandbox worker stopped")
            message = json.loads(data)
            if "exited" in message:
                self.exits[message["exited"]] = message
            if wanted in message:
                return message

    def how_it_ended(self, pid: int) -> str:
        try:
            while pid not in self.exits:
                self._message("exited", seconds=2.0)
        except RuntimeError:
            return "stopped answering"
        status = self.exits.pop(pid)
        if status["signal"]:
            name = signal.Signals(status["signal"]).name
            hint = {"SIGKILL": " (killed: out of memory or the CPU limit?)", "SIGSEGV": " (segmentation fault)"}
            return f"crashed: killed by {name}{hint.get(name, '')}"
        if status["code"] == 70:
            return "could not be started: the grader's sandbox failed (a grader problem, not the student's)"
        return f"exited with code {status['code']} before answering (sys.exit or os._exit?)"

    def start(self, cells: list, plan: dict, limits: Limits) -> StudentProcess:
        self.runs += 1
        workdir = Path(tempfile.mkdtemp(prefix=f"slot{self.slot}-run{self.runs}-", dir=self.scratch))
        request = {"cells": cells, "fixtures": plan["fixtures"], "workdir": str(workdir),
                   "limits": asdict(limits), "guards": plan_guards(plan)}
        (workdir / "request.json").write_text(json.dumps(request))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        header = {"op": "grade", "request": str(workdir / "request.json")}
        socket.send_fds(self.control, [json.dumps(header).encode()], [theirs.fileno()])
        theirs.close()
        pid = self._message("started")["started"]
        return StudentProcess(self, pid, ours, workdir)

    def close(self) -> None:
        self.control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def plan_guards(plan: dict) -> list[str]:
    apis = {api for q in plan["questions"] for c in q["cases"] for call in c["calls"] for api in call.get("forbid", ())}
    return sorted(apis | set(runtime.FULL_MATRIX_APIS))


def code_cells(raw: bytes) -> list:
    """The notebook's code cells as (index, source); ValueError if it is not a notebook."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not valid notebook JSON ({e})")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise ValueError("not a Jupyter notebook in format 4")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if not isinstance(source, str):
                raise ValueError(f"cell {index} has no readable source")
            cells.append([index, source])
    return cells


@dataclass
class CaseResult:
    question: str
    label: str
    points: float
    max_points: float
    hidden: bool
    message: str = ""


@dataclass
class Result:
    status: str = "ok"
    detail: str = ""
    cases: list[CaseResult] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def question_scores(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for c in self.cases:
            scores[c.question] = scores.get(c.question, 0) + c.points
        return scores

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cases)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cases)


def zero_result(plan: dict, status: str, detail: str) -> Result:
    result = Result(status=status, detail=detail)
    for q in plan["questions"]:
        for case in q["cases"]:
            result.cases.append(CaseResult(q["name"], case["label"], 0, case["points"], case["hidden"],
                                           f"not graded: {detail}"))
    return result


def grade_notebook(worker: Worker, plan: dict, raw: bytes, limits: Limits) -> Result:
    """Grade one submitted notebook (its raw bytes) against the plan."""
    start = time.monotonic()
    try:
        cells = code_cells(raw)
    except ValueError as e:
        return zero_result(plan, "not a notebook", str(e))
    fixtures = runtime.load_fixtures(plan["fixtures"])
    result, process, restarts, problems = Result(), None, 0, []
    broken: dict[str, str] = {}  # function -> how it timed out or crashed: not called again

    def launch():
        nonlocal process
        process = worker.start(cells, plan, limits)
        try:
            ready = process.reply(limits.notebook_seconds)
        except Died as e:
            tail = process.output_tail()
            process.kill()
            process = None
            raise Died(f"while running the notebook: {e}" + (f"; its last output: {tail[-300:]!r}" if tail else ""))
        for err in ready.get("cell_errors", [])[:20]:
            result.log.append(f"cell {err.get('cell')}: {str(err.get('error'))[:300]}")
        result.log.extend(str(n) for n in ready.get("notes", [])[:5])

    try:
        launch()
    except Died as e:
        status = "timeout" if "timed out" in str(e) else "crashed"
        zero = zero_result(plan, status, str(e))
        zero.seconds = time.monotonic() - start
        return zero
    if any(entry.startswith("cell ") for entry in result.log):
        problems.append("cell errors")

    for q in plan["questions"]:
        for case in q["cases"]:
            outputs, message = [], ""
            for call in case["calls"]:
                if call["fn"] in broken:
                    message = f"not run: {call['fn']} {broken[call['fn']]} on an earlier case"
                    break
                if process is None:
                    if restarts >= limits.restarts:
                        message = "not graded: the notebook crashed or timed out too often"
                        break
                    restarts += 1
                    try:
                        launch()
                    except Died as e:
                        message = f"not graded: {e}"
                        break
                try:
                    reply = process.request(call, limits.call_seconds)
                except Died as e:
                    message, broken[call["fn"]] = f"{call['fn']} {e}", str(e).split(":")[0]
                    problems.append("timeout" if "timed out" in str(e) else "crashed")
                    process.kill()
                    process = None
                    break
                if "error" in reply:
                    message = str(reply["error"])[:1000]
                    if "is not defined" in message and message.startswith(call["fn"]):
                        problems.append(f"missing function {call['fn']}")
                    break
                try:
                    outputs.append(runtime.decode(reply.get("value")))
                except (ValueError, KeyError, TypeError):
                    message = f"{call['fn']} returned something the grader cannot read"
                    break
            points = 0
            if not message:
                try:
                    checks.judge(case, outputs, fixtures)
                    points = case["points"]
                except checks.CheckFailure as e:
                    message = str(e)
                except Exception as e:  # a value that rebuilt but makes no sense to the checks
                    message = f"{case['label']}: could not compare the answer ({type(e).__name__})"
            elif not message.startswith(case["label"]):
                message = f"{case['label']}: {message}"
            result.cases.append(CaseResult(q["name"], case["label"], points, case["points"], case["hidden"], message))
    if process is not None:
        process.kill()
    for status in ("timeout", "crashed"):
        if status in problems:
            result.status = status
            break
    else:
        missing = sorted({p.removeprefix("missing function ") for p in problems if p.startswith("missing")})
        if missing:
            result.status, result.detail = "missing function", ", ".join(missing)
        elif problems:
            result.status = "cell errors"
    if result.status in ("timeout", "crashed") and not result.detail:
        result.detail = "in a graded call: see the feedback"
    result.seconds = time.monotonic() - start
    return result


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()
