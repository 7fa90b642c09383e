"""`course grade --shard I/N` and `course merge`: a class graded as four separate processes (as
a Slurm array or a Kubernetes Indexed Job runs them) gives the outputs of one run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course.grade import batch
from tests.grading import autograder_zip, make_submission
from tests.test_lms import canvas_export, canvas_name

ASSIGNMENT = "hw01_derivatives"
WRONG_RELU = {"relu_grad": "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n"}
STUDENTS = [(f"Student{i:02d}, Test", 200 + i, f"S{i}", f"s{i}", "Section A", {"4242": ""}) for i in range(12)]


def course(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course.cli", *args], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def download(tmp_path_factory) -> tuple[Path, Path]:
    """A Canvas download of 12 students (right, wrong, stubs, a crash) and the gradebook export."""
    tmp = tmp_path_factory.mktemp("class")
    kinds = [make_submission(ASSIGNMENT, {}, tmp / "kinds", "right").read_bytes(),
             make_submission(ASSIGNMENT, WRONG_RELU, tmp / "kinds", "wrong").read_bytes(),
             make_submission(ASSIGNMENT, None, tmp / "kinds", "stub").read_bytes(),
             make_submission(ASSIGNMENT, {}, tmp / "kinds", "crash", ["import os\nos._exit(3)"]).read_bytes()]
    folder = tmp / "download"
    folder.mkdir()
    for i, (name, user, *_rest) in enumerate(STUDENTS):
        (folder / canvas_name(name, user, 9000 + i, "hw01_derivatives.ipynb", late=i == 5)).write_bytes(kinds[i % 4])
    roster = tmp / "export.csv"
    roster.write_text(canvas_export(STUDENTS, [("HW01 Derivatives", 4242, "30")]), encoding="utf-8")
    return folder, roster


def comparable(output: Path) -> dict[str, str]:
    """Every file a batch writes for people, with the only figures that differ between two runs
    of the same class (seconds) taken out."""
    files = {}
    for path in sorted(output.rglob("*")):
        relative = path.relative_to(output).as_posix()
        if not path.is_file() or relative.startswith(("results/", "grading.log", "shard.json")):
            continue
        text = path.read_text(encoding="utf-8")
        if relative.startswith("gradescope/"):
            text = re.sub(r'"execution_time": [0-9.e-]+', '"execution_time": 0', text)
        if relative == "report.html":
            text = re.sub(r'<h2 id="slowest">.*?</table>', "", text, flags=re.S)
        files[relative] = text
    return files


def test_the_shares_are_a_partition_and_stable():
    keys = [f"student{i:04d}.ipynb" for i in range(1000)]
    shares = [batch.shard_of(key, 4) for key in keys]
    assert set(shares) == {1, 2, 3, 4} and all(150 < shares.count(i) < 350 for i in (1, 2, 3, 4))
    assert shares == [batch.shard_of(key, 4) for key in keys]


@pytest.mark.slow  # five batches of 12 notebooks: a minute or two
def test_four_shards_merged_are_one_run(download, tmp_path):
    folder, roster = download
    zip_ = str(autograder_zip(ASSIGNMENT))
    common = ["--assignment", ASSIGNMENT, "--autograder", zip_, "--workers", "1"]
    single = course("grade", str(folder), "--output", str(tmp_path / "single"), "--roster", str(roster),
                    "--late-penalty", "10%", *common)
    assert single.returncode == 0, single.stderr
    shards = [subprocess.Popen([sys.executable, "-m", "course.cli", "grade", str(folder), "--output",
                                str(tmp_path / f"shard{i}"), "--shard", f"{i}/4", *common],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(1, 5)]
    for process in shards:
        assert process.wait(timeout=600) == 0, process.stderr.read()
    mine = [json.loads((tmp_path / f"shard{i}" / "shard.json").read_text())["mine"] for i in range(1, 5)]
    assert sorted(sum(mine, [])) == sorted(p.name.removesuffix(".json")
                                           for p in (tmp_path / "single" / "results").glob("*.json"))
    assert not (tmp_path / "shard1" / "gradebook.csv").exists()

    merged = course("merge", *(str(tmp_path / f"shard{i}") for i in range(1, 5)), "--output", str(tmp_path / "merged"),
                    "--roster", str(roster), "--late-penalty", "10%")
    assert merged.returncode == 0, merged.stderr
    one, many = comparable(tmp_path / "single"), comparable(tmp_path / "merged")
    assert sorted(one) == sorted(many) and {"gradebook.csv", "canvas.csv", "report.html", "lms.json"} <= set(one)
    for name in one:
        assert one[name] == many[name], name

    incomplete = course("merge", *(str(tmp_path / f"shard{i}") for i in range(1, 4)), "--output", str(tmp_path / "x"))
    assert incomplete.returncode == 2 and "each of the 4 shards" in incomplete.stderr


@pytest.mark.slow
def test_a_killed_shard_resumes_and_merges(download, tmp_path):
    folder, roster = download
    slow = tmp_path / "slow"
    slow.mkdir()
    for path in folder.iterdir():
        (slow / path.name).write_bytes(path.read_bytes())
    for i in range(6):  # notebooks that take their whole time budget, so the kill lands midway
        make_submission(ASSIGNMENT, {}, slow, f"loop{i}", ["import time\ntime.sleep(3)"])
    args = ["grade", str(slow), "--assignment", ASSIGNMENT, "--autograder", str(autograder_zip(ASSIGNMENT)),
            "--workers", "1"]
    out = tmp_path / "shard1"
    killed = subprocess.Popen([sys.executable, "-m", "course.cli", *args, "--output", str(out), "--shard", "1/2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while not list((out / "results").glob("*.json")) and time.monotonic() - started < 120:
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    before = {p.name for p in (out / "results").glob("*.json")}
    mine = json.loads((out / "shard.json").read_text())["mine"]
    assert 0 < len(before) < len(mine)
    refused = course("merge", str(out), str(tmp_path / "shard2"), "--output", str(tmp_path / "merged"))
    assert refused.returncode == 2
    again = course(*args, "--output", str(out), "--shard", "1/2")
    assert again.returncode == 0 and f"{len(before)} already graded" in again.stderr
    other = course(*args, "--output", str(tmp_path / "shard2"), "--shard", "2/2")
    assert other.returncode == 0
    merged = course("merge", str(out), str(tmp_path / "shard2"), "--output", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    rows = (tmp_path / "merged" / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(list(slow.iterdir()))
