"""What the generated otter test files call: shipped as ``tests/calc4ml_runtime/__init__.py``
beside this package's ``runtime.py`` and ``checks.py``, once per assignment, so that a test
file holds only its cases and one call per case.

``otter run`` (what instructors debug with) runs the hidden tests in the student's kernel, with
no limit of its own on a call: ``grade_case`` gives a case the hardened grader's time
(``CALL_SECONDS`` per call) with a timer signal, and fails it with the same message.  Its
``Normalise`` plugin (named in the autograder's ``otter_config.json``, imported from the
installed ``course`` package) makes any notebook runnable: VS Code's or a venv's kernel name
becomes ``python3``, a notebook that lost its metadata (a jupytext round trip) is graded as the
autograder's assignment, and the course's unchanged demonstration cells are skipped, as
``course grade`` skips them.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

from .checks import CheckFailure, judge, timed_out
from .runtime import CallFailed, install_guards, load_fixtures, run_case, set_language, warn_unsupported_torch

CALL_SECONDS = 30.0  # as ``course grade``'s default (pool.Limits.call_seconds)


class _OutOfTime(BaseException):
    """Raised into a student's function by the timer: a BaseException, past ``except Exception``."""


def _run_in_time(env: dict, calls: list, functions: dict, seconds: float) -> list:
    """``run_case`` within ``seconds``; in the main thread only (where signals arrive), else unbounded."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return run_case(env, calls, functions)
    end = time.monotonic() + seconds

    def alarm(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)  # again every 0.5 s: swallowing it does not help
    try:
        outputs = run_case(env, calls, functions)
    except _OutOfTime:
        outputs = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if outputs is None or time.monotonic() >= end:
        raise CheckFailure(f"{'/'.join(c['fn'] for c in calls)}: {timed_out(seconds)}")
    return outputs


def grade_case(env: dict, case: dict, fixtures: dict, names: tuple = (), language: str = "en",
               call_seconds: float = CALL_SECONDS) -> None:
    """Run one case's calls on the notebook's functions (``env``) and judge the outputs;
    raise ``CheckFailure`` with a message for the student."""
    set_language(language)
    warn_unsupported_torch()
    install_guards([api for call in case["calls"] for api in call.get("forbid", ())])
    functions = load_fixtures(fixtures)
    try:
        outputs = _run_in_time(env, case["calls"], functions, call_seconds * len(case["calls"]))
    except CallFailed as failure:
        raise CheckFailure(str(failure)) from None
    judge(case, outputs, functions, tuple(names))


def _quiet_otter() -> None:
    """Otter prefixes a failure with "Error at line N in test qK" and the test's own source
    line; a ``CheckFailure`` already says what the student needs, so show it alone."""
    try:
        from otter.test_files.exception_test import ExceptionTestFile
    except ImportError:
        return
    generate = ExceptionTestFile._generate_error_message
    if getattr(generate, "_course_quiet", False):
        return

    def message(self, excp, context=0):
        return str(excp) if isinstance(excp, CheckFailure) else generate(self, excp, context)

    message._course_quiet = True
    ExceptionTestFile._generate_error_message = message


_quiet_otter()

try:
    from otter.plugins import AbstractOtterPlugin
except ImportError:  # without otter, nothing needs the plugin
    AbstractOtterPlugin = object


class Normalise(AbstractOtterPlugin):
    """``otter run``'s hook before the notebook runs (config: ``{"assignment": name}``).

    Otter runs a notebook under its own kernelspec name when not in a container, so a notebook
    saved by VS Code (``venv-calc4ml``) ends in NoSuchKernel; and it refuses a notebook without
    otter's metadata ("assignment 'None'").  Here the kernel is ``python3`` (the Python running
    otter), only a notebook that names another assignment is refused, and the cells that
    ``course grade`` would skip are emptied."""

    def before_execution(self, submission):
        if isinstance(submission, str):  # a .py script: nothing to normalise
            return submission
        metadata = submission.setdefault("metadata", {})
        metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        self.skip_demonstrations(submission)
        named = (metadata.get("otter") or {}).get("assignment_name")
        expected = (self.plugin_config or {}).get("assignment")
        if named and expected and named != expected:
            from otter.run.run_autograder.utils import OtterRuntimeError  # otter writes it into results.json
            raise OtterRuntimeError(f"this notebook is for assignment '{named}'; this autograder grades '{expected}'")
        return submission

    def skip_demonstrations(self, notebook) -> None:
        """Empty the course's demonstration cells a student left unchanged, as ``course grade``
        skips them (``course/cells.py``): grading never needs them, and one of hw06's runs the
        student's ``cg_newton_step`` at n = 300,000, where a slow one would hold otter for hours."""
        from .cells import runnable  # the installed course's (the students' copy has no plugin use)

        plan = Path(self.submission_path).resolve().parent.parent / "source" / "plan.json"
        try:
            skippable = set(json.loads(plan.read_text(encoding="utf-8")).get("demonstrations", []))
        except (OSError, ValueError):
            return
        code = [(i, cell.source) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        kept = {i for i, _ in runnable(code, skippable)}
        for i, _ in code:
            if i not in kept:
                notebook.cells[i].source = ""
