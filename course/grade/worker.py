"""The student side of the hardened grader: a warm worker and the student processes it forks.

``python -m course.grade.worker FD API...`` starts a *worker*.  It imports torch and the notebooks'
libraries once, installs the guards for the given APIs and the vault (``sandbox.Vault``),
then waits on the control socket FD for ``start`` requests.  The worker never reads a
submission: for each request it forks a *student process*, which locks itself down
(``sandbox.isolate``) and only then reads its notebook's cells from its own channel, runs
them, and answers the grader's cases one at a time (``protocol``).

Control messages (SOCK_SEQPACKET, one per packet), grader -> worker:
    {"op": "start", "limits": {...}, "uid": int, "base": path, "home": path} with two
    descriptors: the student's channel and the file that takes its printed output;
worker -> grader: {"started": pid}, {"exited": pid, "signal": n | null, "code": n | null}.
"""

from __future__ import annotations

import _thread
import collections
import ctypes
import dataclasses
import functools
import gc
import importlib
import json
import json.scanner
import operator
import os
import queue
import select
import signal
import socket
import sys
import traceback
import types
from typing import Any, Callable

import torch  # imported once per worker: every student process forks with it loaded

from calc4ml_runtime import guards, messages, values
from calc4ml_runtime.calls import CallFailed, load_fixtures, run_case
from calc4ml_runtime.plan import CallSpec
from course import cells
from course.grade import execute, protocol, sandbox

# What notebooks of this course import, loaded once per worker: a warm start for every
# student process (which may still import anything its read-only Python holds).
PRELOAD = ("math", "cmath", "random", "typing", "functools", "itertools", "collections", "dataclasses",
           "numpy", "numpy.linalg", "contourpy", "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
           "mpl_toolkits.mplot3d", "koreanize_matplotlib",
           "torch.func", "torch.autograd.functional", "torch.autograd.forward_ad", "torch.linalg",
           "torch.nn", "torch.nn.functional", "torch.nn.utils", "torch.optim", "torch.distributions", "torch.testing",
           "torch.fx.experimental.symbolic_shapes", "torch._decomp.decompositions_for_jvp")
# The course's packages alone are readable in the sandbox (never the folder above them: solutions/).
RUNTIME_DIRS = [os.path.dirname(os.path.abspath(guards.__file__)),
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]


def preload() -> None:
    import io

    import matplotlib
    matplotlib.use("Agg")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # Draw once with every kind of plot the notebooks use, so that lazily loaded parts
    # (contourpy, fonts, image writers) are in memory before the student process is locked.
    import matplotlib.pyplot as plt
    import numpy as np
    grid = np.linspace(-1, 1, 5)
    x, y = np.meshgrid(grid, grid)
    fig, axes = plt.subplots(1, 3)
    axes[0].contour(x, y, x * y), axes[0].contourf(x, y, x * y), axes[0].quiver(x, y, x, y)
    axes[1].loglog(grid + 2, grid + 2, "o-", label="$x^2$ 기울기"), axes[1].legend(), axes[1].set_title("t")
    axes[2].hist(grid), axes[2].pcolormesh(x, y, x), axes[2].imshow(x * y), axes[2].scatter(grid, grid)
    fig.colorbar(axes[2].images[0])
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")
    # The same for autograd and torch.func, whose first use imports more of torch.
    t = torch.linspace(-1, 1, 4, dtype=torch.float64, requires_grad=True)
    out = torch.sin(t) * t
    torch.autograd.grad(out, t, grad_outputs=torch.ones_like(out), create_graph=True)
    cube = lambda v: (v ** 3).sum()  # noqa: E731
    torch.func.jvp(torch.sin, (t.detach(),), (t.detach(),)), torch.func.vjp(torch.sin, t.detach())
    torch.func.hessian(cube)(t.detach()), torch.func.jacrev(torch.sin)(t.detach())
    torch.autograd.functional.jacobian(torch.sin, t.detach())
    with torch.autograd.forward_ad.dual_level():
        torch.autograd.forward_ad.make_dual(t.detach(), t.detach())
    torch.linalg.eigvalsh(torch.eye(2)), torch.linalg.solve(torch.eye(2), torch.ones(2))
    torch.linalg.slogdet(torch.eye(2)), torch.linalg.svdvals(torch.eye(2)), torch.linalg.cond(torch.eye(2))
    torch.randn(3, 3) @ torch.randn(3, 3), repr(t), str(torch.ones(2, 2))


class _Otter(types.ModuleType):
    """Stands in for otter inside the sandbox: the notebook's own checks are not graded."""

    class Notebook:
        def __init__(self, *args: Any, **kwargs: Any):
            pass

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: None


# ---------------------------------------------------------------- the student process
#
# Two threads.  The main thread holds the channel and never runs the notebook: it reads a
# message with C functions it captured before the notebook existed, hands it to the *runner*
# thread and writes back the bytes the runner made.  The runner runs the cells and the cases
# from a loop written in C (``deque(map(call, iter(get, None)))``), so no frame of the grader's
# is above the notebook's code: a frame walk finds only the case code below, which holds no
# state of the grader's.  A case's forbidden APIs are forbidden by the vault (``sandbox.Vault``)
# from ``_answer``'s own code before any of the student's code runs, and the reply is packed and
# encoded before they are permitted again: patching a module, ``json`` or a tensor method
# changes nothing that runs outside the forbid.

STACK_BYTES = 64 << 20  # the runner's stack: deep recursion in a notebook as in a main thread

# The C functions the runner's jobs get as arguments, captured before the notebook ran:
Write = Callable[[int, bytes], int]  # os.write
Frame = Callable[[int], bytes]  # a reply's length prefix (protocol._LENGTH.pack)
Switch = Callable[[], None]  # gc.enable, gc.disable


def _sealed_channel(sock: socket.socket) -> tuple[Callable[[], str | None], Callable[[bytes], None]]:
    """(receive, send) on the grader's channel, built only from C functions captured now: the
    notebook can patch ``struct``, ``socket`` or builtins and they stay as they were."""
    import _socket
    recv_into, sendall = _socket.socket.recv_into, _socket.socket.sendall
    prefix, length = protocol._PREFIX.unpack_from, protocol._LENGTH.unpack_from
    new_buffer, new_bytes, as_view = bytearray, bytes, memoryview

    def exactly(n: int) -> bytes | None:
        buffer = new_buffer(n)
        view, got = as_view(buffer), 0
        while got < n:
            count = recv_into(sock, view[got:], n - got)
            if not count:
                return None
            got += count
        return new_bytes(buffer)

    def receive() -> str | None:
        """The next message's JSON text from the grader (None when it hung up), its buffers
        dropped.  Text only: the thread that keeps the channel never holds an object the
        notebook could have touched, so no finalizer of the notebook's ever runs in it."""
        head = exactly(6)
        if head is None:
            return None
        header = exactly(prefix(head)[0])
        if not header:
            return None
        for _ in range(prefix(head)[1]):
            size = exactly(8)
            if size is None or exactly(length(size)[0]) is None:
                return None
        return header.decode()

    def send(data: bytes) -> None:
        sendall(sock, data)

    return receive, send


def _own_descriptors(channel: int, replies: int, write: Write, pipe: int, frame: Frame,
                     found: list[sandbox.Protection]) -> None:
    """The runner's first job, before the notebook exists: a descriptor table without the channel."""
    found.append(sandbox.own_descriptors(channel, [replies]))
    write(pipe, frame(0))


def _run_cells(namespace: dict[str, Any], to_run: list[tuple[int, str]], language: str, write: Write, pipe: int,
               frame: Frame, disable_gc: Switch) -> None:
    """A job of the runner: the notebook's cells as Jupyter runs them (``execute``), then the
    ready message (nothing is forbidden while cells run)."""
    messages.set_language(language)  # the language lives in a context variable: set it in this thread
    cell_errors, notes = execute.run_cells(to_run, namespace, messages._)
    torch.set_num_threads(1)
    data = protocol.encode({"ready": True, "cell_errors": cell_errors, "notes": notes, "ran": len(to_run)})
    disable_gc()
    write(pipe, frame(data.__len__()) + data)


def _answer(text: str, scan: Callable[[str, int], tuple[Any, int]], write: Write, pipe: int, frame: Frame,
            audit: Callable[..., None], escape: Callable[[str], str], prefix: Callable[[int, int], bytes],
            language: str, enable_gc: Switch, disable_gc: Switch, functions: dict[str, Any],
            fixtures: dict[str, Any]) -> None:
    """A job of the runner: one case.  The only code the vault takes a forbid or a permit from.

    Everything it needs before the forbid is an argument (C functions captured before the
    notebook ran, the message's text, plain strings): no global, builtin or module attribute is
    looked up until the case's forbidden APIs are forbidden, and the permit comes only after
    the reply is bytes.  Until then no finalizer runs either (the main thread turned the
    collector off), and a thread of the notebook's would make the vault refuse the forbid."""
    case, token = scan(text, 0)[0], [pipe]
    box: list[str] = []  # the vault puts here why it refuses to forbid now
    # computed here, not by plan.forbidden_apis: no global may be looked up before the forbid
    forbidding = [call for call in case["calls"] if call.get("forbid")]
    if forbidding:
        fn = forbidding[0]["fn"]
        audit("course.forbid", token, [api for call in forbidding for api in call["forbid"]], fn,
              forbidding[0].get("because", "call it"), language, box)
    if box:  # not safe to forbid now: the case fails with the reason, encoded by C alone
        head = ('{"error":' + escape(fn + ": " + box[0]) + ',"fn":' + escape(fn)
                + ',"missing":false,"undefined":null}').encode()
        data = prefix(head.__len__(), 0) + head
    else:
        enable_gc()
        try:
            data = _outputs(case["calls"], functions, fixtures)
        except BaseException as error:  # a student's object that fails even to describe itself
            data = protocol.encode({"error": protocol.clean(type(error).__name__, 300), "fn": "?", "missing": False,
                                    "undefined": None})
        finally:
            disable_gc()
            if forbidding:
                audit("course.permit", token)
    write(pipe, frame(data.__len__()) + data)


def _outputs(calls: list[CallSpec], functions: dict[str, Any], fixtures: dict[str, Any]) -> bytes:
    """The case's reply as bytes, made while its APIs are forbidden (``_answer``)."""
    try:
        # the vault forbids for the whole case; runtime's own forbid is otter's
        outputs = run_case(functions, [{**call, "forbid": []} for call in calls], fixtures)
        buffers: list[bytes] = []
        reply: dict = {"outputs": [values.pack(value, buffers) for value in outputs]}
    except CallFailed as failure:
        reply, buffers = {"error": str(failure), "fn": failure.fn, "missing": failure.missing,
                          "undefined": failure.undefined}, []
    except BaseException as error:  # SystemExit from a student's function, say
        reply, buffers = {"error": protocol.clean(f"{type(error).__name__}: {error}", 300), "fn": "?",
                          "missing": False, "undefined": None}, []
    try:
        return protocol.encode(reply, buffers)
    except (ValueError, TypeError):  # a value JSON cannot carry
        return protocol.encode({"outputs": [{"object": "an unsendable value"}] * len(calls)})


def student_process(channel: socket.socket, output: int, start: dict[str, Any]) -> None:
    """Lock down, report the protections, then read the notebook, run it, and answer cases
    until the grader hangs up."""
    os.setsid()
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0), os.dup2(output, 1), os.dup2(output, 2)
    os.closerange(3, channel.fileno())
    os.closerange(channel.fileno() + 1, 1 << 16)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the output cap, writes fail instead
    protections = sandbox.isolate(start["limits"], start["base"], start["uid"], RUNTIME_DIRS, start["home"])
    receive, send = _sealed_channel(channel)
    # What this thread uses from now on, captured before the notebook can patch anything.
    answer, partial, audit, enable_gc, disable_gc = _answer, functools.partial, sys.audit, gc.enable, gc.disable
    read, write, frame, size = os.read, os.write, protocol._LENGTH.pack, protocol._LENGTH.unpack
    escape, prefix, join = json.encoder.encode_basestring_ascii, protocol._PREFIX.pack, b"".join
    # C's scanner: no hook, no Python (typeshed wrongly wants a scanner, not a decoder, as its context)
    scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
    replies, pipe = os.pipe()  # the runner's replies: bytes only, never an object of the notebook's
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    _thread.stack_size(STACK_BYTES)
    runner = _thread.start_new_thread(collections.deque, (map(operator.call, iter(jobs.get, None)), 0))

    def ask(job: Callable[[], None]) -> bytes:
        jobs.put(job)
        head = read(replies, 8)
        while head.__len__() < 8:
            head += read(replies, 8 - head.__len__())
        want, parts, got = size(head)[0], [], 0
        while got < want:
            part = read(replies, want - got if want - got < 1 << 20 else 1 << 20)
            parts.append(part)
            got += part.__len__()
        return join(parts)

    found: list[sandbox.Protection] = []
    ask(partial(_own_descriptors, channel.fileno(), replies, write, pipe, frame, found))
    protections.append(found[0])
    # Measured before anything of the notebook is here, and sent first: nothing can change it.
    send(protocol.encode({"sandbox": [dataclasses.asdict(p) for p in protections]}))
    sandbox.Vault.lock(runner)

    text = receive()
    if text is None:
        return
    request = json.loads(text)
    sys.modules["otter"] = _Otter("otter")
    fixtures = load_fixtures(request["fixtures"])
    # The notebook's namespace is __main__'s, as in Jupyter (cProfile.run, pickle and doctest look there).
    main = types.ModuleType("__main__")
    namespace = main.__dict__
    namespace["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    language = request["language"] if request.get("language") in ("en", "ko") else "en"
    number = {index: n for n, (index, _) in enumerate(request["cells"], 1)}  # as the student counts code cells
    to_run = [(number[index], source)
              for index, source in cells.runnable(request["cells"], set(request["skip"]), execute.as_python)]
    del request
    send(ask(partial(_run_cells, namespace, to_run, language, write, pipe, frame, disable_gc)))
    while True:
        disable_gc()  # no finalizer of the notebook's runs in this thread while it reads a case
        text = receive()
        if text is None:
            return
        send(ask(partial(answer, text, scan, write, pipe, frame, audit, escape, prefix, language, enable_gc, disable_gc,
                         namespace, fixtures)))


# ---------------------------------------------------------------- the worker


def _tell(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def worker(control_fd: int, guarded: list[str]) -> None:
    """Import once, guard the APIs, install the vault; then fork a student process per request
    until the grader hangs up (and die with it: PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: the worker dies with its grader
    control = socket.socket(fileno=control_fd)
    if os.getppid() == 1:
        return
    preload()
    guards.install_guards(guarded)
    sandbox.Vault.install(guards, messages._LOCALE, _answer.__code__)
    os.setpgid(0, 0)
    while True:
        readable, _, _ = select.select([control], [], [], 0.2)
        while True:  # reap finished student processes and report how they ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            _tell(control, {"exited": pid, "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None})
        if not readable:
            continue
        header, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
        if not header:
            return
        start = json.loads(header.decode())
        pid = os.fork()
        if pid == 0:
            try:
                libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # dies with the worker
                control.close()
                student_process(socket.socket(fileno=fds[0]), fds[1], start)
                os._exit(0)
            except BaseException:
                traceback.print_exc()  # into the run's output, which the grader logs
                os._exit(70)
        for fd in fds:
            os.close(fd)
        _tell(control, {"started": pid})


if __name__ == "__main__":
    worker(int(sys.argv[1]), sys.argv[2:])
