"""The student side of the hardened grader: a warm worker and the student processes it forks.

``python -m course.worker FD API...`` starts a *worker*.  It imports torch and the notebooks'
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

import ctypes
import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback
import types

import torch  # imported once per worker: every student process forks with it loaded

from course import cells, execute, protocol, runtime, sandbox

# What notebooks of this course import, loaded once per worker: a warm start for every
# student process (which may still import anything its read-only Python holds).
PRELOAD = ("math", "cmath", "random", "typing", "functools", "itertools", "collections", "dataclasses",
           "numpy", "numpy.linalg", "contourpy", "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
           "mpl_toolkits.mplot3d", "koreanize_matplotlib",
           "torch.func", "torch.autograd.functional", "torch.autograd.forward_ad", "torch.linalg",
           "torch.nn", "torch.nn.functional", "torch.nn.utils", "torch.optim", "torch.distributions", "torch.testing",
           "torch.fx.experimental.symbolic_shapes", "torch._decomp.decompositions_for_jvp")
# The course package alone is readable in the sandbox (never the folder above it: solutions/).
RUNTIME_DIR = os.path.dirname(os.path.abspath(runtime.__file__))


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
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None


# ---------------------------------------------------------------- the student process


def student_process(channel: socket.socket, output: int, start: dict) -> None:
    """Lock down, then read the notebook, run it, and answer cases until the grader hangs up."""
    os.setsid()
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0), os.dup2(output, 1), os.dup2(output, 2)
    os.closerange(3, channel.fileno())
    os.closerange(channel.fileno() + 1, 1 << 16)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the output cap, writes fail instead
    notes = sandbox.isolate(start["limits"], start["base"], start["uid"], RUNTIME_DIR, start["home"])
    sandbox.Vault.lock(channel)
    request, _ = protocol.receive_blocking(channel)
    sys.modules["otter"] = _Otter("otter")
    runtime.set_language(request["language"])
    fixtures = runtime.load_fixtures(request["fixtures"])
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    to_run = cells.runnable(request["cells"], set(request["skip"]), execute.as_python)
    notes.append(f"ran {len(to_run)} of {len(request['cells'])} code cells (unchanged demonstrations skipped)")
    number = {index: n for n, (index, _) in enumerate(request["cells"], 1)}  # as the student counts code cells
    cell_errors, skipped = execute.run_cells([(number[index], source) for index, source in to_run], namespace,
                                             runtime._)
    notes += skipped
    del request
    torch.set_num_threads(1)
    protocol.send(channel, {"ready": True, "cell_errors": cell_errors, "notes": notes})
    while True:
        try:
            case, _ = protocol.receive_blocking(channel)
        except protocol.ChannelClosed:
            return
        try:
            outputs = runtime.run_case(namespace, case["calls"], fixtures)
            buffers: list[bytes] = []
            reply = {"outputs": [runtime.pack(value, buffers) for value in outputs]}
        except runtime.CallFailed as failure:
            reply, buffers = {"error": str(failure), "fn": failure.fn, "missing": failure.missing}, []
        except BaseException as error:  # SystemExit from a student's function, say
            reply, buffers = {"error": protocol.clean(f"{type(error).__name__}: {error}", 300), "fn": "?",
                              "missing": False}, []
        try:
            protocol.send(channel, reply, buffers)
        except (ValueError, TypeError):  # a value JSON cannot carry
            protocol.send(channel, {"outputs": [{"object": "an unsendable value"}] * len(case["calls"])})


# ---------------------------------------------------------------- the worker


def _tell(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def worker(control_fd: int, guarded: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: the worker dies with its grader
    control = socket.socket(fileno=control_fd)
    if os.getppid() == 1:
        return
    preload()
    runtime.install_guards(guarded)
    sandbox.Vault.install(runtime)
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
