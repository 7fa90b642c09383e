"""The student side of the hardened grader: a warm worker that runs each submission in a
fresh, locked-down process.

``python -m course.sandbox FD`` starts a *worker*: it imports torch once, then waits on the
control socket FD.  For each submission it forks a *student process* that:

1. leaves the worker's session and keeps only its own socket to the grader;
2. gets limits: address space, file size (caps printed output), CPU time, no core dumps;
3. loses the network (a new network namespace; Landlock's TCP rules where that fails);
4. when the grader runs as root, loses every capability (no mount, reboot, raw sockets);
5. loses the filesystem (Landlock): read-only Python and system libraries, read-write only
   its scratch folder, so tests, plans, reference solutions and result files are out of reach;
   and it cannot signal or trace processes outside its sandbox;
6. loses the right to create processes (seccomp): threads yes, fork no, so a fork bomb
   fizzles and killing the one process cleans everything up;
7. runs the notebook's code cells, then answers the grader's calls one at a time.

The worker never sees an expected value (the grader keeps those), and neither does the
student process: it receives a call's arguments and sends back plain JSON, nothing else.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import site
import socket
import sys
import types

import torch  # imported once per worker: every student process forks with it loaded

from course import runtime

# What notebooks of this course import, loaded once per worker: a warm start for every
# student process (the sandbox still lets them import anything under Python's own folders).
PRELOAD = ("math", "cmath", "random", "typing", "functools", "itertools", "collections", "dataclasses",
           "numpy", "numpy.linalg", "contourpy", "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
           "mpl_toolkits.mplot3d",
           "torch.func", "torch.autograd.functional", "torch.autograd.forward_ad", "torch.linalg",
           "torch.nn", "torch.nn.functional", "torch.optim", "torch.distributions", "torch.testing",
    "torch.fx.experimental.symbolic_shapes", "torch._decomp.decompositions_for_jvp")


def preload() -> None:
    import importlib
    import io

    import matplotlib
    matplotlib.use("Agg")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # Draw once with every kind of plot the notebooks use, so that lazily imported modules
    # (contourpy, fonts, image writers) are loaded before the student process loses access.
    import matplotlib.pyplot as plt
    import numpy as np
    grid = np.linspace(-1, 1, 5)
    x, y = np.meshgrid(grid, grid)
    fig, axes = plt.subplots(1, 3, subplot_kw=None)
    axes[0].contour(x, y, x * y), axes[0].contourf(x, y, x * y), axes[0].quiver(x, y, x, y)
    axes[1].loglog(grid + 2, grid + 2, "o-", label="$x^2$"), axes[1].legend(), axes[1].set_title("t")
    axes[2].hist(grid), axes[2].pcolormesh(x, y, x), axes[2].imshow(x * y), axes[2].scatter(grid, grid)
    fig.colorbar(axes[2].images[0])
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")
    # The same for autograd and torch.func, whose first use imports more of torch.
    x = torch.linspace(-1, 1, 4, dtype=torch.float64, requires_grad=True)
    y = torch.sin(x) * x
    torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y), create_graph=True)
    f = lambda t: (t ** 3).sum()  # noqa: E731
    torch.func.jvp(torch.sin, (x.detach(),), (x.detach(),)), torch.func.vjp(torch.sin, x.detach())
    torch.func.hessian(f)(x.detach()), torch.func.jacrev(torch.sin)(x.detach())
    torch.autograd.functional.jacobian(torch.sin, x.detach())
    with torch.autograd.forward_ad.dual_level():
        torch.autograd.forward_ad.make_dual(x.detach(), x.detach())
    torch.linalg.eigvalsh(torch.eye(2)), torch.linalg.solve(torch.eye(2), torch.ones(2)), torch.linalg.slogdet(torch.eye(2))
    repr(x), str(torch.ones(2, 2))

LIBC = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- Landlock (Linux >= 5.13)

_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                     5: (1 << 16) - 1}
_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights that apply to a file


def landlock_abi() -> int:
    return LIBC.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)


def landlock(read_only: list[str], read_write: list[str]) -> str:
    """Restrict this process to the given paths; say what was enforced."""
    abi = landlock_abi()
    if abi < 1:
        return "no Landlock on this kernel: filesystem not isolated"
    fs = _FS_RIGHTS_BY_ABI[min(abi, 5)]
    net = 0b11 if abi >= 4 else 0  # bind and connect on TCP: denied
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals outside the sandbox
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = LIBC.syscall(444, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return f"Landlock ruleset failed (errno {ctypes.get_errno()})"

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    for paths, rights in ((read_only, _READ), (read_write, fs)):
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            allowed = rights if os.path.isdir(path) else rights & _FILE_ONLY
            rule = PathBeneath(allowed & fs, fd)
            LIBC.syscall(445, ruleset, 1, ctypes.byref(rule), 0)
            os.close(fd)
    LIBC.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if LIBC.syscall(446, ruleset, 0) != 0:
        return f"Landlock restrict failed (errno {ctypes.get_errno()})"
    os.close(ruleset)
    return f"Landlock ABI {abi}: filesystem{', TCP' if net else ''}{', signals' if scoped else ''} isolated"


def readable_roots() -> list[str]:
    """Python, its packages, system libraries and the grader's own runtime: nothing else."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
             site.getusersitepackages(), os.path.dirname(runtime.__file__)}
    roots |= {"/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys/devices/system/cpu",
              "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"}
    return sorted(r for r in roots if os.path.exists(r))


# ---------------------------------------------------------------- the student process

class _Otter(types.ModuleType):
    """Stands in for otter inside the sandbox: the notebook's own checks are not graded."""

    class Notebook:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message, allow_nan=False).encode() + b"\n")


def _tell(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def _strip_magics(source: str) -> str:
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped[:1] in ("%", "!") else line)
    return "\n".join(lines)


def drop_capabilities() -> str:
    """Root without capabilities: no mount, reboot, raw sockets or overriding file modes."""
    for cap in range(64):
        LIBC.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if LIBC.syscall(126 if os.uname().machine == "x86_64" else 91, header, data) != 0:  # capset
        return f"capabilities kept (errno {ctypes.get_errno()})"
    return "root capabilities dropped"


_SECCOMP_ARCH = {"x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}),
                 "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435})}


def no_new_processes() -> str:
    """A seccomp filter: threads may be created (torch needs them), processes may not.

    fork, vfork and clone without CLONE_THREAD fail with EPERM; clone3 fails with ENOSYS so
    that the C library falls back to clone, whose flags the filter can read.
    """
    machine = os.uname().machine
    if machine not in _SECCOMP_ARCH:
        return f"no seccomp filter for {machine}: new processes allowed"
    arch, numbers = _SECCOMP_ARCH[machine]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    load, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    blocked = [numbers[n] for n in ("fork", "vfork") if n in numbers]
    n = len(blocked)
    # 0-3: wrong architecture -> allow; load the syscall number.  4..5+n: the tests, then the
    # returns: 6+n allow, 7+n EPERM, 8+n ENOSYS, 9+n.. clone: CLONE_THREAD set -> allow.
    # A jump of k skips k instructions.
    program = [(load, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, allow), (load, 0, 0, 0)]
    program += [(jeq, 2 + n - i, 0, number) for i, number in enumerate(blocked)]  # -> 7+n
    program += [(jeq, 3, 0, numbers["clone3"]), (jeq, 3, 0, numbers["clone"])]  # -> 8+n, 9+n
    program += [(ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, enosys),
                (load, 0, 0, 16), (jset, 0, 1, 0x00010000), (ret, 0, 0, allow), (ret, 0, 0, eperm)]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*instruction) for instruction in program])
    LIBC.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if LIBC.prctl(22, 2, ctypes.byref(Program(len(program), filters)), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        return f"seccomp failed (errno {ctypes.get_errno()}): new processes allowed"
    return "no new processes (seccomp)"


def isolate(request: dict) -> list[str]:
    """Steps 1-5 of the module docstring, in the freshly forked student process."""
    notes = []
    workdir, limits = request["workdir"], request["limits"]
    os.chdir(workdir)
    out = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0), os.dup2(out, 1), os.dup2(out, 2)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the output cap, writes fail instead
    memory = limits["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_mb"] << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"],) * 2)
    root = os.geteuid() == 0
    # CLONE_NEWNET (root), or a user namespace first (unprivileged): no interfaces but a down loopback.
    if LIBC.unshare(0x40000000 if root else 0x40000000 | 0x10000000) == 0:
        notes.append("network: none (a new namespace)")
    else:
        notes.append("network: no namespace; Landlock denies TCP where the kernel supports it")
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        os.environ[name] = workdir
    if root:
        notes.append(drop_capabilities())
    notes.append(landlock(readable_roots(), [workdir, "/dev/null"]))
    notes.append(no_new_processes())
    return notes


def student_process(request: dict, sock: socket.socket) -> None:
    runtime.install_guards(request["guards"])
    notes = isolate(request)
    sys.modules["otter"] = _Otter("otter")
    fixtures = runtime.load_fixtures(request["fixtures"])
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    cell_errors = []
    for index, source in request["cells"]:
        try:
            exec(compile(_strip_magics(source), f"<cell {index}>", "exec"), namespace)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: keep grading
            cell_errors.append({"cell": index, "error": f"{type(error).__name__}: {str(error)[:300]}"})
    torch.set_num_threads(1)
    _send(sock, {"ready": True, "cell_errors": cell_errors, "notes": notes})
    reader = sock.makefile("rb")
    for line in reader:
        spec = json.loads(line)
        try:
            reply = {"value": runtime.encode(runtime.call(namespace, spec, fixtures))}
        except BaseException as error:
            reply = {"error": runtime.describe_error(spec["fn"], error)}
        try:
            _send(sock, reply)
        except ValueError:  # a value JSON cannot carry
            _send(sock, {"value": {"object": "unserialisable value"}})


# ---------------------------------------------------------------- the worker

def worker(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)  # SOCK_SEQPACKET: one message per packet
    preload()
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
        header, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        if not header:
            return
        request = json.loads(header.decode())
        with open(request["request"]) as f:  # the code cells and fixtures, too big for a packet
            request.update(json.load(f))
        os.unlink(request["request"])
        pid = os.fork()
        if pid == 0:
            sock = socket.socket(fileno=fds[0])
            try:
                control.close()
                os.setsid()
                student_process(request, sock)
            except BaseException:
                import traceback
                traceback.print_exc()  # into the run's output.txt, which the grader logs
                os._exit(70)
            finally:
                os._exit(0)
        os.close(fds[0])
        _tell(control, {"started": pid})


if __name__ == "__main__":
    worker(int(sys.argv[1]))
