"""Install lines that work as written, all derived from pyproject.toml's one list of pins: the
student's line (README and every notebook), README's two set-up commands, the autograder's
requirements and Gradescope's setup.sh, and a normal `pip install .`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course import layout
from tests.grading import ASSIGNMENTS, ROOT, autograder_zip, make_submission, student_notebook, with_public_tests


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()
            if "pip install" in line]


def test_every_install_line_comes_from_the_pins():
    pins = layout.pins(ROOT)
    line = layout.student_install_line(ROOT)
    assert line in readme_commands(), "README's student line is not the built one"
    for name in ASSIGNMENTS:
        nb = nbformat.read(student_notebook(name), as_version=4)
        assert line in nb.cells[1].source, f"{name}: the notebook's install line is stale"
        with zipfile.ZipFile(autograder_zip(name)) as z:
            assert z.read("requirements.txt").decode() == layout.grader_requirements(ROOT)
    for command in readme_commands():
        for requirement in re.findall(r'"([A-Za-z0-9_.-]+==[^"]+)"', command):
            assert requirement in pins.values(), f"{requirement} in README is not pyproject's pin"
        assert "torch" not in command or layout.CPU_INDEX in command, f"torch without the CPU index: {command}"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert any(command in ci for command in readme_commands()), ".ci/run does not call README's test command"


def venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin"


@pytest.mark.slow
def test_the_student_line_then_otter_check_in_a_fresh_environment(tmp_path):
    bin_dir = venv(tmp_path / "venv")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VIRTUAL_ENV": str(tmp_path / "venv")}
    env.pop("PYTHONPATH", None)
    install = subprocess.run(layout.student_install_line(ROOT), shell=True, env=env, capture_output=True, text=True,
                             timeout=1800)
    assert install.returncode == 0, install.stderr[-3000:]
    home = tmp_path / "home"  # no kernel spec, no config, no cache from this machine's user
    home.mkdir()
    env["HOME"] = str(home)
    figure = ("import koreanize_matplotlib, matplotlib, warnings\nwarnings.simplefilter('error')\n"
              "matplotlib.use('Agg')\n"
              "matplotlib.rcParams['font.family'] = ['DejaVu Sans', 'NanumGothic']\n"
              "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.loglog([1e-8, 1e-2], [1e-6, 1e-1])\n"
              "ax.set_title('전진 차분과 중앙 차분의 오차 −1')\nax.set_xlabel('간격 h')\nfig.savefig('hangul.png')\n")
    hangul = subprocess.run([str(bin_dir / "python"), "-c", figure], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert hangul.returncode == 0 and not hangul.stderr and (tmp_path / "hangul.png").stat().st_size > 5000, hangul.stderr
    for label, replaced, expect in [("untouched", None, "is not implemented yet"), ("solved", {}, "All tests passed!")]:
        notebook = with_public_tests(make_submission("hw01_derivatives", replaced, tmp_path, label), "hw01_derivatives")
        check = subprocess.run([str(bin_dir / "otter"), "check", notebook.name], cwd=notebook.parent, env=env,
                               capture_output=True, text=True, timeout=600)
        assert check.returncode == 0 and expect in check.stdout, check.stdout + check.stderr
        if replaced is None:
            assert "q1 results:" in check.stdout and "q8 results:" in check.stdout


@pytest.mark.slow
def test_a_normal_install_works_from_the_clone_and_from_elsewhere(tmp_path):
    clone = tmp_path / "clone"  # what a clone of the working tree would hold: tracked and new files
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    bin_dir = venv(tmp_path / "venv")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    install = subprocess.run([str(bin_dir / "pip"), "install", "-q", str(clone)], env=env, capture_output=True,
                             text=True, timeout=1800)
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(clone / "build", ignore_errors=True)
    check = subprocess.run([str(bin_dir / "course"), "build", "--check", "hw01_derivatives"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=900)
    assert check.returncode == 0, check.stdout + check.stderr
    made = tmp_path / "made"
    make_submission("hw01_derivatives", {}, made, "right")
    grade = subprocess.run([str(bin_dir / "course"), "--root", str(clone), "grade", str(made), "--assignment",
                            "hw01_derivatives", "--output", str(tmp_path / "out")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
    assert grade.returncode == 0, grade.stdout + grade.stderr
    assert "1 ok" in grade.stdout


@pytest.mark.slow
def test_gradescope_setup_then_run_autograder_in_a_clean_environment(tmp_path):
    """setup.sh as Gradescope runs it, but into a folder of ours (no apt-get: this image's
    python3 is in range), then run_autograder with the environment it made."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip("hw01_derivatives")) as z:
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    environment = tmp_path / "course-venv"
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=1800,
                           env={**os.environ, "COURSE_VENV": str(environment)})
    assert setup.returncode == 0, setup.stderr[-3000:]
    (root / "submission").mkdir()
    notebook = make_submission("hw01_derivatives", {}, tmp_path / "made", "right")
    shutil.copy(notebook, root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE_PYTHON": str(environment / "bin" / "python")}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=900)
    results = json.loads((root / "results" / "results.json").read_text())
    assert run.returncode == 0 and results["score"] == sum(t["max_score"] for t in results["tests"]), run.stderr[-3000:]
    assert not list(environment.glob("lib/python*/site-packages/nvidia*")), "a CUDA build of torch was installed"
