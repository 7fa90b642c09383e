"""Honest notebooks as real students save them, graded three ways: `course grade`, the
Gradescope zip's own `run_autograder`, and `otter run`.  Prints a table: variant, the three
scores (full marks expected everywhere), and `course grade`'s status and first note.

    python benchmarks/honest_variants.py [VARIANT ...]   # hw04_hessians; every variant by default

The variants: tests/test_real_notebooks.py's IPython syntax (`?`, nbconvert's magic line,
`%matplotlib`, `%time`/`%timeit`, `%%time`, `display`, `!pip`/`%pip`, a TorchScript helper,
`inspect.getsource`), and saves as tools write them (VS Code's kernelspec, a jupytext round
trip, a Korean notebook whose `metadata.course` is gone, `help()` on a guarded API, cProfile).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course.grade.batch import grade_all  # noqa: E402
from tests.grading import autograder_zip, otter_run  # noqa: E402
from tests.test_real_notebooks import ASSIGNMENT, CORRECT, HONEST, NEWTON_STEP, variant  # noqa: E402


def saves() -> dict[str, bytes]:
    import jupytext
    import nbformat

    nb = json.loads(CORRECT.read_text(encoding="utf-8"))
    vscode = dict(nb, metadata={**nb["metadata"], "kernelspec": {"display_name": "venv-calc4ml", "language": "python",
                                                                 "name": "venv-calc4ml"}})
    korean = json.loads((CORRECT.parent / "correct_ko.ipynb").read_text(encoding="utf-8"))
    korean["metadata"].pop("course", None)
    text = jupytext.writes(nbformat.reads(CORRECT.read_text(encoding="utf-8"), as_version=4), fmt="py:percent")
    return {
        "vscode_kernelspec": json.dumps(vscode).encode(),
        "jupytext_round_trip": nbformat.writes(jupytext.reads(text, fmt="py:percent")).encode(),
        "korean_without_metadata": json.dumps(korean).encode(),
        "help_on_a_guard": variant({NEWTON_STEP: lambda s: s + "\n\nhelp(torch.linalg.inv)\n"}),
        "cprofile": variant({NEWTON_STEP: lambda s: s + "\n\nimport cProfile\ncProfile.run("
                                                       "'newton_step(torch.ones(2), torch.eye(2) * 2)')\n"}),
    }


def gradescope(notebook: Path) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "autograder"
        with zipfile.ZipFile(autograder_zip(ASSIGNMENT)) as z:
            z.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        (root / "submission").mkdir()
        (root / "submission" / notebook.name).write_bytes(notebook.read_bytes())
        subprocess.run([str(root / "source" / "run_autograder")], capture_output=True, timeout=600,
                       env={**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE_PYTHON": sys.executable})
        return json.loads((root / "results" / "results.json").read_text())["score"]


def main(only: list[str]) -> None:
    variants = {name: data for name, data in (HONEST | saves()).items() if not only or name in only}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "class"
        for name, data in variants.items():
            (folder / name).mkdir(parents=True)
            (folder / name / f"{ASSIGNMENT}.ipynb").write_bytes(data)
        results = {Path(r.source).parts[0]: r for r in grade_all(folder, autograder_zip(ASSIGNMENT),
                                                                Path(scratch) / "out", log=lambda _: None)}
        print("| variant | course grade | Gradescope path | otter run | status, first note |")
        print("|---|---|---|---|---|")
        for name in variants:
            notebook = folder / name / f"{ASSIGNMENT}.ipynb"
            result = results[name]
            otter = sum(otter_run(ASSIGNMENT, notebook).values())
            note = next((line for line in result.log if line.startswith(("cell ", "the notebook:"))), "")
            print(f"| {name} | {result.score:g}/{result.max_score:g} | {gradescope(notebook):g} | {otter:g} | "
                  f"{result.status}{'; ' + note[:70] if note else ''} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
