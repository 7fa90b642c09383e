"""`course build`: from each assignment's source to what students and the LMS get.

    solutions/<name>/reference.py      the reference solution (importable, unit-tested)
    solutions/<name>/questions.py      QUESTIONS: cases, points, tolerances, forbidden APIs
    solutions/<name>/notebook.md       the prose, with question and solution directives
    solutions/<name>/notebook.<lang>.md, <lang>.po    a translation of the prose and strings
        -> assignments/<name>/<name>.ipynb and tests/         (English; public cases only)
        -> assignments/<lang>/<name>/<name>.ipynb and tests/  (each translation)
        -> autograder/<name>-autograder.zip                   (every case; one for every edition)
        -> assignments/[<lang>/]<name>.zip                   (the edition's folder, to download)

Same source, same bytes, on any machine: cell ids are numbered, outputs and timestamps are
dropped, zip entries are sorted and dated 1980-01-01.  Expected values are computed afresh and
compared with the committed plan by ``plan_drift``: when every float is within ``DRIFT`` of
the committed one (a CPU's vector instructions or a BLAS's summation order move the last
digits), the committed plan is kept, so a build never differs because of the machine.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import nbformat
import torch

from calc4ml_runtime.plan import Plan
from course import cells, i18n, layout
from course.build import colab, imports, notebook, render
from course.layout import CourseError
from course.build.spec import compile_plan

PACKAGE = Path(__file__).resolve().parent
# What the autograder zip runs: Gradescope's entry point and the worker, and every course module
# they import (``imports.closure``), never the build, the LMS files or the outputs.
ENGINE_ENTRY_POINTS = ("course.grade.gradescope", "course.grade.worker")
# How far a recomputed float may move before it counts as a change (far below every grading
# tolerance in checks.TOLERANCES): relative to the largest magnitude in its tensor.
DRIFT = {"float64": 1e-12, "float32": 1e-6, "float16": 1e-3, "bfloat16": 1e-2}


@contextlib.contextmanager
def reproducible() -> Iterator[None]:
    """One thread for torch: LAPACK and BLAS on several threads may sum in another order."""
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

    def module(self, stem: str) -> ModuleType:
        """``solutions/<name>/<stem>.py``, imported (under a name of its own, so assignments never clash)."""
        spec = importlib.util.spec_from_file_location(f"solutions_{self.name}_{stem}", self.folder / f"{stem}.py")
        if spec is None or spec.loader is None:
            raise CourseError(f"cannot import {self.folder / f'{stem}.py'}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # inspect finds a class's source through its module
        with reproducible():
            spec.loader.exec_module(module)
        return module

    def plan(self) -> Plan:
        questions, reference = self.module("questions").QUESTIONS, self.module("reference")
        with reproducible():
            return compile_plan(self.name, questions, reference)

    def languages(self) -> list[str]:
        return ["en"] + sorted(p.stem.split(".")[1] for p in self.folder.glob("notebook.*.md"))

    def prose(self, language: str) -> str:
        name = "notebook.md" if language == "en" else f"notebook.{language}.md"
        return (self.folder / name).read_text(encoding="utf-8")


def sources(root: Path, only: list[str] | None = None) -> list[Source]:
    found = [Source(p.name, p) for p in sorted((root / "solutions").iterdir()) if (p / "questions.py").exists()]
    if only:
        missing = set(only) - {s.name for s in found}
        if missing:
            raise CourseError(f"no assignment named {', '.join(sorted(missing))} under {root / 'solutions'}")
        found = [s for s in found if s.name in only]
    return found


# ---------------------------------------------------------------- a plan that is the same on every machine


def committed_plan(root: Path, name: str) -> Plan | None:
    try:
        with zipfile.ZipFile(layout.autograder_zip(root, name)) as z:
            return json.loads(z.read("plan.json"))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return None


def plan_drift(fresh: Any, committed: Any, path: str = "plan", in_expected: bool = False, scale: float = 0.0,
               dtype: str = "float64") -> str | None:
    """Where ``fresh`` differs from ``committed`` by more than rounding (``DRIFT``, for expected
    values only; inputs, labels, points and shapes must be equal), or None."""
    if isinstance(fresh, dict) and isinstance(committed, dict):
        if fresh.keys() != committed.keys():
            return f"{path}: keys {sorted(fresh)} != {sorted(committed)}"
        if in_expected and "tensor" in fresh:
            if fresh["dtype"] != committed["dtype"] or fresh["shape"] != committed["shape"]:
                return f"{path}: dtype or shape"
            values = [v for v in fresh["tensor"] if isinstance(v, float)]
            scale = max((abs(v) for v in values), default=0.0)
            return plan_drift(fresh["tensor"], committed["tensor"], path, True, scale, fresh["dtype"])
        for key in fresh:
            found = plan_drift(fresh[key], committed[key], f"{path}.{key}", in_expected or key == "expected", scale, dtype)
            if found:
                return found
        return None
    if isinstance(fresh, list) and isinstance(committed, list):
        if len(fresh) != len(committed):
            return f"{path}: {len(fresh)} items != {len(committed)}"
        for i, (a, b) in enumerate(zip(fresh, committed)):
            found = plan_drift(a, b, f"{path}[{i}]", in_expected, scale, dtype)
            if found:
                return found
        return None
    if in_expected and type(fresh) is float and type(committed) is float:
        allowed = DRIFT.get(dtype, DRIFT["float64"]) * max(abs(fresh), abs(committed), scale, 1e-3)
        return None if abs(fresh - committed) <= allowed else f"{path}: {committed!r} -> {fresh!r}"
    if type(fresh) is not type(committed) or fresh != committed:
        return f"{path}: {committed!r} -> {fresh!r}"
    return None


def stable_plan(source: Source, root: Path) -> Plan:
    """The fresh plan, or the committed one when they differ only by rounding; with the
    question titles and case labels of every translation."""
    plan = source.plan()
    committed = committed_plan(root, source.name)
    if committed is not None:
        comparable = {k: v for k, v in committed.items() if k in plan}  # without what is added below
        if comparable.keys() == plan.keys() and plan_drift(plan, comparable) is None:
            plan = Plan(assignment=committed["assignment"], fixtures=committed["fixtures"],
                        questions=committed["questions"])
    skippable: set[str] = set()
    for language in source.languages():
        catalogue = i18n.content_catalogue(source.folder, language)
        plan = i18n.with_translations(plan, language, catalogue)
        blocks = [block[len("code:\n"):] for block in i18n.skeleton(source.prose(language))
                  if block.startswith("code:\n")]
        skippable |= {cells.digest(i18n.translate_code(blocks[i], catalogue)) for i in cells.demonstrations(blocks)}
        skippable.add(cells.digest(colab_cell(source, root, plan, language, catalogue)))
    return {**plan, "demonstrations": sorted(skippable)}


# ---------------------------------------------------------------- notebooks


def master_notebook(source: Source, root: Path, language: str, catalogue: i18n.Catalogue) -> nbformat.NotebookNode:
    questions = {q.name: q for q in source.module("questions").QUESTIONS}
    instructions = catalogue.gettext("Save the notebook, run this cell, and submit the zip it makes.")
    config = (
        "# ASSIGNMENT CONFIG\n"
        f"name: {source.name}\n"
        "requirements: null\n"
        "export_cell:\n  pdf: false\n  run_tests: false\n"
        f"  instructions: {json.dumps(instructions, ensure_ascii=False)}\n"
        "check_all_cell: false\n"
        "run_tests: false\n"
        "generate: true\n"
        "tests:\n  ok_format: false\n"
    )
    cells = notebook.master_cells(source.prose(language), questions, source.module("reference"), catalogue)
    title, rest = cells[0], cells[1:]
    install = nbformat.v4.new_markdown_cell(
        catalogue.gettext("**Set up once**, in a terminal (Python 3.11 to 3.14):") +
        f"\n\n```bash\n{layout.student_install_line(root)}\n```")
    # The Korean edition adds a font with Hangul (NanumGothic, from koreanize-matplotlib on PyPI)
    # before any plot: matplotlib's own fonts have none, and NanumGothic has no minus sign or
    # superscripts, so DejaVu Sans stays first and NanumGothic is the fallback.
    why = catalogue.gettext("matplotlib's fonts have no Hangul: this adds NanumGothic for every plot")
    fonts = [nbformat.v4.new_code_cell(
        f"import koreanize_matplotlib  # {why}\nimport matplotlib\n\n"
        'matplotlib.rcParams["font.family"] = ["DejaVu Sans", "NanumGothic"]')] if language == "ko" else []
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(config), title, install, *fonts, *rest])
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}, "course": {"assignment": source.name, "language": language}}
    return nb


OTTER_SUBMISSION_HEADING = "## Submission\n\n"
OTTER_SAVE_COMMENT = "# Save your notebook first, then run this cell to export your submission."
OTTER_INIT_COMMENT = "# Initialize Otter"


def localise_otter_cells(student: nbformat.NotebookNode, catalogue: i18n.Catalogue) -> None:
    """otter assign writes its own cells in English (``otter/assign/cell_factory.py``): a
    translated edition gets them in its own language."""
    gettext = catalogue.gettext
    for cell in student.cells:
        if cell.cell_type == "code" and cell.source.startswith(OTTER_INIT_COMMENT + "\n"):
            cell.source = "# " + gettext("Initialize Otter") + cell.source[len(OTTER_INIT_COMMENT):]
        if cell.cell_type == "markdown" and cell.source.startswith(OTTER_SUBMISSION_HEADING):
            ours = cell.source.split("\n\n")[-1]  # the config's instructions, already translated
            cell.source = "\n\n".join([
                "## " + gettext("Submission"),
                gettext("Make sure you have run all cells in your notebook in order before running the cell "
                        "below, so that all images/graphs appear in the output. The cell below will generate a "
                        "zip file for you to submit. **Please save before exporting!**"),
                ours])
        elif cell.cell_type == "code" and cell.source.startswith(OTTER_SAVE_COMMENT):
            cell.source = ("# " + gettext("Save your notebook first, then run this cell to export your submission.")
                           + cell.source[len(OTTER_SAVE_COMMENT):])


def colab_cell(source: Source, root: Path, plan: Plan, language: str, catalogue: i18n.Catalogue) -> str:
    """The edition's Colab cell: the hardened grader skips it, unchanged, as a demonstration."""
    support = public_tests(plan, i18n.course_catalogues(root), language, catalogue)
    return colab.setup_cell(root, source.name, language, support, catalogue)


def with_colab(student: nbformat.NotebookNode, root: Path, name: str, language: str, support: dict[str, bytes],
               catalogue: i18n.Catalogue) -> str:
    """The student notebook as written: normalized, then made ready for Colab (``colab.adapt``)."""
    ordered = nbformat.reads(normalized(student), as_version=4)
    return normalized(colab.adapt(ordered, root, name, language, support, catalogue))


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


def run_otter_assign(master: nbformat.NotebookNode, name: str, work: Path) -> tuple[nbformat.NotebookNode, dict]:
    master_path = work / f"{name}.ipynb"
    master_path.write_text(nbformat.writes(master), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-run-tests", str(master_path),
                             str(work / "dist")], capture_output=True, text=True, cwd=work)
    if result.returncode != 0:
        raise CourseError(f"otter assign failed for {name}:\n{result.stdout}\n{result.stderr}")
    student = nbformat.read(work / "dist" / "student" / f"{name}.ipynb", as_version=4)
    student.metadata["course"] = master.metadata["course"]
    with zipfile.ZipFile(next((work / "dist" / "autograder").glob("*.zip"))) as z:
        otter_config = json.loads(z.read("otter_config.json"))
    return student, otter_config


# ---------------------------------------------------------------- files


def write_if_changed(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("run_autograder", "setup.sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    return buffer.getvalue()


def edition_folder(root: Path, name: str, language: str) -> Path:
    return root / "assignments" / name if language == "en" else root / "assignments" / language / name


def public_tests(plan: Plan, catalogues: dict[str, bytes], language: str,
                 catalogue: i18n.Catalogue) -> dict[str, bytes]:
    files = dict(render.support_files(catalogues))
    for question in plan["questions"]:
        if any(not c["hidden"] for c in question["cases"]):
            labels = {c["id"]: catalogue.gettext(c["label"]) for c in question["cases"]}
            text = render.test_file(plan, question, public_only=True, language=language, labels=labels,
                                    title=catalogue.gettext(question["title"]))
            files[f"tests/{question['name']}.py"] = text.encode()
    return files


def autograder_files(root: Path, plan: Plan, otter_config: dict, catalogues: dict[str, bytes]) -> dict[str, bytes]:
    files = {
        "plan.json": json.dumps(plan, indent=1, sort_keys=True, ensure_ascii=False).encode(),
        "otter_config.json": json.dumps(otter_config, indent=2, sort_keys=True).encode(),
        "requirements.txt": layout.grader_requirements(root).encode(),
        "setup.sh": (PACKAGE / "templates" / "setup.sh").read_bytes(),
        "run_autograder": (PACKAGE / "templates" / "run_autograder").read_bytes(),
    }
    files.update({f"files/{path}": data for path, data in render.support_files(catalogues).items()})
    for question in plan["questions"]:
        files[f"tests/{question['name']}.py"] = render.test_file(plan, question, public_only=False).encode()
    for name in imports.closure(list(ENGINE_ENTRY_POINTS)):
        file = imports.module_file(name)
        files[file.relative_to(imports.ROOT).as_posix()] = file.read_bytes()
        for template in sorted((file.parent / "templates").glob("*.j2")) if file.name == "__init__.py" else []:
            files[template.relative_to(imports.ROOT).as_posix()] = template.read_bytes()
    for language, mo in catalogues.items():
        files[f"calc4ml_runtime/locale/{language}/LC_MESSAGES/course.mo"] = mo
    return files


def build(root: Path, only: list[str] | None = None, log: Callable[[str], object] = print,
          out: Path | None = None) -> None:
    """Build every assignment under ``root`` (or ``only`` those); write into ``out`` (default
    ``root``), keeping ``root``'s committed plans where they differ only by rounding."""
    out = out or root
    catalogues = i18n.course_catalogues(root)
    for source in sources(root, only):
        plan = stable_plan(source, root)
        otter_config: dict[str, Any] = {}  # otter assign's, from the first (English) edition
        for language in source.languages():
            if language != "en":
                try:
                    i18n.check_parity(source.prose("en"), source.prose(language),
                                      f"solutions/{source.name}/notebook.{language}.md")
                except ValueError as error:
                    raise CourseError(str(error))
            catalogue = i18n.content_catalogue(source.folder, language)
            with tempfile.TemporaryDirectory() as tmp:
                student, config = run_otter_assign(master_notebook(source, root, language, catalogue),
                                                   source.name, Path(tmp))
            otter_config = otter_config or config
            if language != "en":
                localise_otter_cells(student, catalogue)
            folder = edition_folder(out, source.name, language)
            for generated in ("tests", render.SUPPORT):
                if (folder / generated).exists():
                    shutil.rmtree(folder / generated)
            support = public_tests(plan, catalogues, language, catalogue)
            text = with_colab(student, root, source.name, language, support, catalogue).encode()
            write_if_changed(folder / f"{source.name}.ipynb", text)
            for path, data in support.items():
                write_if_changed(folder / path, data)
            write_if_changed(colab.student_zip_path(out, source.name, language),
                             deterministic_zip(colab.student_zip_files(source.name, text, support)))
            missing = catalogue.missing
            if missing:
                log(f"  {source.name} [{language}]: {len(missing)} untranslated strings, e.g. {missing[0]!r}")
        write_if_changed(layout.autograder_zip(out, source.name),
                         deterministic_zip(autograder_files(root, plan, render.otter_config(otter_config, source.name),
                                                           catalogues)))
        points = sum(q["points"] for q in plan["questions"])
        cases = [c for q in plan["questions"] for c in q["cases"]]
        public = sum(not c["hidden"] for c in cases)
        log(f"built {source.name} ({', '.join(source.languages())}): {len(plan['questions'])} questions, "
            f"{points:g} points, {public} public and {len(cases) - public} hidden cases")
        for line in points_table(plan):
            log(line)


def points_table(plan: Plan) -> list[str]:
    """One line per question: its points and cases, so that the instructor sees the weighting
    the build has just fixed, question by question."""
    width = max(len(q["title"]) for q in plan["questions"])
    lines = []
    for q in plan["questions"]:
        public = sum(not c["hidden"] for c in q["cases"])
        lines.append(f"  {q['name']:>4}  {q['title']:<{width}}  {q['points']:>4g} points  "
                     f"({public} public, {len(q['cases']) - public} hidden)")
    return lines


def generated_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for folder in ("assignments", "autograder") if (root / folder).exists()
            for p in sorted((root / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def stale_files(root: Path, only: list[str] | None = None) -> list[str]:
    """Generated files whose committed bytes differ from a fresh build (or that only one side has)."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        build(root, only, log=lambda *_: None, out=scratch)
        fresh, committed = generated_files(scratch), generated_files(root)
    if only:
        committed = {k: v for k, v in committed.items() if any(f"/{name}" in f"/{k}" for name in only)}
        fresh = {k: v for k, v in fresh.items() if any(f"/{name}" in f"/{k}" for name in only)}
    stale = sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    return stale + i18n.stale_course_catalogues(root)


def check_fresh(root: Path, only: list[str] | None = None) -> int:
    """Print the stale generated files; 0 when every one is fresh."""
    stale = stale_files(root, only)
    for name in stale:
        print(f"stale: {name}")
    if stale:
        print("run `course build` and commit the result")
    return 1 if stale else 0
