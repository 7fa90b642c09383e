"""The grader's handles on the student side: warm workers and the student processes they fork.

A ``Worker`` is one slot of a batch: a ``python -m course.grade.worker`` process, started once.
``Worker.launch`` asks it for a fresh, locked-down student process and returns a
``StudentProcess``: the grader's end of its channel, the file that takes its printed output
(opened by the grader, unlinked, passed as a descriptor: nothing the student can replace),
and the folder the student's private root is mounted on.  Every wait has a deadline;
how a process ended is told in the student's terms (``Died``).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from calc4ml_runtime import checks
from course.grade import protocol
from course.results import Status

STUDENT_UID_BASE = 200_000  # as root, each student process gets a uid of its own from here
UID_BLOCK = 100_000  # uids of one batch: slot * 1000 + run
UID_LOCKS = Path(tempfile.gettempdir()) / "course-uid-blocks"
_uid_block: list = []  # (block index, the open lock file that holds it), once per grader process


def uid_block() -> int:
    """The first uid of this grader process's own block of student uids.

    Two batches graded at once (two `course grade` runs, or one beside a Gradescope run) must
    never give two live student processes the same uid: a uid would let one signal the other.
    Each grader process takes the first free block by an exclusive lock on a file of its own,
    held until it exits (the kernel releases it even after ``kill -9``)."""
    if not _uid_block:
        UID_LOCKS.mkdir(mode=0o755, exist_ok=True)
        for index in range(200):
            lock = open(UID_LOCKS / f"{index}.lock", "a")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            _uid_block.append((index, lock))
            break
        else:
            raise RuntimeError(f"more than 200 batches are grading at once (locks in {UID_LOCKS})")
    return STUDENT_UID_BASE + _uid_block[0][0] * UID_BLOCK


@dataclass
class Limits:
    notebook_seconds: float = 120.0  # running the notebook's cells
    call_seconds: float = 30.0  # one call of a student function
    # Everything one notebook may take: its cells, every call, and the re-runs after a crash or a
    # timeout.  Without it, calls that each stop just short of call_seconds would hold a worker
    # for cases x call_seconds (16 minutes for hw06); an honest notebook needs a few seconds.
    budget_seconds: float = 180.0
    memory_mb: int = 4096  # address space of the student process (torch alone maps ~650 MB)
    output_mb: int = 8  # everything the notebook prints
    cpu_seconds: int = 900
    restarts: int = 8  # fresh student processes after a crash or a timeout in a call
    deadline: float | None = None  # time.monotonic() after which nothing more is graded


class Died(Exception):
    """The student process ended, stopped answering, or broke the protocol."""

    def __init__(self, status: Status, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has already died)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def hide_memory() -> None:
    """Same-uid processes cannot read this process's memory (/proc/PID/mem, ptrace)."""
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


class StudentProcess:
    """A student process, seen from the grader: its channel (read only with a deadline), the
    file its printed output goes to, and the folder it ran in."""

    def __init__(self, worker: Worker, pid: int, channel: socket.socket, output: IO[bytes], folder: Path):
        self.worker, self.pid, self.channel, self.output, self.folder = worker, pid, channel, output, folder
        self.reader = protocol.Reader(channel)

    def send(self, message: dict) -> None:
        try:
            self.channel.setblocking(True)
            self.channel.settimeout(30)
            protocol.send(self.channel, message)
        except OSError as error:  # a broken pipe: the student side is gone
            raise Died(Status.CRASHED, self.worker.how_it_ended(self.pid, f"closed its channel ({error.strerror})"))
        finally:
            self.channel.setblocking(False)

    def receive(self, seconds: float) -> tuple[object, list[bytes]]:
        deadline = time.monotonic() + seconds
        try:
            message, buffers = self.reader.receive(deadline)
        except protocol.TimedOut:
            raise Died(Status.TIMEOUT, checks.timed_out(seconds))
        except protocol.ChannelClosed:
            raise Died(Status.CRASHED, self.worker.how_it_ended(self.pid))
        except protocol.ProtocolViolation as error:
            raise Died(Status.PROTOCOL, f"sent something that is not an answer: {error}")
        if isinstance(message, dict) and set(message) == {"fatal"}:
            raise Died(Status.CRASHED, protocol.clean(message["fatal"], 300))
        return message, buffers

    def output_tail(self, size: int = 600) -> str:
        """The end of what the notebook printed, read from the grader's own descriptor."""
        try:
            end = os.fstat(self.output.fileno()).st_size
            data = os.pread(self.output.fileno(), size, max(0, end - size))
            return protocol.clean(data.decode("utf-8", errors="replace"), size)
        except OSError:
            return ""

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.channel.close()
        self.output.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Worker:
    """A warm sandbox worker (torch imported once) for one slot of the batch."""

    def __init__(self, slot: int, scratch: Path, guarded: list[str]):
        self.slot, self.scratch, self.runs = slot, scratch, 0
        self.exits: dict[int, dict[str, Any]] = {}  # pid -> the worker's report of how it ended
        self.students: set[int] = set()  # every student process started, until it is known to be gone
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "COURSE_TEST_WEAKER_KERNEL")}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                   HOME=str(scratch), MPLCONFIGDIR=str(scratch / "matplotlib"))
        self.process = subprocess.Popen([sys.executable, "-m", "course.grade.worker", str(theirs.fileno()), *guarded],
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
                self.students.discard(message["exited"])
            if wanted in message:
                return message

    def how_it_ended(self, pid: int, otherwise: str = "stopped answering") -> str:
        try:
            while pid not in self.exits:
                self._message("exited", seconds=2.0)
        except RuntimeError:
            return otherwise
        status = self.exits.pop(pid)
        if status["signal"]:
            name = signal.Signals(status["signal"]).name
            hint = {"SIGKILL": " (out of memory or CPU time?)", "SIGSEGV": " (a segmentation fault)",
                    "SIGXCPU": " (CPU time limit)"}
            return f"crashed: killed by {name}{hint.get(name, '')}"
        if status["code"] == 70:
            return "could not be started: the grader's sandbox failed (a grader problem, not the student's)"
        return f"exited with code {status['code']} (sys.exit or os._exit?)"

    def launch(self, limits: Limits) -> StudentProcess:
        """A fresh, locked-down student process (it has not seen the notebook yet)."""
        self.runs += 1
        folder = Path(tempfile.mkdtemp(prefix=f"slot{self.slot}-run{self.runs}-", dir=self.scratch))
        (folder / "root").mkdir()
        (folder / "home").mkdir(mode=0o700)
        os.chmod(folder, 0o755)
        output = tempfile.TemporaryFile(dir=self.scratch)  # unlinked: only descriptors reach it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid = (uid_block() if os.getuid() == 0 else STUDENT_UID_BASE) + self.slot * 1000 + self.runs % 1000
        start = {"op": "start", "limits": {k: v for k, v in asdict(limits).items() if k != "deadline"},
                 "uid": uid, "base": str(folder / "root"), "home": str(folder / "home")}
        try:
            socket.send_fds(self.control, [json.dumps(start).encode()], [theirs.fileno(), output.fileno()])
            pid = self._message("started")["started"]
        except BaseException:
            output.close()
            ours.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self.students.add(pid)
        return StudentProcess(self, pid, ours, output, folder)

    def close(self) -> None:
        """Kill the worker; its student processes die with it (PR_SET_PDEATHSIG): wait until
        they have, so that nothing of the batch outlives it."""
        self.control.close()
        self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while self.students and time.monotonic() < deadline:
            self.students = {pid for pid in self.students if running(pid)}
            time.sleep(0.02)
