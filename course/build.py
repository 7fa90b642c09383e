"""`course build`: from each assignment's source to what students and the LMS get.

    solutions/<name>/reference.py    the reference solution (importable, unit-tested)
    solutions/<name>/questions.py    QUESTIONS: cases, points, tolerances, forbidden APIs
    solutions/<name>/notebook.md     the prose, with question and solution directives
        -> assignments/<name>/<name>.ipynb and tests/   (otter assign; public cases only)
        -> autograder/<name>-autograder.zip             (every case; runs the hardened grader)

Same source, same bytes: cell ids are numbered, outputs and timestamps are dropped, zip
entries are sorted and dated 1980-01-01.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import torch

from course import notebook, render
from course.spec import compile_plan

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"
INSTALL = ('pip install "torch==2.13.0" "otter-grader==7.0.0" "numpy==2.4.6" "matplotlib==3.11.2" '
           '--extra-index-url https://download.pytorch.org/whl/cpu')
REQUIREMENTS = """\
--extra-index-url https://download.pytorch.org/whl/cpu
torch==2.13.0+cpu
numpy==2.4.6
otter-grader==7.0.0
nbformat==5.11.1
matplotlib==3.11.2
"""
# Files of the course package that the autograder zip carries: the grader, never the build.
ENGINE_FILES = ("__init__.py", "checks.py", "runtime.py", "sandbox.py", "grade.py", "batch.py", "export.py",
                "gradescope.py")


@contextlib.contextmanager
def reproducible():
    """One thread for torch: LAPACK on several threads (lstsq, qr) may round differently from
    run to run, and the build must give the same bytes every time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class Source:
    name: str
    folder: Path

    def module(self, stem: str):
        spec = importlib.util.spec_from_file_location(f"solutions_{self.name}_{stem}", self.folder / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        with reproducible():
            spec.loader.exec_module(module)
        return module

    def plan(self) -> dict:
        questions, reference = self.module("questions").QUESTIONS, self.module("reference")
        with reproducible():
            return compile_plan(self.name, questions, reference)


def sources(root: Path = ROOT, only: list[str] | None = None) -> list[Source]:
    found = [Source(p.name, p) for p in sorted((root / "solutions").iterdir())
             if (p / "questions.py").exists()]
    if only:
        missing = set(only) - {s.name for s in found}
        if missing:
            raise SystemExit(f"no assignment named {', '.join(sorted(missing))} under solutions/")
        found = [s for s in found if s.name in only]
    return found


def master_notebook(source: Source) -> nbformat.NotebookNode:
    questions = {q.name: q for q in source.module("questions").QUESTIONS}
    prose = (source.folder / "notebook.md").read_text()
    config = (
        "# ASSIGNMENT CONFIG\n"
        f"name: {source.name}\n"
        "requirements: null\n"
        "export_cell:\n  pdf: false\n  instructions: Save the notebook, run this cell, and submit the zip it makes.\n"
        "check_all_cell: false\n"
        "run_tests: false\n"
        "generate: true\n"
        "tests:\n  ok_format: false\n"
    )
    cells = notebook.master_cells(prose, questions, source.module("reference"))
    title, rest = cells[0], cells[1:]
    install = nbformat.v4.new_markdown_cell(
        f"**Set up once** (Python {PYTHON_VERSION}), in a terminal:\n\n```bash\n{INSTALL}\n```")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(config), title, install, *rest])
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def normalized(nb: nbformat.NotebookNode) -> str:
    """The notebook as deterministic text: numbered cell ids, no outputs or counts; the title
    and the install line come before otter's init cell, which needs otter installed."""
    if len(nb.cells) > 2 and "otter.Notebook(" in nb.cells[0].source:
        nb.cells[:3] = [nb.cells[1], nb.cells[2], nb.cells[0]]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def write_if_changed(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def deterministic_zip(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("run_autograder", "setup.sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    data = tmp.read_bytes()
    tmp.unlink()
    write_if_changed(path, data)


def run_otter_assign(master: nbformat.NotebookNode, name: str, work: Path) -> tuple[nbformat.NotebookNode, dict]:
    master_path = work / f"{name}.ipynb"
    master_path.write_text(nbformat.writes(master))
    result = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-run-tests", str(master_path), str(work / "dist")],
                            capture_output=True, text=True, cwd=work)
    if result.returncode != 0:
        raise SystemExit(f"otter assign failed for {name}:\n{result.stdout}\n{result.stderr}")
    student = nbformat.read(work / "dist" / "student" / f"{name}.ipynb", as_version=4)
    with zipfile.ZipFile(next((work / "dist" / "autograder").glob("*.zip"))) as z:
        otter_config = json.loads(z.read("otter_config.json"))
    return student, otter_config


def autograder_files(source: Source, plan: dict, otter_config: dict) -> dict[str, bytes]:
    files = {
        "plan.json": json.dumps(plan, indent=1, sort_keys=True).encode(),
        "otter_config.json": json.dumps(otter_config, indent=2, sort_keys=True).encode(),
        "requirements.txt": REQUIREMENTS.encode(),
        "setup.sh": (ROOT / "course" / "templates" / "setup.sh").read_bytes(),
        "run_autograder": (ROOT / "course" / "templates" / "run_autograder").read_bytes(),
    }
    for question in plan["questions"]:
        files[f"tests/{question['name']}.py"] = render.test_file(plan, question, public_only=False).encode()
    for name in ENGINE_FILES:
        files[f"course/{name}"] = (ROOT / "course" / name).read_bytes()
    return files


def build(root: Path = ROOT, only: list[str] | None = None, log=print) -> None:
    for source in sources(root, only):
        plan = source.plan()
        with tempfile.TemporaryDirectory() as tmp:
            student, otter_config = run_otter_assign(master_notebook(source), source.name, Path(tmp))
        out = root / "assignments" / source.name
        if (out / "tests").exists():
            shutil.rmtree(out / "tests")
        write_if_changed(out / f"{source.name}.ipynb", normalized(student).encode())
        for question in plan["questions"]:
            if any(not c["hidden"] for c in question["cases"]):
                write_if_changed(out / "tests" / f"{question['name']}.py",
                                 render.test_file(plan, question, public_only=True).encode())
        deterministic_zip(root / "autograder" / f"{source.name}-autograder.zip",
                          autograder_files(source, plan, otter_config))
        points = sum(q["points"] for q in plan["questions"])
        cases = [c for q in plan["questions"] for c in q["cases"]]
        public = sum(not c["hidden"] for c in cases)
        log(f"built {source.name}: {len(plan['questions'])} questions, {points:g} points, "
            f"{public} public and {len(cases) - public} hidden cases")


def generated_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for folder in ("assignments", "autograder") if (root / folder).exists()
            for p in sorted((root / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def stale_files(only: list[str] | None = None, root: Path = ROOT) -> list[str]:
    """Generated files whose committed bytes differ from a fresh build (or that only one side has)."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "solutions").symlink_to(root / "solutions")
        build(scratch, only, log=lambda *_: None)
        fresh, committed = generated_files(scratch), generated_files(root)
    if only:
        committed = {k: v for k, v in committed.items() if any(name in k for name in only)}
    return sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))


def check_fresh(only: list[str] | None = None, root: Path = ROOT) -> int:
    """Print the stale generated files; 0 when every one is fresh."""
    stale = stale_files(only, root)
    for name in stale:
        print(f"stale: {name}")
    if stale:
        print("run `course build` and commit the result")
    return 1 if stale else 0
