"""`course grade` as an instructor runs it: odd files, resumable, interruptible, and nothing
outlives it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from course.grade.submissions import collect
from tests.grading import autograder_zip, course_grade, make_submission, question_points

ASSIGNMENT = "hw01_derivatives"
FULL = sum(question_points(ASSIGNMENT).values())
WRONG_RELU = {"relu_grad": "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n"}
LOOP = ["while True:\n    pass"]


def course(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "course.cli", *args], capture_output=True, text=True, **kwargs)


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (its workers and their student processes)."""
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit():
                status = Path(f"/proc/{entry}/status").read_text()
                parents[int(entry)] = int(status.split("PPid:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def watch(process: subprocess.Popen, until) -> set[int]:
    """Every process that ran below ``process`` while polling, until ``until()`` is true."""
    seen: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not until():
        seen |= descendants(process.pid)
        time.sleep(0.2)
    return seen | descendants(process.pid)


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()}


def scratch_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"course-grade-{pid}-*"))


def code_of(raw: bytes) -> list[str]:
    """The sources of a notebook's code cells, the only thing grading reads."""
    return ["".join(c["source"]) for c in json.loads(raw)["cells"] if c["cell_type"] == "code"]


def test_otter_export_zips_and_odd_files_in_a_folder(tmp_path):
    folder = tmp_path / "inbox"
    right = make_submission(ASSIGNMENT, {}, tmp_path / "made", "right")
    folder.mkdir()
    with zipfile.ZipFile(folder / "ana_export.zip", "w") as z:  # what otter's export cell makes
        z.write(right, "hw01_derivatives.ipynb")
        z.writestr("notebook.pdf", b"")
    with zipfile.ZipFile(folder / "two_notebooks.zip", "w") as z:
        z.write(right, "a.ipynb")
        z.write(right, "b.ipynb")
    (folder / "truncated.ipynb").write_text(right.read_text()[:500])
    (folder / ".DS_Store").write_text("")
    (folder / ".dotfile.ipynb").write_bytes(right.read_bytes())
    notes: list[str] = []
    found = {s.source: s for s in collect(folder, log=notes.append)}
    assert set(found) == {"ana_export.zip", "two_notebooks.zip", "truncated.ipynb", ".dotfile.ipynb"}
    read = found["ana_export.zip"].notebook()
    assert read.problem == "" and code_of(read.notebook) == code_of(right.read_bytes())
    assert "2 notebooks" in found["two_notebooks.zip"].notebook().problem
    assert notes == ["skipped 1 metadata files: .DS_Store"]


def test_grading_again_from_a_subfolder_gives_the_same_result(tmp_path):
    """`course grade` finds the autograder from the course's folder (here: a subfolder of it),
    and grading the same notebooks twice gives the same records."""
    made = tmp_path / "made"
    make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong")
    make_submission(ASSIGNMENT, {}, made, "random", ["import random\nprint(random.random())"])
    records = []
    for run in ("a", "b"):
        out = tmp_path / run
        done = course("grade", str(made), "--assignment", ASSIGNMENT, "--output", str(out), cwd=Path(__file__).parent)
        assert done.returncode == 0, done.stderr
        records.append({p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}
                        for p in sorted((out / "results").glob("*.json"))})
    assert records[0] == records[1]
    assert records[0]["wrong_hw01_derivatives.ipynb.json"]["questions"]["q3"] < question_points(ASSIGNMENT)["q3"]


def test_grading_outside_a_course_says_what_to_do(tmp_path):
    lost = course("grade", str(tmp_path), "--assignment", ASSIGNMENT, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert lost.returncode == 2 and "no course here" in lost.stderr and "Traceback" not in lost.stderr


def test_ctrl_c_stops_everything_and_leaves_nothing(tmp_path):
    made = tmp_path / "made"
    for i in range(6):
        make_submission(ASSIGNMENT, {}, made, f"loop{i}", LOOP)
    grader = subprocess.Popen([sys.executable, "-m", "course.cli", "grade", str(made), "--assignment", ASSIGNMENT,
                               "--output", str(tmp_path / "out"), "--autograder", str(autograder_zip(ASSIGNMENT))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    below = watch(grader, until=lambda: len(descendants(grader.pid)) >= 4 or time.monotonic() - started > 120)
    time.sleep(2)  # two workers, each grading a looping notebook in a student process
    below |= descendants(grader.pid)
    assert len(below) >= 4, below
    grader.send_signal(signal.SIGINT)
    grader.wait(timeout=60)
    assert grader.returncode != 0
    time.sleep(1)
    assert alive(below) == set() and scratch_of(grader.pid) == []


@pytest.mark.slow
def test_killed_halfway_then_resumed_grades_everything_once(tmp_path):
    """100 mixed submissions: kill -9 the batch midway (nothing may survive it), run it again:
    100 rows, nothing regraded, and the killed run's scratch folder is gone."""
    made = tmp_path / "made"
    kinds = {
        "right": make_submission(ASSIGNMENT, {}, made, "right").read_bytes(),
        "wrong": make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong").read_bytes(),
        "stub": make_submission(ASSIGNMENT, None, made, "stub").read_bytes(),
        "hostile": make_submission(ASSIGNMENT, {}, made, "hostile", ["import os\nos._exit(3)"]).read_bytes(),
    }
    looping = {
        "loop": make_submission(ASSIGNMENT, {}, made, "loop", LOOP).read_bytes(),
        "forkbomb": make_submission(ASSIGNMENT, None, made, "forkbomb",
                                    ["import os\nwhile True:\n    try:\n        os.fork()\n"
                                     "    except OSError:\n        pass"]).read_bytes(),
    }
    folder = tmp_path / "inbox"
    folder.mkdir()
    names = list(kinds)
    for i in range(92):
        kind = names[i % 4]
        (folder / f"student{i:03d}_{kind}.ipynb").write_bytes(kinds[kind])
    for i, junk in enumerate([b"{not json", b"", b"\x00\x01", b'{"nbformat": 4}']):
        (folder / f"student{92 + i:03d}_broken.ipynb").write_bytes(junk)
    for i, kind in enumerate(["loop", "forkbomb", "loop", "forkbomb"]):
        (folder / f"student{96 + i:03d}_{kind}.ipynb").write_bytes(looping[kind])
    out = tmp_path / "graded"
    args = [sys.executable, "-m", "course.cli", "grade", str(folder), "--assignment", ASSIGNMENT,
            "--output", str(out), "--autograder", str(autograder_zip(ASSIGNMENT)), "--timeout", "8"]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results"
    below = watch(first, until=lambda: len(list(results.glob("*.json"))) >= 30)
    first.kill()
    first.wait()
    time.sleep(1)
    assert below and alive(below) == set(), "student processes outlived a killed batch"
    done_before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 30 <= len(done_before) < 100, f"the batch was not killed halfway ({len(done_before)} done)"
    assert scratch_of(first.pid), "a killed batch leaves its scratch folder (to be removed by the next run)"

    second = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"{len(done_before)} already graded, {100 - len(done_before)} to grade" in second.stderr
    assert scratch_of(first.pid) == []
    for name, mtime in done_before.items():
        assert (results / name).stat().st_mtime_ns == mtime, f"{name} was regraded"
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert len(rows) == 100
    by_kind: dict[str, set] = {}
    for path in results.glob("*.json"):
        record = json.loads(path.read_text())
        kind = record["source"].split("_")[1].removesuffix(".ipynb")
        by_kind.setdefault(kind, set()).add((record["status"], record["score"]))
    # each kind graded alike, whichever run graded it
    assert by_kind == {"right": {("ok", FULL)}, "wrong": {("ok", FULL - _relu_bug_loss())},
                       "stub": {("ok", 0)}, "hostile": {("crashed", 0)},
                       "broken": {("not a notebook", 0)}, "loop": {("timeout", 0)}, "forkbomb": {("timeout", 0)}}
    third = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert "100 already graded, 0 to grade" in third.stderr


def _relu_bug_loss() -> float:
    from course.build import samples
    from tests.grading import source_of
    source = source_of(ASSIGNMENT)
    scores = samples.score_in_process(source.plan(), samples.functions_with(source.module("reference"), WRONG_RELU))
    return sum(question_points(ASSIGNMENT).values()) - sum(scores.values())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux's unshare is not installed")
def test_a_rootless_container_grades_and_says_what_it_lacks(tmp_path):
    """Root of a user namespace that maps root alone (rootless Docker or Podman): no uid to
    switch to, so the student process keeps its namespace's root without capabilities; it
    still grades, and the log and the gradebook say what is missing."""
    made = tmp_path / "made"
    make_submission(ASSIGNMENT, {}, made, "right", ["from concurrent.futures import ThreadPoolExecutor\n"
                                                    "with ThreadPoolExecutor(4) as pool:\n"
                                                    "    print(sum(pool.map(abs, range(10))))"])
    make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong")
    run = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-m", "course.cli", "grade",
                          str(made), "--assignment", ASSIGNMENT, "--output", str(tmp_path / "out"),
                          "--autograder", str(autograder_zip(ASSIGNMENT))], capture_output=True, text=True, timeout=600)
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("this kernel refuses user namespaces")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {r["submission"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv", encoding="utf-8"))}
    assert float(rows["right/hw01_derivatives.ipynb"]["total"]) == FULL
    assert float(rows["wrong/hw01_derivatives.ipynb"]["total"]) == FULL - _relu_bug_loss()
    assert "NO uid of its own" in run.stderr and "NO uid of its own" in rows["right/hw01_derivatives.ipynb"][
        "protections missing"]


def corrupt_deflate(data: bytes, name: str) -> bytes:
    """A zip whose member ``name`` has its compressed bytes overwritten (zlib.error on reading)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    broken = bytearray(data)
    broken[start:start + 64] = bytes(range(64))
    return bytes(broken)


def test_every_broken_file_is_its_own_row(tmp_path):
    """Reading one file can fail in many ways; each is that file's row with what happened, and
    the files beside it read as they are."""
    right = make_submission(ASSIGNMENT, {}, tmp_path / "made", "right").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("hw01_derivatives.ipynb", right)
    good_zip = buffer.getvalue()
    folder = tmp_path / "inbox"
    for student in ("corrupt", "crc", "truncated", "bomb", "honest", "folder", "link", "locked"):
        (folder / student).mkdir(parents=True)
    (folder / "corrupt" / "hw01_2026_12_01T09_14_03_123456.zip").write_bytes(corrupt_deflate(good_zip, "hw01_derivatives.ipynb"))
    crc = bytearray(good_zip)
    crc[good_zip.index(b"PK\x01\x02") + 16] ^= 0xFF  # the central directory's CRC-32
    (folder / "crc" / "export.zip").write_bytes(bytes(crc))
    (folder / "truncated" / "export.zip").write_bytes(good_zip[:len(good_zip) // 2])
    with zipfile.ZipFile(folder / "bomb" / "export.zip", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("hw01_derivatives.ipynb", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(b" " * (1 << 20))  # 300 MB of spaces, some 300 kB compressed
    (folder / "honest" / "hw01_derivatives.ipynb").write_bytes(right)
    (folder / "folder" / "hw01_derivatives.ipynb").mkdir()
    (folder / "link" / "hw01_derivatives.ipynb").symlink_to(folder / "honest" / "hw01_derivatives.ipynb")
    (folder / "locked" / "hw01_derivatives.ipynb").write_bytes(right)
    os.chmod(folder / "locked" / "hw01_derivatives.ipynb", 0)
    (folder / os.fsdecode(b"latin\xe9.ipynb")).write_bytes(right)  # a name that is not UTF-8
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a b.ipynb", right)
        z.writestr("a_b.ipynb", right)
        z.writestr("bad.ipynb", right)
    (tmp_path / "download-broken.zip").write_bytes(corrupt_deflate(download.read_bytes(), "bad.ipynb"))

    reads = {s.source: s.notebook() for s in collect(folder)}
    assert code_of(reads["honest/hw01_derivatives.ipynb"].notebook) == code_of(right)
    assert "unreadable zip (error: Error -3" in reads["corrupt/hw01_2026_12_01T09_14_03_123456.zip"].problem
    assert "Bad CRC-32" in reads["crc/export.zip"].problem
    assert "unreadable zip (BadZipFile" in reads["truncated/export.zip"].problem
    assert "larger than 256 MB" in reads["bomb/export.zip"].problem
    assert reads["folder/hw01_derivatives.ipynb"].problem == "a folder named hw01_derivatives.ipynb, not a notebook"
    assert reads["link/hw01_derivatives.ipynb"].problem == "a symbolic link, not a file (not followed)"
    locked = reads["locked/hw01_derivatives.ipynb"]
    if os.geteuid() == 0:  # root reads it anyway
        assert code_of(locked.notebook) == code_of(right)
    else:
        assert "PermissionError" in locked.problem
    assert code_of(reads[os.fsdecode(b"latin\xe9.ipynb")].notebook) == code_of(right)
    broken = collect(tmp_path / "download-broken.zip")
    assert [(s.source, s.key) for s in broken][:2] == [("a b.ipynb", "a_b.ipynb-" + broken[0].key[-10:]),
                                                       ("a_b.ipynb", "a_b.ipynb-" + broken[1].key[-10:])]
    assert len({s.key for s in broken}) == 3
    assert [code_of(s.notebook().notebook) == code_of(right) for s in broken[:2]] == [True, True]
    assert "unreadable (error: Error -3" in broken[2].notebook().problem


def high_dpi_figure() -> str:
    """A real matplotlib figure as Jupyter stores it (base64 PNG), at 300 dpi: noise, so that
    PNG cannot compress it, as a plot of real data at that resolution barely does."""
    import base64

    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), dpi=300)
    fig.subplots().imshow(np.random.default_rng(0).random((1200, 1600, 3)))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=300)
    return base64.b64encode(out.getvalue()).decode()


def test_notebooks_as_each_tool_saves_them_grade_by_their_code(tmp_path):
    """What nbconvert, JupyterLab 4 (with a hundred MB of figures), VS Code, Colab and jupytext
    write, and Korean cells pasted into a new notebook: all graded by their code, in the
    language of their edition even when its metadata is gone."""
    import nbformat

    from course.grade.submissions import collect, Submission
    from tests.grading import with_public_tests

    en = make_submission(ASSIGNMENT, {}, tmp_path / "made", "en")
    ko = make_submission(ASSIGNMENT, {}, tmp_path / "made", "ko", language="ko")
    ko_wrong = make_submission(ASSIGNMENT, WRONG_RELU, tmp_path / "made", "ko_wrong", language="ko")
    inbox = tmp_path / "inbox"

    def save(name: str, nb) -> Path:
        return samples_write(nb, inbox / name / f"{ASSIGNMENT}.ipynb")

    # nbconvert --execute, for real: outputs, execution counts, and (record_timing) each cell's
    # metadata.execution {"iopub.execute_input", "iopub.status.busy", "shell.execute_reply", ...}
    run = tmp_path / "run"
    shutil.copytree(en.parent, run)
    with_public_tests(run / en.name, ASSIGNMENT)
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.record_timing=True", "--output", "executed.ipynb", en.name],
                          cwd=run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    executed = nbformat.read(run / "executed.ipynb", as_version=4)
    assert any(c.get("outputs") for c in executed.cells)
    assert all("execution" in c.metadata for c in executed.cells if c.cell_type == "code")
    save("nbconvert", executed)
    # JupyterLab 4: nbformat 4.5 (cell ids), the same metadata.execution, and the figures of a
    # real run, here nine high-DPI ones and more: some 100 MB
    figure, lab = high_dpi_figure(), nbformat.from_dict(json.loads(json.dumps(executed)))
    code = [c for c in lab.cells if c.cell_type == "code"]
    for i in range(int((100 << 20) / len(figure)) + 1):
        code[i % len(code)].outputs.append(nbformat.v4.new_output(
            "display_data", data={"image/png": figure, "text/plain": "<Figure size 2400x1800 with 1 Axes>"},
            metadata={"image/png": {"width": 2400, "height": 1800}}))
    big = save("jupyterlab", lab)
    assert big.stat().st_size > 100 << 20
    # VS Code's Jupyter extension: its own kernelspec (a venv), a full language_info, metadata.vscode
    vscode = nbformat.read(en, as_version=4)
    vscode.metadata.kernelspec = {"display_name": "venv-calc4ml", "language": "python", "name": "python3"}
    vscode.metadata.language_info = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                                     "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                                     "pygments_lexer": "ipython3", "version": "3.11.7"}
    vscode.metadata.vscode = {"interpreter": {"hash": "4a1f" * 16}}
    save("vscode", vscode)
    # Colab: metadata.colab {"provenance": [...]}, "accelerator", its kernelspec; cell ids in
    # metadata.id and outputId; what it does not know (metadata.course) it does not keep
    colab = nbformat.read(en, as_version=4)
    colab.metadata = nbformat.from_dict({"colab": {"provenance": [], "toc_visible": True},
                                         "kernelspec": {"name": "python3", "display_name": "Python 3"},
                                         "language_info": {"name": "python"}, "accelerator": "GPU"})
    for i, cell in enumerate(colab.cells):
        cell.metadata = {"id": f"c{i:06d}"} | ({"outputId": f"o{i:06d}"} if cell.cell_type == "code" else {})
    save("colab", colab)
    # jupytext, for real: to a py:percent script and back loses metadata.course
    script = tmp_path / "jupytext" / f"{ASSIGNMENT}.py"
    script.parent.mkdir()
    for args in (["--to", "py:percent", "-o", str(script), str(ko)],
                 ["--to", "ipynb", "-o", str(inbox / "jupytext" / f"{ASSIGNMENT}.ipynb"), str(script)]):
        (inbox / "jupytext").mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "jupytext", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "course" not in json.loads((inbox / "jupytext" / f"{ASSIGNMENT}.ipynb").read_text())["metadata"]
    # the Korean cells (a wrong relu_grad) pasted into a fresh notebook
    pasted = nbformat.v4.new_notebook()
    for cell in nbformat.read(ko_wrong, as_version=4).cells:
        pasted.cells.append(nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code"
                            else nbformat.v4.new_markdown_cell(cell.source))
    save("pasted", pasted)

    import tracemalloc
    reader = next(s for s in collect(inbox) if s.source.startswith("jupyterlab/"))
    tracemalloc.start()
    read = Submission.notebook(reader)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(read.notebook) < 200_000 and peak < 1.2 * big.stat().st_size, (len(read.notebook), peak)

    results = course_grade(ASSIGNMENT, inbox, tmp_path / "out")
    full = {"nbconvert", "jupyterlab", "vscode", "colab", "jupytext"}
    assert {k: (r.score, str(r.status)) for k, r in results.items()} == {
        **{k: (FULL, "ok") for k in full}, "pasted": (FULL - _relu_bug_loss(), "ok")}
    assert {k: (r.language, r.language_detected) for k, r in results.items()} == {
        "nbconvert": ("en", False), "jupyterlab": ("en", False), "vscode": ("en", False), "colab": ("en", True),
        "jupytext": ("ko", True), "pasted": ("ko", True)}
    rows = {r["submission"].split("/")[0]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv",
                                                                            encoding="utf-8"))}
    assert rows["jupytext"]["language"] == "ko (read from its text: metadata.course is missing)"
    assert rows["vscode"]["language"] == "en"
    page = (tmp_path / "out" / "feedback" / f"{results['pasted'].key}.html").read_text(encoding="utf-8")
    assert 'lang="ko"' in page and "비공개 테스트" in page  # the hidden checks' note, in Korean


def samples_write(nb, path: Path) -> Path:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _json_values():
    from hypothesis import strategies as st

    keys = st.sampled_from(["outputs", "attachments", "source", "a\\\"b", "]", "{", "x y", "\\"])
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                        max_leaves=25)


def _nulled(value):
    if isinstance(value, dict):
        return {k: None if k in ("outputs", "attachments") else _nulled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulled(v) for v in value]
    return value


def test_outputs_are_dropped_from_the_bytes_exactly():
    """The byte-level pass that drops outputs before decoding changes nothing else, whatever
    the JSON holds (quotes, backslashes and brackets in strings and keys), written compactly,
    indented or escaped; and what is not JSON is left alone."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from course.grade.submissions import _outputs_dropped

    @settings(max_examples=300, deadline=None)
    @given(_json_values(), st.sampled_from([None, 1, "\t"]))
    def check(value, indent):
        for text in (json.dumps(value, indent=indent, ensure_ascii=False), json.dumps(value, ensure_ascii=True)):
            assert json.loads(_outputs_dropped(text.encode())) == _nulled(value)

    check()
    for broken in (b'{"outputs": [1, "]', b'{"outputs": ', b'"outputs', b'{"a": "\\'):
        assert _outputs_dropped(broken) == broken
