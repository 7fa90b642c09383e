"""What the generated otter test files call: shipped as ``tests/calc4ml_runtime/__init__.py``
beside this package's ``runtime.py`` and ``checks.py``, once per assignment, so that a test
file holds only its cases and one call per case."""

from .checks import CheckFailure, judge
from .runtime import CallFailed, install_guards, load_fixtures, run_case, set_language


def grade_case(env: dict, case: dict, fixtures: dict, names: tuple = (), language: str = "en") -> None:
    """Run one case's calls on the notebook's functions (``env``) and judge the outputs;
    raise ``CheckFailure`` with a message for the student."""
    set_language(language)
    install_guards([api for call in case["calls"] for api in call.get("forbid", ())])
    functions = load_fixtures(fixtures)
    try:
        outputs = run_case(env, case["calls"], functions)
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
