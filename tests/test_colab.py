"""Students work where they already are: the zip per assignment and edition, and Google Colab.

The Colab cell runs for real: in a plain Python with a stand-in ``google.colab`` against a local
HTTP server (quick), and, in the slow test, in a Jupyter kernel of a fresh virtual environment
with a whole notebook copied alone into an empty folder."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from calc4ml_runtime import messages
from course import cells, i18n
from course.build import assemble as build, colab, samples
from course.grade import judge
from tests.grading import ASSIGNMENTS, ROOT, autograder_zip, source_of, student_notebook

EDITIONS = [(name, language) for name in ASSIGNMENTS for language in source_of(name).languages()]
HW = "hw01_derivatives"
STANDIN = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"


def support_files(name: str, language: str) -> dict[str, bytes]:
    folder = build.edition_folder(ROOT, name, language)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and "__pycache__" not in p.parts}


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """``folder`` over HTTP on 127.0.0.1, as the course's published location."""
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name, language", EDITIONS)
def test_the_zip_holds_the_edition_byte_for_byte_and_is_deterministic(name, language):
    path = colab.student_zip_path(ROOT, name, language)
    notebook = student_notebook(name, language).read_bytes()
    support = support_files(name, language)
    with zipfile.ZipFile(path) as z:
        assert {i.filename: z.read(i) for i in z.infolist()} == colab.student_zip_files(name, notebook, support)
        assert [i.filename for i in z.infolist()] == sorted(z.namelist())
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o644 for i in z.infolist())
    assert {f"{name}/tests/q1.py", f"{name}/calc4ml_runtime/calls.py", f"{name}/{name}.ipynb"} <= set(z.namelist())
    assert build.deterministic_zip(colab.student_zip_files(name, notebook, support)) == path.read_bytes()


@pytest.mark.parametrize("name, language", EDITIONS)
def test_the_notebook_carries_the_badge_the_cell_and_the_colab_submission_note(name, language):
    nb = nbformat.read(student_notebook(name, language), as_version=4)
    link = colab.colab_url(colab.published(ROOT), name, language)
    assert link.endswith(f"/blob/main/{student_notebook(name, language).relative_to(ROOT).as_posix()}")
    assert f"[![Open In Colab]({colab.BADGE})]({link})" in nb.cells[1].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith(colab.MARK) and "otter_ignore" in code[0].metadata["tags"]
    assert code[0].metadata["editable"] is False
    assert 'otter.Notebook() if "google.colab" in sys.modules' in code[1].source
    digests = {path: hashlib.sha256(data).hexdigest() for path, data in support_files(name, language).items()}
    assert all(f"{path!r}: {digest!r}" in code[0].source for path, digest in digests.items())
    export = next(i for i, c in enumerate(nb.cells) if "grader.export(" in c.source)
    assert (".ipynb 다운로드" if language == "ko" else "Download .ipynb") in nb.cells[export - 1].source


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_hardened_grader_skips_the_unchanged_colab_cell(name):
    with zipfile.ZipFile(autograder_zip(name)) as z:
        skippable = set(json.loads(z.read("plan.json"))["demonstrations"])
    for language in source_of(name).languages():
        notebook = judge.read_notebook(student_notebook(name, language).read_bytes())
        ran = cells.runnable(notebook.cells, skippable)
        assert notebook.cells[0][1].startswith(colab.MARK) and notebook.cells[0] not in ran
        assert "otter.Notebook(" in notebook.cells[1][1] and notebook.cells[1] in ran


def run_cell(source: str, folder: Path, on_colab: bool = True) -> subprocess.CompletedProcess:
    program = (STANDIN if on_colab else "") + "exec(compile(open(sys.argv[1]).read(), 'cell', 'exec'))"
    (folder.parent / "cell.py").write_text(source, encoding="utf-8")
    return subprocess.run([sys.executable, "-c", "import sys\n" + program, str(folder.parent / "cell.py")],
                          cwd=folder, capture_output=True, text=True, timeout=120)


def cell_for(location: str, name: str, language: str, monkeypatch) -> str:
    monkeypatch.setenv(colab.ENVIRONMENT, location)
    catalogue = i18n.content_catalogue(source_of(name).folder, language)
    return colab.setup_cell(ROOT, name, language, support_files(name, language), catalogue)


def publish(folder: Path, name: str, language: str, support: dict[str, bytes]) -> None:
    path = folder / f"{colab.relative_path(name, language)}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build.deterministic_zip(colab.student_zip_files(name, b"{}", support)))


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_cell_fetches_verifies_and_extracts_then_works_offline(language, tmp_path, monkeypatch):
    support = support_files(HW, language)
    publish(tmp_path / "site", HW, language, support)
    work = tmp_path / "content"
    work.mkdir()
    with serve(tmp_path / "site") as location:
        source = cell_for(location, HW, language, monkeypatch)
        run = run_cell(source, work)
    assert run.returncode == 0, run.stderr
    assert ("준비 완료" if language == "ko" else "Ready: this assignment's checks are in") in run.stdout
    extracted = {p.relative_to(work).as_posix(): p.read_bytes() for p in work.rglob("*") if p.is_file()}
    assert extracted == support and not list(work.glob(".calc4ml-*"))
    again = run_cell(source, work)  # the server is gone: the files are already there and intact
    assert again.returncode == 0 and again.stdout == run.stdout, again.stderr


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_tampered_file_fails_the_digest_and_nothing_is_extracted(language, tmp_path, monkeypatch):
    support = support_files(HW, language)
    publish(tmp_path / "site", HW, language, {**support, "tests/q3.py": support["tests/q3.py"] + b"\nassert True\n"})
    work = tmp_path / "content"
    work.mkdir()
    with serve(tmp_path / "site") as location:
        run = run_cell(cell_for(location, HW, language, monkeypatch), work)
    assert run.returncode != 0 and "tests/q3.py" in run.stderr
    expected = "아무것도 풀지 않았습니다" if language == "ko" else "differ from the ones this notebook was made with"
    assert expected in run.stderr, run.stderr
    assert "Traceback" in run.stderr and run.stderr.count("\n") < 12, "a short error, not a long traceback"
    assert list(work.iterdir()) == []


def test_offline_a_missing_file_and_a_wrong_archive_say_what_went_wrong(tmp_path, monkeypatch):
    work = tmp_path / "content"
    work.mkdir()
    offline = run_cell(cell_for(f"http://127.0.0.1:{closed_port()}", HW, "en", monkeypatch), work)
    assert "Could not download this assignment's checks" in offline.stderr and "Reconnect" in offline.stderr
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / f"{HW}.zip").write_bytes(b"<html>not a zip</html>")
    with serve(tmp_path / "site") as location:
        missing = run_cell(cell_for(location + "/nowhere", HW, "en", monkeypatch), work)
        broken = run_cell(cell_for(location, HW, "en", monkeypatch), work)
    assert "(HTTP 404)" in missing.stderr and "download the assignment's zip" in missing.stderr
    assert "is not the assignment's zip" in broken.stderr
    ko = run_cell(cell_for(f"http://127.0.0.1:{closed_port()}", HW, "ko", monkeypatch), work)
    assert "내려받지 못했습니다" in ko.stderr
    assert list(work.iterdir()) == []


def test_outside_colab_the_cell_does_nothing(tmp_path):
    work = tmp_path / "content"
    work.mkdir()
    source = nbformat.read(student_notebook(HW), as_version=4).cells[2].source
    run = run_cell(source, work, on_colab=False)
    assert run.returncode == 0 and run.stdout == run.stderr == "" and list(work.iterdir()) == []


def test_an_unsupported_torch_gets_a_warning_in_the_students_language():
    assert messages.unsupported_torch() is None, "this machine's torch is in the declared range"
    for version in ("2.6.0", "2.13.0+cpu", "2.14.1", "2.99.0"):
        assert messages.unsupported_torch(messages.torch_release(version), version) is None, version
    for version in ("2.5.1", "1.13.1", "3.0.0", "nightly"):
        message = messages.unsupported_torch(messages.torch_release(version), version)
        assert message and version in message and "torch 2.6" in message, version
    messages.set_language("ko")
    try:
        assert "지원되는 torch를 설치하세요" in messages.unsupported_torch((2, 5), "2.5.1")
    finally:
        messages.set_language("en")


# ---------------------------------------------------------------- the whole notebook, in a kernel


def kernel(tmp_path: Path, monkeypatch, on_colab: bool) -> str:
    """A kernel spec whose Python is a fresh venv with this machine's packages (Colab's shape:
    its own torch and numpy already installed); on Colab, ``google.colab`` is imported at start."""
    venv = tmp_path / "venv"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    name = "colab" if on_colab else "plain"
    env = {"PYTHONPATH": ""}
    if on_colab:
        standin = tmp_path / "standin" / "google" / "colab"
        standin.mkdir(parents=True, exist_ok=True)
        (standin / "__init__.py").write_text('"""A stand-in for Google Colab\'s package."""\n')
        (standin.parent / "__init__.py").write_text("")
        startup = tmp_path / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "00-colab.py").write_text("import google.colab\n")
        env = {"PYTHONPATH": str(tmp_path / "standin"), "IPYTHONDIR": str(tmp_path / "ipython")}
    spec = tmp_path / "jupyter" / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python", "env": env}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return name


def execute(path: Path, kernel_name: str) -> nbformat.NotebookNode:
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name=kernel_name, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def text_of(cell) -> str:
    return "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") + "".join(o.get("traceback", []))
                   for o in cell.get("outputs", []))


@pytest.mark.slow
def test_colab_end_to_end_in_a_kernel(tmp_path, monkeypatch):
    """Built with the published location on 127.0.0.1; the solved and the untouched notebook,
    each copied alone into an empty folder, in a kernel with google.colab loaded; a tampered
    server; the same notebook outside Colab."""
    site = tmp_path / "site"
    with serve(site) as location:
        monkeypatch.setenv(colab.ENVIRONMENT, location + "/assignments")
        build.build(ROOT, [HW], log=lambda *_: None, out=site)
        built = site / "assignments" / HW / f"{HW}.ipynb"
        reference = samples.reference_answers(source_of(HW).module("reference"))
        questions = [q.name for q in source_of(HW).module("questions").QUESTIONS if any(c.public for c in q.cases)]
        on_colab = kernel(tmp_path, monkeypatch, on_colab=True)
        for label, answers in (("solved", reference), ("untouched", {})):
            alone = samples.write(samples.fill(built, answers), tmp_path / label / f"{HW}.ipynb")
            nb = execute(alone, on_colab)
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert "Ready: this assignment's checks are in" in text_of(code[0]), text_of(code[0])
            assert (alone.parent / "tests" / "q1.py").exists() and (alone.parent / "calc4ml_runtime").is_dir()
            checks = {c.source.split('"')[1]: text_of(c) for c in code if c.source.startswith("grader.check(")}
            assert sorted(checks) == sorted(questions)
            for question, output in checks.items():
                if label == "solved":
                    assert "passed" in output and "failed" not in output and "Error" not in output, output
                else:
                    assert f"{question} results:" in output and "is not implemented yet" in output, output
        # A tampered file on the server: the digest fails, nothing is extracted.
        published = site / "assignments" / f"{HW}.zip"
        with zipfile.ZipFile(published) as z:
            files = {n: z.read(n) for n in z.namelist()}
        files[f"{HW}/calc4ml_runtime/checks.py"] += b"\nTOLERANCES = {}\n"
        published.write_bytes(build.deterministic_zip(files))
        first_cell = nbformat.read(built, as_version=4)
        first_cell.cells = first_cell.cells[:3]  # the title, the set-up and the Colab cell
        alone = samples.write(first_cell, tmp_path / "tampered" / f"{HW}.ipynb")
        first = text_of(execute(alone, on_colab).cells[2])
        assert "differ from the ones this notebook was made with (calc4ml_runtime/checks.py)" in first, first
        assert sorted(p.name for p in alone.parent.iterdir()) == [f"{HW}.ipynb"]
    # Outside Colab (no google.colab): the cell does nothing, the notebook runs as before.
    plain = kernel(tmp_path, monkeypatch, on_colab=False)
    outside = samples.write(samples.fill(built, reference), tmp_path / "outside" / f"{HW}.ipynb")
    for folder in ("tests", "calc4ml_runtime"):
        shutil.copytree(built.parent / folder, outside.parent / folder)
    nb = execute(outside, plain)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].outputs == [] and not list(outside.parent.glob(".calc4ml-*"))
    assert all("passed" in text_of(c) for c in code if c.source.startswith("grader.check("))


OLD_TORCH = """
import runpy, sys, torch
torch.__version__ = "2.5.1"  # what an old Colab image or lab machine would have
sys.path.insert(0, sys.argv[1])
import calc4ml_runtime
test = runpy.run_path(sys.argv[1] + "/tests/q2.py")
env = runpy.run_path(sys.argv[2])
for case in test["CASES"].values():
    calc4ml_runtime.grade_case(env, case, test["FIXTURES"], test["OUTPUTS"], test["LANGUAGE"])
print("checked", len(test["CASES"]))
"""


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_shipped_runtime_warns_once_on_an_old_torch_and_still_checks(language):
    folder = build.edition_folder(ROOT, HW, language)
    run = subprocess.run([sys.executable, "-c", OLD_TORCH, str(folder), str(source_of(HW).folder / "reference.py")],
                         capture_output=True, text=True, timeout=300, cwd=folder)
    assert run.returncode == 0 and run.stdout.startswith("checked"), run.stderr
    assert run.stderr.count("2.5.1") == 1, run.stderr
    assert ("지원되는 torch를 설치하세요" if language == "ko" else "install a supported torch") in run.stderr
