"""What runs next to a student's code: building a case's inputs, calling the student's
functions under the question's forbidden-API guard, and turning values into data and back.

Self-contained (torch and the standard library only): the hardened grader's student process
imports it, and the build ships it with the public tests, so ``otter check``, ``otter run``
and ``course grade`` all run a case through the same ``run_case``.

Two encodings of values:
- *plain* data (``plain``/``from_plain``) for the plan: JSON numbers, strings, lists, dicts;
  tensors as ``{"tensor": nested list, "dtype", "shape"}``;
- *wire* data (``pack``/``unpack``) for the sandbox's channel: the same, with each tensor's
  bytes in a separate buffer.
Anything else a student returns travels as its type name only, so no object from a student
can run code in the grader.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext
import inspect
import math
import os
import re
import sys
from typing import Any, Callable, TypedDict

import torch


# ---------------------------------------------------------------- the plan's shape


class CallSpec(TypedDict, total=False):
    fn: str  # the student function to call
    args: list  # plain-data argument descriptions (see ``materialize``)
    kwargs: dict
    params: list[str]  # the reference's parameter names, for messages
    forbid: list[str]  # APIs the function must not call
    because: str  # "<fn> must not <because>: it called <api>"


class CaseSpec(TypedDict):
    id: str
    label: str
    points: float
    hidden: bool
    tol: str  # a key of checks.TOLERANCES
    calls: list[CallSpec]
    post: str | None  # a fixture (outputs, inputs) -> value, compared instead of the outputs
    expected: Any  # plain data


class QuestionSpec(TypedDict):
    name: str
    title: str
    points: float
    functions: list[str]
    outputs: list[str]  # names of a tuple result's parts
    cases: list[CaseSpec]


class Plan(TypedDict):
    assignment: str
    fixtures: dict[str, str]  # name -> source of a function passed as an input
    questions: list[QuestionSpec]


# ---------------------------------------------------------------- messages in the student's language

_LOCALE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
_language = contextvars.ContextVar("course_language", default="en")
_catalogues: dict[str, gettext.NullTranslations] = {}


def set_language(language: str) -> None:
    """Messages from now on (in this thread) are in ``language`` ("en", "ko")."""
    _language.set(language)


def language() -> str:
    return _language.get()


def _(message: str) -> str:
    """``message`` (an English catalogue id) in the current language."""
    lang = _language.get()
    if lang == "en":
        return message
    if lang not in _catalogues:
        _catalogues[lang] = gettext.translation("course", _LOCALE, [lang], fallback=True)
    return _catalogues[lang].gettext(message)


# ---------------------------------------------------------------- the torch this runtime supports

# The releases of the two years before this course's pinned torch (2.6, January 2025, onward) on
# the same major version: the public checks use nothing newer, and students on Colab or a
# lab machine keep the torch they have.  Outside the range the checks still run, with a warning.
TORCH_RANGE = ((2, 6), (3, 0))  # >= 2.6, < 3.0


def torch_release(version: str) -> tuple[int, int] | None:
    """``"2.13.0+cpu"`` -> (2, 13); None when the version cannot be read."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


_TORCH_RELEASE = torch_release(torch.__version__)  # read once, at import
_torch_warned = False


def unsupported_torch(release: tuple[int, int] | None = _TORCH_RELEASE, version: str = torch.__version__) -> str | None:
    """The warning for a torch outside ``TORCH_RANGE``, in the current language; None inside it."""
    low, high = TORCH_RANGE
    if release is not None and low <= release < high:
        return None
    return _("These checks support torch {low} up to (not including) {high}; this Python has torch {version}. "
             "They still run, but a failure may come from torch rather than your code: install a supported "
             "torch (the notebook's set-up cell shows how).").format(
        low=f"{low[0]}.{low[1]}", high=f"{high[0]}.{high[1]}", version=version)


def warn_unsupported_torch() -> None:
    """Print ``unsupported_torch()`` once per process, to stderr (a warning, never an error)."""
    global _torch_warned
    message = unsupported_torch()
    if message and not _torch_warned:
        _torch_warned = True
        print(message, file=sys.stderr)


def ordinal(index: int) -> str:
    words = [_("first"), _("second"), _("third"), _("fourth"), _("fifth"), _("sixth")]
    return words[index] if index < len(words) else f"#{index + 1}"


# ---------------------------------------------------------------- forbidden APIs

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
_HARMLESS = {"torch._C._set_grad_enabled": lambda *args, **kwargs: len(args) == 1 and args[0] is False and not kwargs}


class ForbiddenAPIError(RuntimeError):
    """A student's function called an API that its question forbids."""


def expand(apis) -> list[str]:
    """The APIs and the machinery they run on."""
    found = list(dict.fromkeys(apis))
    for api in list(found):
        found += [m for m in MACHINERY.get(api, ()) if m not in found]
    return found


# The guard's state outside the hardened grader (otter, the build).  In the hardened grader the
# sandbox moves the originals into an audit hook (``sandbox.Vault``), which keeps the forbid
# stack itself and answers the guards there; nothing in this module then decides anything.
_originals: dict[str, Callable] = {}
_forbidden: list[tuple[object, frozenset, str]] = []
_VAULT = False


def refusal(message: str) -> Callable:
    """What a guard calls instead of a forbidden API: a function that raises ``message``."""
    def refused(*args, **kwargs):
        raise ForbiddenAPIError(message)
    return refused


def _ask(qualname: str, box: list, harmless: bool) -> None:
    """Put into ``box`` the original API, or a refusal naming why it is forbidden now."""
    for _token, apis, message in reversed(_forbidden):
        if qualname in apis and not harmless:
            box.append(refusal(message + ": " + _("it called") + " " + qualname))
            return
    box.append(_originals[qualname])


def _guard(qualname: str, original: Callable | None = None) -> Callable:
    harmless = _HARMLESS.get(qualname)

    def guard(*args, **kwargs):
        box: list = []
        if _VAULT:  # the vault checks that this very code asks
            sys.audit("course.api", qualname, box, bool(harmless and harmless(*args, **kwargs)))
        else:
            _ask(qualname, box, bool(harmless and harmless(*args, **kwargs)))
        # No name is looked up between the answer and the call: patching this module's globals,
        # builtins or a closure cannot see the original, which never gets a name here.
        return box.pop()(*args, **kwargs)

    guard.__course_guard__ = qualname
    if original is not None:  # help() and inspect show the original's name, signature and doc
        for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
            value = getattr(original, attribute, None)
            if isinstance(value, str):
                setattr(guard, attribute, value)
        try:
            guard.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            pass
    return guard


def _resolve(qualname: str):
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


def install_guards(apis) -> list[str]:
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
                qualname = wanted.get(id(value))
                if qualname is not None and value is _originals[qualname]:
                    namespace[name] = guards[qualname]
    return sorted(_originals)


@contextlib.contextmanager
def forbid(apis, message: str):
    """While the block runs, calling any of ``apis`` (or what they run on) raises
    ``ForbiddenAPIError``; with autograd forbidden, grad mode is off.  (The hardened grader
    forbids through its vault instead: ``course.worker``.)"""
    apis = frozenset(expand(apis))
    if not apis:
        yield
        return
    token = object()
    no_grad = "torch._C._set_grad_enabled" in apis
    was_enabled = torch.is_grad_enabled()
    if no_grad:
        torch.set_grad_enabled(False)
    _forbidden.append((token, apis, message))
    try:
        yield
    finally:
        _forbidden[:] = [entry for entry in _forbidden if entry[0] is not token]
        if no_grad:
            torch.set_grad_enabled(was_enabled)


# ---------------------------------------------------------------- inputs and calls

DTYPES = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}


def load_fixtures(sources: dict[str, str]) -> dict:
    """Define the fixture functions (test inputs such as ``f``) from their source code."""
    namespace = {"torch": torch, "math": math}
    for source in sources.values():
        exec(source, namespace)
    return namespace


def materialize(spec: Any, fixtures: dict) -> Any:
    """Build a call argument from its plain-data description."""
    if isinstance(spec, list):
        return [materialize(s, fixtures) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if "randn" in spec:
        generator = torch.Generator().manual_seed(spec["randn"])
        return torch.randn(spec["shape"], generator=generator, dtype=DTYPES[spec["dtype"]])
    if "randint" in spec:
        generator = torch.Generator().manual_seed(spec["randint"])
        return torch.randint(spec["high"], spec["shape"], generator=generator, dtype=torch.int64)
    if "fn" in spec:
        return fixtures[spec["fn"]]
    if "tuple" in spec:
        return tuple(materialize(s, fixtures) for s in spec["tuple"])
    if "list" in spec:
        return [materialize(s, fixtures) for s in spec["list"]]
    return from_plain(spec)


class InputChanged(Exception):
    """A student's function modified one of its inputs in place."""


def _tensors(value: Any, path: str = ""):
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{path}[{i}]")


def _snapshot(args: list, kwargs: dict, params: list[str]) -> list:
    named = [(params[i] if i < len(params) else f"#{i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return [(name + path, t, t.clone(), tuple(t.shape)) for name, a in named for path, t in _tensors(a)]


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def _check_unchanged(fn: str, snapshot: list) -> None:
    for name, tensor, before, shape in snapshot:
        # bit for bit, so that a NaN left in place counts as unchanged
        same = (tuple(tensor.shape) == shape and tensor.dtype == before.dtype
                and torch.equal(_bits(tensor), _bits(before)))
        if not same:
            raise InputChanged(_("{fn} changed its input {name} in place: work on a copy "
                                 "(x = x.clone()) or use out-of-place operations (x = x - ...)")
                               .format(fn=fn, name=name))


def call(functions: dict, spec: CallSpec, fixtures: dict) -> Any:
    """Call the student's function named in ``spec`` on the spec's arguments; check that it
    left its inputs as they were."""
    name = spec["fn"]
    function = functions.get(name)
    if function is None:
        raise NameError(_("{fn} is not defined: run the cell that defines it (and keep its name)").format(fn=name))
    if not callable(function):
        raise TypeError(_("{fn} is a {kind}, not a function").format(fn=name, kind=type(function).__name__))
    args = [materialize(a, fixtures) for a in spec["args"]]
    kwargs = {k: materialize(v, fixtures) for k, v in spec.get("kwargs", {}).items()}
    snapshot = _snapshot(args, kwargs, spec.get("params", []))
    with forbid(spec.get("forbid", ()), _("{fn} must not {because}").format(fn=name, because=_(spec.get("because", "call it")))):
        result = function(*args, **kwargs)
    _check_unchanged(name, snapshot)
    return result


class CallFailed(Exception):
    """A call raised, changed an input or called a forbidden API; the message says so, and
    ``missing`` tells a function that is not defined at all."""

    def __init__(self, fn: str, message: str, missing: bool = False):
        super().__init__(message)
        self.fn, self.missing = fn, missing


def run_case(functions: dict, calls: list[CallSpec], fixtures: dict) -> list:
    """Every call of a case, in order: the outputs (the reference's, or a student's)."""
    outputs = []
    for spec in calls:
        try:
            outputs.append(call(functions, spec, fixtures))
        except Exception as error:  # the student's error, described; the traceback stays here
            missing = isinstance(error, NameError) and spec["fn"] not in functions
            raise CallFailed(spec["fn"], describe_error(spec["fn"], error), missing) from None
    return outputs


def describe_error(fn: str, error: BaseException) -> str:
    """What a student sees when their function raised instead of returning."""
    if isinstance(error, NotImplementedError):
        return _("{fn} is not implemented yet (it raises NotImplementedError): fill in its stub").format(fn=fn)
    if isinstance(error, (ForbiddenAPIError, NameError, InputChanged, TypeError)) and str(error).startswith(fn):
        return str(error)
    return _("{fn} raised {error}").format(fn=fn, error=f"{type(error).__name__}: {str(error)[:300]}")


# ---------------------------------------------------------------- plain data (the plan)


def plain(x: Any) -> Any:
    """A value as plain JSON data (the plan's expected values and inputs)."""
    if x is None or type(x) in (bool, str, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else {"float": repr(float(x))}
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        data = x.reshape(-1).tolist()
        if x.is_floating_point():
            data = [v if math.isfinite(v) else {"float": repr(v)} for v in data]
        return {"tensor": data, "dtype": str(x.dtype).removeprefix("torch."), "shape": list(x.shape)}
    if type(x) in (tuple, list):
        return {type(x).__name__: [plain(v) for v in x]}
    raise TypeError(f"no plain form for {type(x).__name__}")


def from_plain(data: Any) -> Any:
    """Rebuild a value from plain data."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if "float" in data:
        return float(data["float"])
    if "tensor" in data:
        values = [from_plain(v) if isinstance(v, dict) else v for v in data["tensor"]]
        return torch.tensor(values, dtype=DTYPES[data["dtype"]]).reshape(data["shape"])
    if "tuple" in data:
        return tuple(from_plain(v) for v in data["tuple"])
    if "list" in data:
        return [from_plain(v) for v in data["list"]]
    raise ValueError(f"unknown plain data {sorted(data)}")


# ---------------------------------------------------------------- wire data (the sandbox's channel)

MAX_DEPTH = 8


class Opaque:
    """A student's object the grader does not rebuild: only its type name crossed."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"


def pack(x: Any, buffers: list[bytes], depth: int = 0) -> Any:
    """A returned value as JSON-able data, tensors' bytes appended to ``buffers``."""
    if depth > MAX_DEPTH:
        return {"object": "a value nested too deeply"}
    if x is None or type(x) in (bool, int):
        return x
    if type(x) is str:
        return x[:10000]
    if type(x) is float:
        return x if math.isfinite(x) else {"float": repr(x)}
    if type(x) is torch.Tensor:
        dtype = str(x.dtype).removeprefix("torch.")
        if dtype not in DTYPES or x.layout != torch.strided:
            return {"object": f"torch.Tensor of dtype {dtype}"}
        shape = list(x.shape)
        flat = x.detach().cpu().contiguous().reshape(-1)
        buffers.append(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        return {"tensor": len(buffers) - 1, "dtype": dtype, "shape": shape}
    if type(x) in (tuple, list):
        return {type(x).__name__: [pack(v, buffers, depth + 1) for v in x]}
    t = type(x)
    return {"object": f"{t.__module__}.{t.__qualname__}"[:200]}


def unpack(data: Any, buffers: list[bytes], depth: int = 0) -> Any:
    """Rebuild a value strictly: anything unexpected raises ``ValueError``."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) not in (1, 3):
        raise ValueError("unrecognised value")
    if set(data) == {"float"}:
        if data["float"] not in ("nan", "inf", "-inf"):
            raise ValueError("bad float")
        return float(data["float"])
    if set(data) == {"tensor", "dtype", "shape"}:
        index, dtype, shape = data["tensor"], DTYPES.get(data["dtype"]), data["shape"]
        if type(index) is not int or not 0 <= index < len(buffers) or dtype is None:
            raise ValueError("bad tensor")
        if type(shape) is not list or len(shape) > 8 or not all(type(s) is int and s >= 0 for s in shape):
            raise ValueError("bad shape")
        raw = buffers[index]
        size = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if len(raw) != size:
            raise ValueError("shape does not match the data")
        if size == 0:
            return torch.empty(shape, dtype=dtype)
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        if dtype is torch.bool and bool((flat > 1).any()):
            raise ValueError("bad bool data")
        return flat.view(dtype).reshape(shape)
    if set(data) in ({"tuple"}, {"list"}):
        kind, items = next(iter(data.items()))
        if type(items) is not list:
            raise ValueError("bad sequence")
        values = [unpack(v, buffers, depth + 1) for v in items]
        return tuple(values) if kind == "tuple" else values
    if set(data) == {"object"} and type(data["object"]) is str:
        return Opaque(data["object"][:200])
    raise ValueError("unrecognised value")
