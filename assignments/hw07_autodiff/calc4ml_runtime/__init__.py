"""The course's student-side runtime: what the generated otter test files call
(``grade_case``), and what the hardened grader's student process runs a case with.

Self-contained (torch and the standard library only) and copied verbatim beside every
assignment's notebook and into every autograder, so a test file holds only its cases and one
call per case, and ``otter check``, ``otter run`` and ``course grade`` judge alike:

- ``plan``: the plan's types;  ``messages``: the student's language, the supported torch;
- ``guards``: forbidden APIs;  ``calls``: a case's inputs and calls;
- ``values``: values as plain and wire data;  ``checks``: the comparison policy.

``otter run`` (what instructors debug with) runs the hidden tests in the student's kernel, with
no limit of its own on a call: ``grade_case`` gives a case the hardened grader's time
(``CALL_SECONDS`` per call) with a timer signal, and fails it with the same message.  The
``Normalise`` plugin (``course.grade.otter_plugin``) makes any notebook runnable by ``otter run``.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any, Callable, Sequence

from .calls import CallFailed, load_fixtures, run_case
from .checks import CheckFailure, judge, timed_out
from .guards import install_guards
from .messages import set_language, warn_unsupported_torch
from .plan import CallSpec, CaseSpec, forbidden_apis

CALL_SECONDS = 30.0  # as ``course grade``'s default (pool.Limits.call_seconds)


class _OutOfTime(BaseException):
    """Raised into a student's function by the timer: a BaseException, past ``except Exception``."""


def _run_in_time(env: dict[str, Any], calls: list[CallSpec], functions: dict[str, Any], seconds: float) -> list[Any]:
    """``run_case`` within ``seconds``; in the main thread only (where signals arrive), else unbounded."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return run_case(env, calls, functions)
    end = time.monotonic() + seconds

    def alarm(signum: int, frame: FrameType | None) -> None:
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


def grade_case(env: dict[str, Any], case: CaseSpec, fixtures: dict[str, str], names: Sequence[str] = (),
               language: str = "en", call_seconds: float = CALL_SECONDS) -> None:
    """Run one case's calls on the notebook's functions (``env``) and judge the outputs;
    raise ``CheckFailure`` with a message for the student."""
    set_language(language)
    warn_unsupported_torch()
    install_guards(forbidden_apis([case]))
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
    generate: Callable[..., str] = ExceptionTestFile._generate_error_message
    if getattr(generate, "_course_quiet", False):
        return

    def message(self: Any, excp: BaseException, context: int = 0) -> str:
        return str(excp) if isinstance(excp, CheckFailure) else generate(self, excp, context)

    setattr(message, "_course_quiet", True)  # marks otter's method as already replaced
    ExceptionTestFile._generate_error_message = message


_quiet_otter()
