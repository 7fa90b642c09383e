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
   only in its home, no TCP, no signals or ptrace outside its domain.
6. **seccomp**: no new processes (threads yes), no sockets, no ptrace, no namespaces, no
   mounts, no io_uring, no other architecture's system calls.
7. **An audit hook** (``Vault``), which Python cannot remove: the original forbidden APIs and
   the forbid state live in it, out of reach; introspection that could reach them (gc,
   ctypes, tracing, a second audit hook, the guards' code) ends the process with a note.

Each step says what it enforced; a step the kernel cannot do is reported, never skipped
silently: the notes go to ``grading.log`` and the gradebook's header.
"""

from __future__ import annotations

import ctypes
import os
import resource
import site
import socket
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
MACHINE = os.uname().machine

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
HOME = "/home/student"
SCRATCH_MB = 64  # the student's disk quota
MAX_TASKS = 64  # threads of one student process


def _errno() -> str:
    return os.strerror(ctypes.get_errno())


# ---------------------------------------------------------------- 1. limits


def set_limits(limits: dict) -> None:
    memory = limits["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_mb"] << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


# ---------------------------------------------------------------- 2-4. namespaces, a root of its own, an identity


def readable_roots(runtime_dir: str) -> list[str]:
    """Python, its packages, system libraries and the course's runtime: nothing else."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), runtime_dir}
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


def enter_namespaces() -> tuple[bool, list[str]]:
    """A mount, network, IPC and UTS namespace (and a user namespace when not root)."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if uid != 0:
        flags |= CLONE_NEWUSER
    if LIBC.unshare(flags) == 0:
        if uid != 0:  # the same uid inside, so that our files stay ours
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        return True, ["namespaces: mount, network (none), IPC, UTS" + ("" if uid == 0 else ", user")]
    problem = _errno()
    if LIBC.unshare(CLONE_NEWNET | (CLONE_NEWUSER if uid != 0 else 0)) == 0:
        return False, [f"NO mount namespace ({problem}): no private filesystem, no disk quota; network: none"]
    return False, [f"NO namespaces ({problem}): network reachable where Landlock cannot deny it"]


def private_root(base: str, runtime_dir: str, owner: int) -> str:
    """Mount a fresh root on ``base`` (an empty folder of the grader's), with the readable roots
    bound read-only and a size-capped home, and move into it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    for path in readable_roots(runtime_dir):
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
    _mount("tmpfs", base + HOME, "tmpfs", MS_NOSUID | MS_NODEV, f"size={SCRATCH_MB}m,mode=700")
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


def drop_privileges(student_uid: int | None) -> str:
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
            identity, capped = "NO uid of its own (a user namespace that maps root alone): no capabilities", False
        else:
            identity = "its own user namespace, no capabilities"
    if capped:
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_TASKS, MAX_TASKS))
    LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: a change of uid cleared it
    if not capped:
        return f"{identity}; threads not capped"
    return f"identity: {identity}; at most {MAX_TASKS} threads"


# ---------------------------------------------------------------- 5. Landlock

_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                     5: (1 << 16) - 1}
_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights that apply to a file


def landlock(read_only: list[str], read_write: list[str]) -> str:
    abi = LIBC.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)
    if abi < 1:
        return "NO Landlock on this kernel"
    fs = _FS_RIGHTS_BY_ABI[min(abi, 5)]
    net = 0b11 if abi >= 4 else 0  # TCP bind and connect: denied
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals outside the domain
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    ruleset = LIBC.syscall(444, ctypes.byref(attr), 24 if abi >= 6 else 16 if abi >= 4 else 8, 0)
    if ruleset < 0:
        return f"NO Landlock (ruleset: {_errno()})"

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
        return f"NO Landlock (restrict: {_errno()})"
    os.close(ruleset)
    return f"Landlock ABI {abi}: reads, writes{', TCP' if net else ''}{', signals' if scoped else ''} confined"


# ---------------------------------------------------------------- 6. seccomp

_SYSCALLS_BY_MACHINE = {
    "x86_64": dict(fork=57, vfork=58, clone=56, clone3=435, socket=41, socketpair=53, ptrace=101,
                   process_vm_readv=310, process_vm_writev=311, unshare=272, setns=308, mount=165,
                   umount2=166, pivot_root=155, chroot=161, bpf=321, perf_event_open=298, userfaultfd=323,
                   keyctl=250, add_key=248, request_key=249, kexec_load=246, init_module=175,
                   finit_module=313, delete_module=176, name_to_handle_at=303, open_by_handle_at=304,
                   io_uring_setup=425, io_uring_enter=426, io_uring_register=427, open_tree=428,
                   move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
                   capset=126),
    "aarch64": dict(clone=220, clone3=435, socket=198, socketpair=199, ptrace=117, process_vm_readv=270,
                    process_vm_writev=271, unshare=97, setns=268, mount=40, umount2=39, pivot_root=41,
                    chroot=51, bpf=280, perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217,
                    request_key=218, kexec_load=104, init_module=105, finit_module=273, delete_module=106,
                    name_to_handle_at=264, open_by_handle_at=265, io_uring_setup=425, io_uring_enter=426,
                    io_uring_register=427, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
                    fsmount=432, fspick=433, mount_setattr=442, capset=91),
}
_SYSCALLS = _SYSCALLS_BY_MACHINE.get(MACHINE, {})
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_DENIED = ("fork", "vfork", "socket", "socketpair", "ptrace", "process_vm_readv", "process_vm_writev",
           "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
           "userfaultfd", "keyctl", "add_key", "request_key", "kexec_load", "init_module", "finit_module",
           "delete_module", "name_to_handle_at", "open_by_handle_at", "io_uring_setup", "io_uring_enter",
           "io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
           "mount_setattr")


def seccomp_program() -> list[tuple[int, int, int, int]]:
    """The BPF filter as (code, jump if true, jump if false, k).  A system call of another
    architecture (i386 through int 0x80, x32) kills the process; the denied calls fail with
    EPERM; clone3 fails with ENOSYS so that the C library falls back to clone, whose flags the
    filter can read: clone with CLONE_THREAD (a thread) passes, any other clone fails."""
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
    body += [("jump", jeq, _SYSCALLS["clone3"], "nosys", "not_clone3"), ("label", "not_clone3"),
             ("jump", jeq, _SYSCALLS["clone"], "clone", "allow"),
             ("label", "allow"), (ret, 0, 0, allow), ("label", "deny"), (ret, 0, 0, eperm),
             ("label", "nosys"), (ret, 0, 0, enosys), ("label", "kill"), (ret, 0, 0, kill),
             ("label", "clone"), (load, 0, 0, 16), ("jump", jset, 0x00010000, "allow_thread", "deny_clone"),
             ("label", "allow_thread"), (ret, 0, 0, allow), ("label", "deny_clone"), (ret, 0, 0, eperm)]
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


def seccomp() -> str:
    if MACHINE not in _SYSCALLS_BY_MACHINE:
        return f"NO seccomp filter for {MACHINE}: new processes and sockets allowed"

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Filter))]

    program = seccomp_program()
    filters = (Filter * len(program))(*[Filter(*instruction) for instruction in program])
    LIBC.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if LIBC.prctl(22, 2, ctypes.byref(Program(len(program), filters)), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        return f"NO seccomp ({_errno()}): new processes and sockets allowed"
    return "seccomp: no processes, sockets, ptrace, namespaces, mounts or foreign system calls"


# ---------------------------------------------------------------- 7. the vault


class Vault:
    """An audit hook holding the original forbidden APIs and the forbid stack.

    Python cannot remove an audit hook or list the installed ones, and the hook never raises
    (an exception leaving it would carry its frame, and the frame its variables): it answers
    the guards through the box they pass, and ends the process, with a note to the grader,
    on any attempt to reach it (gc's object walks, ctypes, tracing or profiling functions, a
    second audit hook, the guards' code objects, C test modules, /proc).
    """

    FATAL = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace", "sys.setprofile",
             "sys.addaudithook", "sys._current_frames", "sys.monitoring.register_callback",
             "sys.monitoring.set_events", "sys.monitoring.set_local_events")
    FATAL_IMPORTS = ("_testcapi", "_testinternalcapi", "_testbuffer", "_testmultiphase", "_xxsubinterpreters",
                     "_xxinterpchannels", "_testsinglephase", "_testclinic")

    @staticmethod
    def install(runtime) -> None:
        """In the worker, after ``runtime.install_guards``: move the originals in, then lock
        (``lock`` is called by the student process once its own set-up is done)."""
        originals = dict(runtime._originals)
        runtime._originals.clear()
        guard_code = runtime._guard("torch").__code__
        forbid_code = runtime.forbid.__wrapped__.__code__
        guards = {id(getattr(*runtime._resolve(q))) for q in originals}
        stack: list = []
        state = {"locked": False, "busy": False, "fd": -1}

        def end(reason: str) -> None:
            try:
                os.write(state["fd"], _fatal_message(reason))
            finally:
                os._exit(77)

        def hook(event: str, args: tuple) -> None:
            if state["busy"]:
                return
            state["busy"] = True
            try:
                if event == "course.api":
                    qualname, box, harmless = args
                    if sys._getframe(1).f_code is not guard_code:
                        return end("asked the vault for an original API")
                    for _token, apis, message in stack:
                        if qualname in apis and not harmless:
                            box.append(message)
                            return
                    box.append(originals[qualname])
                elif event == "course.forbid" or event == "course.permit":
                    if sys._getframe(1).f_code is not forbid_code:
                        return end("changed the forbidden APIs")
                    if event == "course.forbid":
                        token, apis, message = args
                        stack.append((token, apis, message))
                    else:
                        stack[:] = [entry for entry in stack if entry[0] is not args[0]]
                elif event == "course.lock":
                    if not state["locked"]:
                        state["locked"], state["fd"] = True, args[0]
                elif not state["locked"]:
                    return
                elif event in Vault.FATAL or event.startswith("ctypes."):
                    return end(f"used {event}")
                elif event == "import" and args[0] in Vault.FATAL_IMPORTS:
                    return end(f"imported {args[0]}")
                elif event == "open" and isinstance(args[0], str) and args[0].startswith("/proc"):
                    return end(f"opened {args[0]}")
                elif event == "object.__getattr__" and args[1] in ("__code__", "f_code"):
                    target = args[0]
                    if args[1] == "__code__" and id(target) in guards:
                        return end("read a guard's code")
                    if args[1] == "f_code" and target.f_code is guard_code:
                        return end("read a guard's code")
            except BaseException as error:  # a fault of ours: never let it carry the frame out
                end(f"the grader's vault failed ({type(error).__name__})")
            finally:
                state["busy"] = False

        sys.addaudithook(hook)
        runtime._VAULT = True

    @staticmethod
    def lock(channel: socket.socket) -> None:
        """From now on the vault ends the process on any attempt to reach it (with a note on
        ``channel``)."""
        sys.audit("course.lock", channel.fileno())


def _fatal_message(reason: str) -> bytes:
    from course import protocol
    return protocol.encode({"fatal": f"the notebook {reason}: the sandbox stopped it"})


# ---------------------------------------------------------------- all of it, in order


def isolate(limits: dict, base: str, student_uid: int, runtime_dir: str, fallback_home: str) -> list[str]:
    """Steps 1-6 of the module docstring, in the freshly forked student process; chdir into its
    home.  ``base``: an empty folder of the grader's to mount the private root on;
    ``fallback_home``: the folder to work in when there is no private root."""
    notes = []
    set_limits(limits)
    switch = own_uid(student_uid)  # asked before the private root hides /proc
    private, found = enter_namespaces()
    notes += found
    home = None
    if private and base:
        try:
            home = private_root(base, runtime_dir, student_uid if switch else os.getuid())
            notes.append(f"filesystem: a private root (Python, libraries, runtime, read-only); home: {SCRATCH_MB} MB tmpfs")
        except OSError as error:
            notes.append(f"NO private filesystem ({error}): Landlock only, no disk quota")
    if home is None:
        home = fallback_home
        if switch:
            os.chown(home, student_uid, student_uid)
    notes.append(drop_privileges(student_uid if switch else None))
    os.chdir(home)
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        os.environ[name] = home
    notes.append(landlock(readable_roots(runtime_dir), [home, "/dev/null"]))
    notes.append(seccomp())
    return notes
