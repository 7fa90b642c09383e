"""The lock-down of a student process, in the order ``isolate`` applies it.

A student process is forked from a warm worker (``course.worker``) and, before it reads a
single byte of the submission, gets:

1. **Limits**: address space, CPU time, file size, open files, no core dumps.
2. **Namespaces**: a network namespace (no interface but a down loopback), and a mount, IPC
   and UTS namespace; as a non-root user, a user namespace first.
3. **A filesystem of its own** (mount namespace): a fresh root holding, read-only, Python,
   its packages, the system libraries and the course's runtime; a size-capped tmpfs as its
   home (its disk quota); a few device files.  No /proc, no /run, no /tmp, no home folders:
   no other submission, no plan, no key, no pathname socket (Docker's, ssh-agent's) exists there.
4. **An identity of its own**: as root (as on Gradescope), an unprivileged uid of its own
   with no groups and no capabilities; otherwise its user namespace.  ``RLIMIT_NPROC`` then
   caps its threads.
5. **Landlock** (Linux >= 5.13), as a second wall: reads only under the same folders, writes
   only in its home, no TCP, no signals or ptrace outside its domain (ABI >= 6).  Where it cannot
   scope signals and the process has no uid of its own, or where there is no seccomp, the
   process is the first of a PID namespace of its own: it sees and signals only its own
   descendants, and its death kills them all.
6. **seccomp**: no new processes (threads yes), no sockets, no ptrace, no namespaces, no
   mounts, no io_uring, no other architecture's system calls.
7. **An audit hook** (``Vault``), which Python cannot remove: the original forbidden APIs and
   the forbid state live in it, out of reach; what could reach them (gc's object walks,
   ctypes, other threads' frames, a second audit hook, /proc) is denied by raising, so only
   the call or cell that tried fails.

Each step says what it enforced as a ``Protection``; a step the kernel cannot do is reported,
never skipped silently.  The student process sends the list to the grader before it reads the
notebook (``course.worker``), so nothing the notebook does can change it.
"""

from __future__ import annotations

import _thread
import ctypes
import gc
import os
import resource
import signal
import site
import sys
import types
from dataclasses import dataclass

LIBC = ctypes.CDLL(None, use_errno=True)
MACHINE = os.uname().machine

CLONE_FILES, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00000400, 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
HOME = "/home/student"
SCRATCH_MB = 64  # the student's disk quota
MAX_TASKS = 64  # threads of one student process


# For tests only: the grader's environment can make this kernel look weaker, to prove what
# happens elsewhere ("landlock=5,userns=0,seccomp=0,user=65534": Landlock ABI at most 5, no
# user namespaces, no seccomp, every student process as that one ordinary uid).  Whatever it
# hides is reported as missing like a real kernel's gap, so it can never weaken a batch quietly.
WEAKER_KERNEL = dict(item.split("=", 1) for item in os.environ.get("COURSE_TEST_WEAKER_KERNEL", "").split(",")
                     if "=" in item)


@dataclass(frozen=True)
class Protection:
    """One step of the lock-down, as measured in the student process before it read anything:
    ``present`` False means the kernel (or the machine) could not provide it."""

    name: str  # "limits", "namespaces", ..., "signals", "descendants", "channel"
    present: bool
    detail: str

    def line(self) -> str:
        """As ``grading.log`` and the gradebook write it: a missing one starts with "NO "."""
        return self.detail if self.present else "NO " + self.detail


def _errno() -> str:
    return os.strerror(ctypes.get_errno())


def landlock_abi() -> int:
    """The kernel's Landlock ABI (0: none), as this machine (or the test's emulation) has it."""
    abi = max(0, LIBC.syscall(444, None, 0, 1))  # landlock_create_ruleset(NULL, 0, VERSION)
    return min(abi, int(WEAKER_KERNEL.get("landlock", abi)))


def seccomp_possible() -> bool:
    return MACHINE in _SYSCALLS_BY_MACHINE and WEAKER_KERNEL.get("seccomp") != "0"


# ---------------------------------------------------------------- 1. limits


def set_limits(limits: dict) -> None:
    memory = limits["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_mb"] << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


# ---------------------------------------------------------------- 2-4. namespaces, a root of its own, an identity


def readable_roots(runtime_dirs: list[str]) -> list[str]:
    """Python, its packages, system libraries and the course's runtime: nothing else."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *runtime_dirs}
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        roots.add(user_site)
    roots |= {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/sys/devices/system/cpu",
              "/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
              "/etc/fonts"}
    found = sorted(r for r in roots if r and os.path.exists(r))
    return [r for r in found if not any(r != other and r.startswith(other.rstrip("/") + "/") for other in found)]


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if LIBC.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                  data and data.encode()) != 0:
        raise OSError(ctypes.get_errno(), f"mount {source or ''} on {target}: {_errno()}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces(pid_namespace: bool) -> tuple[bool, bool, list[Protection]]:
    """A mount, network, IPC and UTS namespace (and a user namespace when not root); with
    ``pid_namespace``, a PID namespace too, of which this process then becomes the first
    process (``_become_first_process``).  Returns (mounts are private, in a PID namespace of
    its own, what was done)."""
    uid, gid = os.getuid(), os.getgid()
    user = uid != 0
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWUSER if user else 0)
    refused = user and WEAKER_KERNEL.get("userns") == "0"
    if not refused and LIBC.unshare(flags | (CLONE_NEWPID if pid_namespace else 0)) == 0:
        if user:  # the same uid inside, so that our files stay ours
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        if pid_namespace:
            _become_first_process()
        return True, pid_namespace, [Protection("namespaces", True, "namespaces: mount, network (none), IPC, UTS"
                                                + (", user" if user else "") + (", PID" if pid_namespace else ""))]
    problem = "user namespaces are not available" if refused else _errno()
    if not refused and LIBC.unshare(CLONE_NEWNET | (CLONE_NEWUSER if user else 0)) == 0:
        return False, False, [Protection("namespaces", False, f"mount namespace ({problem}): no private filesystem, "
                                                              "no disk quota; network: none")]
    return False, False, [Protection("namespaces", False, f"namespaces ({problem}): network reachable where "
                                                          "Landlock cannot deny it")]


def _become_first_process() -> None:
    """Fork into the new PID namespace.  The child, its first process, goes on as the student
    process: it sees and signals only its own descendants, and when it ends the kernel kills
    them all.  This process only waits for it and ends the same way, so that the worker learns
    how the student process ended."""
    pid = os.fork()
    if pid == 0:
        LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: dies with the process waiting for it
        os.setsid()  # a group of its own: kill(0) reaches nothing outside
        return
    os.closerange(0, 1 << 16)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


def private_root(base: str, runtime_dirs: list[str], owner: int) -> str:
    """Mount a fresh root on ``base`` (an empty folder of the grader's), with the readable roots
    bound read-only and a size-capped home, and move into it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    for path in readable_roots(runtime_dirs):
        target = base + path
        if os.path.islink(path) and os.path.dirname(path) == "/":  # /bin -> usr/bin, /lib -> usr/lib
            os.symlink(os.readlink(path), target)
            continue
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").close()
        _mount(path, target, None, MS_BIND | MS_REC)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.makedirs(base + "/dev")
    for device in ("null", "zero", "urandom", "random"):
        open(f"{base}/dev/{device}", "w").close()
        _mount(f"/dev/{device}", f"{base}/dev/{device}", None, MS_BIND)
    os.makedirs(base + HOME)
    _mount("tmpfs", base + HOME, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={SCRATCH_MB}m,mode=700")
    os.chown(base + HOME, owner, owner)
    os.makedirs(base + "/.old")
    if LIBC.syscall(_SYSCALLS["pivot_root"], base.encode(), (base + "/.old").encode()) != 0:
        raise OSError(ctypes.get_errno(), f"pivot_root: {_errno()}")
    os.chdir("/")
    if LIBC.umount2(b"/.old", 2) != 0:  # MNT_DETACH
        raise OSError(ctypes.get_errno(), f"umount the old root: {_errno()}")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return HOME


def maps_uid(uid: int) -> bool:
    """Whether this user namespace has ``uid`` (a rootless container maps root alone)."""
    try:
        with open("/proc/self/uid_map") as f:
            ranges = [tuple(int(n) for n in line.split()) for line in f if line.strip()]
    except OSError:
        return False
    return any(inside <= uid < inside + count for inside, _outside, count in ranges)


def own_uid(student_uid: int) -> bool:
    """As root with the student's uid mapped, the student process runs under that uid."""
    return os.getuid() == 0 and maps_uid(student_uid)


def drop_privileges(student_uid: int | None) -> Protection:
    """Root becomes ``student_uid``, an unprivileged uid of its own (None: there is none to
    switch to); anyone loses every capability."""
    for cap in range(64):
        LIBC.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    capped = True
    if student_uid is not None:
        os.setgroups([])
        os.setresgid(student_uid, student_uid, student_uid)
        os.setresuid(student_uid, student_uid, student_uid)
        identity = "an unprivileged uid of its own, no groups, no capabilities"
    else:
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = (ctypes.c_uint32 * 6)()
        LIBC.syscall(_SYSCALLS["capset"], header, data)
        if os.getuid() == 0:  # root of a namespace that maps no other uid: its count is everyone's
            identity, capped = "uid of its own (a user namespace that maps root alone): no capabilities", False
        else:
            identity = "its own user namespace, no capabilities"
    if capped:
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
    LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: a change of uid cleared it
    if not capped:
        return Protection("identity", False, f"{identity}; threads not capped")
    return Protection("identity", True, f"identity: {identity}; at most {MAX_TASKS} threads")


# ---------------------------------------------------------------- 5. Landlock

_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                     5: (1 << 16) - 1}
_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights that apply to a file


def landlock(abi: int, read_only: list[str], read_write: list[str]) -> Protection:
    if abi < 1:
        return Protection("landlock", False, "Landlock on this kernel")
    fs = _FS_RIGHTS_BY_ABI[min(abi, 5)]
    net = 0b11 if abi >= 4 else 0  # TCP bind and connect: denied
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals outside the domain
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    ruleset = LIBC.syscall(444, ctypes.byref(attr), 24 if abi >= 6 else 16 if abi >= 4 else 8, 0)
    if ruleset < 0:
        return Protection("landlock", False, f"Landlock (ruleset: {_errno()})")

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
            LIBC.syscall(445, ruleset, 1, ctypes.byref(PathBeneath(allowed & fs, fd)), 0)
            os.close(fd)
    LIBC.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if LIBC.syscall(446, ruleset, 0) != 0:
        return Protection("landlock", False, f"Landlock (restrict: {_errno()})")
    os.close(ruleset)
    return Protection("landlock", True, f"Landlock ABI {abi}: reads, writes{', TCP' if net else ''}"
                                        f"{', signals' if scoped else ''} confined")


# ---------------------------------------------------------------- 6. seccomp

_SYSCALLS_BY_MACHINE = {
    "x86_64": dict(fork=57, vfork=58, clone=56, clone3=435, socket=41, socketpair=53, ptrace=101,
                   process_vm_readv=310, process_vm_writev=311, unshare=272, setns=308, mount=165,
                   umount2=166, pivot_root=155, chroot=161, bpf=321, perf_event_open=298, userfaultfd=323,
                   keyctl=250, add_key=248, request_key=249, kexec_load=246, init_module=175,
                   finit_module=313, delete_module=176, name_to_handle_at=303, open_by_handle_at=304,
                   io_uring_setup=425, io_uring_enter=426, io_uring_register=427, open_tree=428,
                   move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
                   pidfd_getfd=438, capset=126),
    "aarch64": dict(clone=220, clone3=435, socket=198, socketpair=199, ptrace=117, process_vm_readv=270,
                    process_vm_writev=271, unshare=97, setns=268, mount=40, umount2=39, pivot_root=41,
                    chroot=51, bpf=280, perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217,
                    request_key=218, kexec_load=104, init_module=105, finit_module=273, delete_module=106,
                    name_to_handle_at=264, open_by_handle_at=265, io_uring_setup=425, io_uring_enter=426,
                    io_uring_register=427, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
                    fsmount=432, fspick=433, mount_setattr=442, pidfd_getfd=438, capset=91),
}
_SYSCALLS = _SYSCALLS_BY_MACHINE.get(MACHINE, {})
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_DENIED = ("fork", "vfork", "socket", "socketpair", "ptrace", "process_vm_readv", "process_vm_writev",
           "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
           "userfaultfd", "keyctl", "add_key", "request_key", "kexec_load", "init_module", "finit_module",
           "delete_module", "name_to_handle_at", "open_by_handle_at", "io_uring_setup", "io_uring_enter",
           "io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
           "mount_setattr", "pidfd_getfd")


def seccomp_program() -> list[tuple[int, int, int, int]]:
    """The BPF filter as (code, jump if true, jump if false, k).  A system call of another
    architecture (i386 through int 0x80, x32) kills the process; the denied calls fail with
    EPERM; clone3 fails with ENOSYS so that the C library falls back to clone, whose flags the
    filter can read: clone with CLONE_THREAD (a thread) passes, any other clone fails; unshare
    passes with CLONE_FILES alone (a descriptor table of one's own), and fails otherwise."""
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x00050000 | 1, 0x00050000 | 38
    denied = [_SYSCALLS[name] for name in _DENIED if name in _SYSCALLS]
    # Labels are resolved below: ("jump", code, k, true_label, false_label).
    body: list = [(load, 0, 0, 4), ("jump", jeq, _AUDIT_ARCH[MACHINE], "arch_ok", "kill"), ("label", "arch_ok"),
                  (load, 0, 0, 0)]
    if MACHINE == "x86_64":
        body.append(("jump", jge, 0x40000000, "deny", "next_x32"))
        body.append(("label", "next_x32"))
    for number in denied:
        body += [("jump", jeq, number, "deny", f"after_{number}"), ("label", f"after_{number}")]
    # unshare: only CLONE_FILES (a thread's own descriptor table: ``course.worker``'s runner)
    body += [("jump", jeq, _SYSCALLS["unshare"], "unshare", "not_unshare"), ("label", "not_unshare")]
    body += [("jump", jeq, _SYSCALLS["clone3"], "nosys", "not_clone3"), ("label", "not_clone3"),
             ("jump", jeq, _SYSCALLS["clone"], "clone", "allow"),
             ("label", "allow"), (ret, 0, 0, allow), ("label", "deny"), (ret, 0, 0, eperm),
             ("label", "nosys"), (ret, 0, 0, enosys), ("label", "kill"), (ret, 0, 0, kill),
             ("label", "clone"), (load, 0, 0, 16), ("jump", jset, 0x00010000, "allow_thread", "deny_clone"),
             ("label", "allow_thread"), (ret, 0, 0, allow), ("label", "deny_clone"), (ret, 0, 0, eperm),
             ("label", "unshare"), (load, 0, 0, 16), ("jump", jeq, CLONE_FILES, "allow_files", "deny_unshare"),
             ("label", "allow_files"), (ret, 0, 0, allow), ("label", "deny_unshare"), (ret, 0, 0, eperm)]
    positions, index = {}, 0
    for item in body:
        if item[0] == "label":
            positions[item[1]] = index
        else:
            index += 1
    program, index = [], 0
    for item in body:
        if item[0] == "label":
            continue
        if item[0] == "jump":
            _, code, k, true, false = item
            program.append((code, positions[true] - index - 1, positions[false] - index - 1, k))
        else:
            program.append(item)
        index += 1
    return program


def seccomp() -> Protection:
    if MACHINE not in _SYSCALLS_BY_MACHINE:
        return Protection("seccomp", False, f"seccomp filter for {MACHINE}: new processes and sockets allowed")
    if not seccomp_possible():
        return Protection("seccomp", False, "seccomp (not available): new processes and sockets allowed")

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Filter))]

    program = seccomp_program()
    filters = (Filter * len(program))(*[Filter(*instruction) for instruction in program])
    LIBC.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if LIBC.prctl(22, 2, ctypes.byref(Program(len(program), filters)), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        return Protection("seccomp", False, f"seccomp ({_errno()}): new processes and sockets allowed")
    return Protection("seccomp", True, "seccomp: no processes, sockets, ptrace, namespaces, mounts or foreign system calls")


def own_descriptors(channel: int, others: list[int]) -> Protection:
    """In the thread that will run the notebook (and so in every thread it starts): a table of
    descriptors of its own, without the grader's channel and ``others``.  Only the grader's
    thread can then read a case or write a reply."""
    if LIBC.unshare(CLONE_FILES) != 0:
        return Protection("channel", False, f"channel not confined ({_errno()}): the notebook's threads can "
                                            "read and write it")
    for fd in (channel, *others):
        os.close(fd)
    return Protection("channel", True, "channel: out of the notebook's reach (a descriptor table of its own)")


# ---------------------------------------------------------------- 7. the vault


class Vault:
    """An audit hook holding the original forbidden APIs and the forbid stack.

    Python cannot remove an audit hook or list the installed ones, and audit hooks are not
    traced.  The hook answers guards (``course.api``) and the sealed case code of the student
    process (``course.forbid``/``course.permit``, from one code object registered here) with
    references it captured when the worker started, so that patching a module, a builtin or a
    global changes nothing it decides.  It denies, by raising in the student's code, what could
    reach its state: gc's object walks, ctypes, other threads' frames, a second audit hook, the
    C test modules, /proc, and its own frames in a traceback.  Curiosity stays free: help(),
    inspect, tracebacks, cProfile and debuggers work; a guard refuses only while a Python-level
    trace or profile function could see its frame.
    """

    DENIED = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames", "sys.addaudithook")
    DENIED_IMPORTS = ("_testcapi", "_testinternalcapi", "_testbuffer", "_testmultiphase", "_xxsubinterpreters",
                      "_xxinterpchannels", "_testsinglephase", "_testclinic")

    @staticmethod
    def install(guards: types.ModuleType, locale: str, forbid_code: types.CodeType) -> None:
        """In the worker, after ``guards.install_guards`` (``locale``: the runtime's catalogues): move the originals in; ``forbid_code``
        is the only code that may forbid and permit.  ``lock`` (in the student process, once
        its set-up is done) starts the denials."""
        import torch
        originals = dict(guards._originals)
        guards._originals.clear()
        guard_code = guards._guard("torch").__code__
        machinery = {api: tuple(more) for api, more in guards.MACHINERY.items()}
        # Where each guard lives, as the very dict the attribute is looked up in: a guard
        # replaced by anything is seen at the next forbidding call.
        places = []
        for qualname in originals:
            owner, attr = guards._resolve(qualname)
            place = owner.__dict__
            places.append((place, attr, place.get(attr), qualname))
        set_grad = originals.get("torch._C._set_grad_enabled", torch._C._set_grad_enabled)
        grad_enabled, enter_dual = torch.is_grad_enabled, originals.get("torch._C._enter_dual_level",
                                                                          torch._C._enter_dual_level)
        exit_dual, functorch_level = torch._C._exit_dual_level, torch._C._functorch.maybe_current_level
        refusal = guards.refusal
        gettrace, getprofile = sys.gettrace, sys.getprofile
        import _lsprof
        c_profiler = _lsprof.Profiler  # cProfile: its callback is C and shows no frame to Python
        getframe, thread_count, thread_id = sys._getframe, _thread._count, _thread.get_ident
        gc_enabled, gc_disable, gc_enable = gc.isenabled, gc.disable, gc.enable
        str_type, list_type, frozen = str, list, frozenset
        import gettext
        korean = gettext.translation("course", locale, ["ko"], fallback=True)
        catalogues = {"en": {}, "ko": dict(getattr(korean, "_catalog", {}))}  # copied: no one else's to change
        stack: list = []  # (token, apis, message, "it called", grad mode before)
        state: dict = {"locked": False, "busy": False, "runner": None, "language": "en"}

        def _(text: str) -> str:  # the course's catalogue, as copied when the worker started
            return catalogues[state["language"]].get(text, text)

        def traced() -> bool:
            profile = getprofile()
            return gettrace() is not None or (profile is not None and not issubclass(type(profile), c_profiler))

        def unsafe() -> str:
            """Why a forbidding call cannot start now ('' when it can)."""
            if state["runner"] is not None and (thread_id() != state["runner"] or thread_count() != 1):
                return _("not run: a thread the notebook started is still running, and a function with forbidden "
                          "APIs runs alone; join your threads (t.join(), or a `with ThreadPoolExecutor(...)` block)")
            if traced():
                return _("not run: sys.settrace or sys.setprofile is on; turn the debugger or Python-level "
                          "profiler off (cProfile is fine)")
            if functorch_level() is not None:
                return _("not run: a torch.func transform (grad, vmap, jvp) was entered and never left")
            try:
                level = enter_dual()
            except RuntimeError:
                return _("not run: a forward-mode AD level is still open (leave every dual_level() you enter)")
            exit_dual(level=level)
            for place, attr, guard, qualname in places:
                if place.get(attr) is not guard:
                    return _("not run: the grader's guard for {api} was replaced").format(api=qualname)
            return ""

        def denial(what: str) -> PermissionError:
            # Built here, raised by the hook itself: a traceback then holds the hook's frame
            # only, whose ``tb_frame`` the hook refuses to hand out.
            return PermissionError(f"the notebook {what}: the sandbox stopped it")

        def hook(event: str, args: tuple) -> None:
            if state["busy"]:
                return
            collecting = gc_enabled()
            gc_disable()  # no finalizer of the student's runs while this frame holds the originals
            state["busy"] = True
            try:
                if event == "course.api":
                    qualname, box, harmless = args
                    if getframe(1).f_code is not guard_code or type(qualname) is not str_type \
                            or type(box) is not list_type or qualname not in originals:
                        raise denial("asked the vault for an original API")
                    if state["locked"] and traced():
                        return box.append(refusal(_(
                            "{api} does not run under sys.settrace or sys.setprofile (a debugger or a Python-level "
                            "profiler): turn it off, or use cProfile").format(api=qualname)))
                    for _token, apis, message, it_called, _grad in reversed(stack):
                        if qualname in apis and harmless is not True:
                            return box.append(refusal(message + ": " + it_called + " " + qualname))
                    box.append(originals[qualname])
                elif event == "course.forbid":
                    token, apis, fn, because, language, box = args
                    if getframe(1).f_code is not forbid_code or type(box) is not list_type or type(apis) is not list_type \
                            or not (type(fn) is type(because) is type(language) is str_type):
                        raise denial("tried to change the forbidden APIs")
                    state["language"] = language if language in catalogues else "en"
                    message = _("{fn} must not {because}").format(fn=fn, because=_(because))
                    expanded = set()
                    for api in apis:
                        if type(api) is str_type:
                            expanded.add(api)
                            expanded.update(machinery.get(api, ()))
                    why = unsafe() if state["locked"] else ""
                    if why:
                        return box.append(why)
                    was = grad_enabled()
                    if "torch._C._set_grad_enabled" in expanded:
                        set_grad(False)
                    stack.append((token, frozen(expanded), message, _("it called"), was))
                elif event == "course.permit":
                    if getframe(1).f_code is not forbid_code:
                        raise denial("tried to change the forbidden APIs")
                    for index in range(len(stack) - 1, -1, -1):
                        if stack[index][0] is args[0]:
                            set_grad(stack.pop(index)[4])
                            break
                elif event == "course.lock":
                    if not state["locked"]:
                        state["locked"], state["runner"] = True, args[0]
                elif not state["locked"]:
                    return
                elif event in Vault.DENIED:
                    raise denial(f"used {event}")
                elif event.startswith("ctypes."):
                    raise denial(f"used ctypes ({event})")
                elif event == "import" and args[0] in Vault.DENIED_IMPORTS:
                    raise denial(f"imported {args[0]}")
                elif event == "open" and type(args[0]) in (str_type, bytes):
                    path = args[0] if type(args[0]) is str_type else str(args[0], "utf-8", "replace")
                    if str.startswith(path, "/proc"):
                        raise denial(f"opened {path}")
                elif event == "object.__getattr__" and args[1] == "tb_frame" and args[0].tb_frame.f_code is hook_code:
                    raise denial("read the sandbox's own frame")
            finally:
                state["busy"] = False
                if collecting:
                    gc_enable()

        hook_code = hook.__code__
        sys.addaudithook(hook)
        setattr(guards, "_VAULT", True)  # from now on every guard asks the vault

    @staticmethod
    def lock(runner: int) -> None:
        """From now on the vault denies what could reach it, and only the thread ``runner``
        (the one that runs the notebook, alone) may forbid."""
        sys.audit("course.lock", runner)


# ---------------------------------------------------------------- all of it, in order


def isolate(limits: dict, base: str, student_uid: int, runtime_dirs: list[str], fallback_home: str) -> list[Protection]:
    """Steps 1-6 of the module docstring, in the freshly forked student process; chdir into its
    home.  ``base``: an empty folder of the grader's to mount the private root on;
    ``fallback_home``: the folder to work in when there is no private root."""
    set_limits(limits)
    protections = [Protection("limits", True, "limits: memory, CPU time, output, open files; no core dumps")]
    ordinary = WEAKER_KERNEL.get("user")
    if ordinary and os.getuid() == 0:  # tests: an ordinary user, the same for every student process
        uid = int(ordinary)
        os.chown(fallback_home, uid, uid)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        LIBC.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, as a process an ordinary user started is
        LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: a change of uid cleared it
    switch = own_uid(student_uid)  # asked before the private root hides /proc
    abi, filtered = landlock_abi(), seccomp_possible()
    # Signals: Landlock scopes them from ABI 6, a uid of its own keeps them from everyone else's
    # processes; otherwise a PID namespace.  Descendants: seccomp allows none; otherwise a PID
    # namespace, whose first process takes every descendant with it when it ends.
    private, first, found = enter_namespaces(pid_namespace=(abi < 6 and not switch) or not filtered)
    protections += found
    home = None
    if private and base:
        try:
            home = private_root(base, runtime_dirs, student_uid if switch else os.getuid())
            protections.append(Protection("filesystem", True, f"filesystem: a private root (Python, libraries, runtime, "
                                                              f"read-only); home: {SCRATCH_MB} MB tmpfs"))
        except OSError as error:
            protections.append(Protection("filesystem", False, f"private filesystem ({error}): Landlock only, no disk quota"))
    if home is None:
        home = fallback_home
        if switch:
            os.chown(home, student_uid, student_uid)
    protections.append(drop_privileges(student_uid if switch else None))
    os.chdir(home)
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        os.environ[name] = home
    walls = landlock(abi, readable_roots(runtime_dirs), [home, "/dev/null"])
    protections += [walls, seccomp()]
    if walls.present and abi >= 6:
        protections.append(Protection("signals", True, "signals: confined by Landlock"))
    elif first:
        protections.append(Protection("signals", True, "signals: only to its own descendants (a PID namespace of its own)"))
    elif switch:
        protections.append(Protection("signals", True, "signals: only to its own processes (a uid of its own)"))
    else:
        protections.append(Protection("signals", False, "signals not confined: it can signal every process of "
                                                        "the grader's user, its neighbours included"))
    if protections[-2].present:
        protections.append(Protection("descendants", True, "descendants: none (seccomp)"))
    elif first:
        protections.append(Protection("descendants", True, "descendants: killed with it (first process of its "
                                                           "PID namespace)"))
    else:
        protections.append(Protection("descendants", False, "descendants not confined: a process it starts can "
                                                            "outlive the batch"))
    return protections
