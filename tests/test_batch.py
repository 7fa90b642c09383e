"""`course grade` as an instructor runs it: any file names, LMS zips, a roster, resumable."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from course.batch import collect, student_id
from tests.grading import autograder_zip, make_submission, question_points

pytestmark = pytest.mark.slow
ASSIGNMENT = "hw01_derivatives"
FULL = sum(question_points(ASSIGNMENT).values())
WRONG_RELU = {"relu_grad": "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n"}


def course(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "course.cli", *args], capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize("path, expected", [
    ("doejane_12345_67890_hw01_derivatives.ipynb", "12345"),
    ("doejane_LATE_12345_67890_hw01_derivatives-1.ipynb", "12345"),
    ("Jane Doe_4242_assignsubmission_file_/hw01_derivatives.ipynb", "4242"),
    ("jdoe/hw01_derivatives.ipynb", "jdoe"),
    ("jdoe.ipynb", "jdoe"),
])
def test_student_ids_from_lms_file_names(path, expected):
    assert student_id(path) == expected


def test_canvas_zip_with_roster_exports_to_canvas_and_moodle(tmp_path):
    made = tmp_path / "made"
    right = make_submission(ASSIGNMENT, {}, made, "right")
    wrong = make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong")
    canvas = tmp_path / "submissions.zip"
    with zipfile.ZipFile(canvas, "w") as z:
        z.write(right, "doejane_12345_67890_hw01_derivatives.ipynb")
        z.write(wrong, "roebob_LATE_222_333_hw01_derivatives.ipynb")
        z.writestr("smithann_444_555_notes.pdf", b"%PDF-1.4")
        z.writestr("__MACOSX/._junk", b"")
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Email address\n"
                      "\"Doe, Jane\",12345,S1,jdoe,A,jdoe@uni.edu\n\"Roe, Bob\",222,S2,broe,A,broe@uni.edu\n"
                      "\"Smith, Ann\",444,S3,asmith,B,asmith@uni.edu\n")
    out = tmp_path / "graded"
    result = course("grade", str(canvas), "--assignment", ASSIGNMENT, "--output", str(out),
                    "--autograder", str(autograder_zip(ASSIGNMENT)), "--roster", str(roster))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(out / "gradebook.csv")))
    assert [(r["student"], r["status"], r["total"]) for r in rows] == [
        ("12345", "ok", f"{FULL:g}"), ("222", "ok", f"{FULL - 3:g}"), ("444", "not a notebook", "0")]
    canvas_rows = list(csv.reader(open(out / "canvas.csv")))
    assert canvas_rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert canvas_rows[1][0] == "Points Possible"
    assert canvas_rows[2] == ["Doe, Jane", "12345", "S1", "jdoe", "A", f"{FULL:g}"]
    moodle_rows = list(csv.reader(open(out / "moodle.csv")))
    assert moodle_rows[2][:2] == ["broe@uni.edu", f"{FULL - 3:g}"]
    feedback = (out / "feedback" / "roebob_LATE_222_333_hw01_derivatives.ipynb.md").read_text()
    assert "q3. ReLU derivative: 1 / 4" in feedback and "failed (hidden)" in feedback
    gradescope = json.loads((out / "gradescope" / "doejane_12345_67890_hw01_derivatives.ipynb.json").read_text())
    assert gradescope["score"] == FULL and all({"name", "score", "max_score", "output", "visibility"} <= set(t)
                                               for t in gradescope["tests"])
    assert (out / "grading.log").read_text()


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
    (folder / "v3.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    (folder / ".DS_Store").write_text("")
    found = {s.source: s for s in collect(folder)}
    assert set(found) == {"ana_export.zip", "two_notebooks.zip", "truncated.ipynb", "v3.ipynb"}
    assert found["ana_export.zip"].raw == right.read_bytes()
    assert "2 notebooks" in found["two_notebooks.zip"].problem


def test_killed_halfway_then_resumed_grades_everything_once(tmp_path):
    """100 mixed submissions: kill the batch midway, run it again: 100 rows, nothing regraded."""
    made = tmp_path / "made"
    kinds = {
        "right": make_submission(ASSIGNMENT, {}, made, "right").read_bytes(),
        "wrong": make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong").read_bytes(),
        "stub": make_submission(ASSIGNMENT, None, made, "stub").read_bytes(),
        "hostile": make_submission(ASSIGNMENT, {}, made, "hostile", ["import os\nos._exit(3)"]).read_bytes(),
    }
    looping = {
        "loop": make_submission(ASSIGNMENT, {}, made, "loop", ["while True:\n    pass"]).read_bytes(),
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
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 30:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 30 <= len(done_before) < 100, f"the batch was not killed halfway ({len(done_before)} done)"

    second = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"{len(done_before)} already graded, {100 - len(done_before)} to grade" in second.stderr
    for name, mtime in done_before.items():
        assert (results / name).stat().st_mtime_ns == mtime, f"{name} was regraded"
    rows = list(csv.DictReader(open(out / "gradebook.csv")))
    assert len(rows) == 100
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row["submission"].split("_")[1].removesuffix(".ipynb"), set()).add((row["status"], row["total"]))
    # each kind graded alike, whichever run graded it
    assert by_kind == {"right": {("ok", f"{FULL:g}")}, "wrong": {("ok", f"{FULL - 3:g}")},
                       "stub": {("cell errors", "0")}, "hostile": {("crashed", "0")},
                       "broken": {("not a notebook", "0")}, "loop": {("timeout", "0")},
                       "forkbomb": {("timeout", "0")}}

    third = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert "100 already graded, 0 to grade" in third.stderr


def test_regrading_gives_the_same_result(tmp_path):
    made = tmp_path / "made"
    make_submission(ASSIGNMENT, WRONG_RELU, made, "wrong")
    make_submission(ASSIGNMENT, {}, made, "loop", ["import random\nprint(random.random())"])
    records = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert course("grade", str(made), "--assignment", ASSIGNMENT, "--output", str(out),
                      "--autograder", str(autograder_zip(ASSIGNMENT))).returncode == 0
        records.append({p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}
                        for p in sorted((out / "results").glob("*.json"))})
    assert records[0] == records[1]
