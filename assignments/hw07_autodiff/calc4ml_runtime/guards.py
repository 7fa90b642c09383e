"""Forbidden APIs: the lists questions name, and the guards that refuse them while a call
forbids them (``forbid``).  Outside the hardened grader (otter, the build) this module keeps the
guards' state; in the hardened grader the sandbox's vault keeps it (``course.grade.sandbox``)."""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Any, Callable, Iterable, Iterator, NoReturn

import torch

from .messages import _


JACOBIAN_HELPERS = (
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.hessian",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    "torch.func.hessian",
)
# The helpers above, and vmap, the function transform that every one of them runs on.
FULL_MATRIX_APIS = JACOBIAN_HELPERS + ("torch.func.vmap", "torch.vmap")
# All of autograd: a backward pass written by hand, or a derivative derived by hand.
AUTOGRAD_APIS = FULL_MATRIX_APIS + (
    "torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward",
    "torch.autograd.functional.vjp", "torch.autograd.functional.jvp",
    "torch.autograd.functional.vhp", "torch.autograd.functional.hvp",
    "torch.func.grad", "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jvp",
    "torch.func.linearize",
)
INVERSE_APIS = ("torch.linalg.inv", "torch.linalg.inv_ex", "torch.inverse", "torch.Tensor.inverse",
                "torch.linalg.pinv", "torch.pinverse", "torch.Tensor.pinverse", "torch.cholesky_inverse")
DENSE_SOLVERS = INVERSE_APIS + ("torch.linalg.solve", "torch.linalg.solve_ex", "torch.linalg.lstsq",
                                "torch.linalg.cholesky", "torch.linalg.cholesky_ex", "torch.cholesky_solve",
                                "torch.linalg.lu_factor", "torch.linalg.lu_solve", "torch.linalg.ldl_factor")

# What the named APIs are built on, so that no route around a name (a private module, a copy of
# torch's source) escapes: the C entry points of torch's function transforms and of autograd.
MACHINERY = {
    "torch.func.vmap": ("torch._C._functorch._vmap_increment_nesting",),
    "torch.autograd.grad": ("torch.autograd.graph._engine_run_backward",
                            "torch._C._functorch._grad_increment_nesting",
                            "torch._C._functorch._jvp_increment_nesting",
                            "torch._C._enter_dual_level",
                            # with autograd forbidden, grad mode is off and stays off, threads too
                            # (a new thread would start with grad mode on)
                            "torch._C._set_grad_enabled", "_thread.start_new_thread"),
}
# Calls of a guarded API that stay allowed while it is forbidden (they cannot compute a derivative).
# Identity, never truth: an object whose ``__bool__`` answers False once and True later gains nothing.
_HARMLESS: dict[str, Callable[..., bool]] = {
    "torch._C._set_grad_enabled": lambda *args, **kwargs: len(args) == 1 and args[0] is False and not kwargs}


class ForbiddenAPIError(RuntimeError):
    """A student's function called an API that its question forbids."""


def expand(apis: Iterable[str]) -> list[str]:
    """The APIs and the machinery they run on."""
    found = list(dict.fromkeys(apis))
    for api in list(found):
        found += [m for m in MACHINERY.get(api, ()) if m not in found]
    return found


# The guard's state outside the hardened grader (otter, the build).  In the hardened grader the
# sandbox moves the originals into an audit hook (``sandbox.Vault``), which keeps the forbid
# stack itself and answers the guards there; nothing in this module then decides anything.
_originals: dict[str, Callable[..., Any]] = {}
_forbidden: list[tuple[object, frozenset[str], str]] = []  # (token, APIs, message), innermost last
_VAULT = False


def refusal(message: str) -> Callable[..., NoReturn]:
    """What a guard calls instead of a forbidden API: a function that raises ``message``."""
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise ForbiddenAPIError(message)
    return refused


def _ask(qualname: str, box: list[Callable[..., Any]], harmless: bool) -> None:
    """Put into ``box`` the original API, or a refusal naming why it is forbidden now."""
    for _token, apis, message in reversed(_forbidden):
        if qualname in apis and not harmless:
            box.append(refusal(message + ": " + _("it called") + " " + qualname))
            return
    box.append(_originals[qualname])


def _guard(qualname: str, original: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """The stand-in for ``qualname``: it asks, at every call, whether the API is forbidden now
    (the vault in the hardened grader, ``_ask`` elsewhere) and calls what the answer holds."""
    harmless = _HARMLESS.get(qualname)

    def guard(*args: Any, **kwargs: Any) -> Any:
        box: list[Callable[..., Any]] = []
        if _VAULT:  # the vault checks that this very code asks
            sys.audit("course.api", qualname, box, bool(harmless and harmless(*args, **kwargs)))
        else:
            _ask(qualname, box, bool(harmless and harmless(*args, **kwargs)))
        # No name is looked up between the answer and the call: patching this module's globals,
        # builtins or a closure cannot see the original, which never gets a name here.
        return box.pop()(*args, **kwargs)

    setattr(guard, "__course_guard__", qualname)  # how ``install_guards`` knows a guard from an original
    if original is not None:  # help() and inspect show the original's name, signature and doc
        for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
            value = getattr(original, attribute, None)
            if isinstance(value, str):
                setattr(guard, attribute, value)
        try:
            setattr(guard, "__signature__", inspect.signature(original))
        except (TypeError, ValueError):
            pass
    return guard


def _resolve(qualname: str) -> tuple[Any, str]:
    """``torch.linalg.inv`` -> (torch.linalg, "inv"), importing what is needed."""
    import importlib
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    for part in parts[cut:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


def install_guards(apis: Iterable[str]) -> list[str]:
    """Replace each API, wherever a loaded module holds it, by a guard that raises only while
    a call forbids it; return the APIs guarded.  Installing before the student's code runs also
    catches ``from torch.func import jacrev`` and private paths to the same function."""
    wanted: dict[int, str] = {}
    for qualname in expand(apis):
        if qualname in _originals:
            continue
        try:
            owner, attr = _resolve(qualname)
            original = getattr(owner, attr)
        except (ImportError, AttributeError):
            continue
        if getattr(original, "__course_guard__", None):
            continue
        _originals[qualname] = original
        wanted[id(original)] = qualname
        setattr(owner, attr, _guard(qualname, original))
    if wanted:
        guards = {q: getattr(*_resolve(q)) for q in wanted.values()}
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for name, value in list(namespace.items()):
                held = wanted.get(id(value))
                if held is not None and value is _originals[held]:
                    namespace[name] = guards[held]
    return sorted(_originals)


@contextlib.contextmanager
def forbid(apis: Iterable[str], message: str) -> Iterator[None]:
    """While the block runs, calling any of ``apis`` (or what they run on) raises
    ``ForbiddenAPIError``; with autograd forbidden, grad mode is off.  (The hardened grader
    forbids through its vault instead: ``course.grade.worker``.)"""
    forbidden = frozenset(expand(apis))
    if not forbidden:
        yield
        return
    token = object()
    no_grad = "torch._C._set_grad_enabled" in forbidden
    was_enabled = torch.is_grad_enabled()
    if no_grad:
        torch.set_grad_enabled(False)
    _forbidden.append((token, forbidden, message))
    try:
        yield
    finally:
        _forbidden[:] = [entry for entry in _forbidden if entry[0] is not token]
        if no_grad:
            torch.set_grad_enabled(was_enabled)
