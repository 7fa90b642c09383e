"""What runs next to a student's code: building a case's inputs, calling the student's
function under the case's forbidden-API guard, and turning values into plain data and back.

Self-contained (torch and math only): the hardened grader's student process imports it, and
the build copies its source into the otter test files, so both paths run the same calls.

Plain data is JSON: numbers, strings, lists and dicts.  Tensors travel as
``{"tensor": nested list, "dtype": "float64", "shape": [...]}``; anything else a student
returns travels as its type name only, so no object from a student can run code in the grader.
"""

import contextlib
import math

import torch

FULL_MATRIX_APIS = (
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.hessian",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    "torch.func.hessian",
)

DTYPES = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}


class ForbiddenAPIError(RuntimeError):
    """A student's function called an API that this question forbids."""


def _forbidden():
    """What is forbidden right now, shared by every copy of this module in the process (each
    otter test file carries its own copy; the guards must all read the same state)."""
    import sys
    import types
    state = sys.modules.get("_course_forbidden")
    if state is None:
        state = sys.modules["_course_forbidden"] = types.ModuleType("_course_forbidden")
        state.apis, state.message = (), ""
    return state


def _guarded(qualname, original):
    def guard(*args, **kwargs):
        state = _forbidden()
        if qualname in state.apis:
            raise ForbiddenAPIError(f"{state.message}: it called {qualname}")
        return original(*args, **kwargs)
    guard.__wrapped_api__ = original
    return guard


def _resolve(qualname):
    """The object that holds ``qualname``'s last attribute: torch.linalg.inv -> (torch.linalg, "inv")."""
    import importlib
    parts = qualname.split(".")
    owner = importlib.import_module(parts[0])
    for part in parts[1:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


def install_guards(apis=FULL_MATRIX_APIS):
    """Wrap the given APIs once; the wrappers raise only while ``forbid`` names them.

    Installing before the student's code runs also catches ``from torch.func import jacrev``.
    """
    for qualname in apis:
        owner, attr = _resolve(qualname)
        current = getattr(owner, attr)
        if not hasattr(current, "__wrapped_api__"):
            setattr(owner, attr, _guarded(qualname, current))


@contextlib.contextmanager
def forbid(apis, message):
    install_guards(apis)
    state = _forbidden()
    saved = state.apis, state.message
    state.apis, state.message = tuple(apis), message
    try:
        yield
    finally:
        state.apis, state.message = saved


def load_fixtures(sources):
    """Define the fixture functions (test inputs such as ``f``) from their source code."""
    namespace = {"torch": torch, "math": math}
    for source in sources.values():
        exec(source, namespace)
    return namespace


def materialize(spec, fixtures):
    """Build a call argument from its plain-data description."""
    if isinstance(spec, list):
        return [materialize(s, fixtures) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if "tensor" in spec:
        return torch.tensor(spec["tensor"], dtype=DTYPES[spec["dtype"]]).reshape(spec["shape"])
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
    if "float" in spec:
        return float(spec["float"])
    raise ValueError(f"unknown argument spec {sorted(spec)}")


def call(functions, spec, fixtures):
    """Call the student's function named in ``spec`` on the spec's arguments."""
    name = spec["fn"]
    function = functions.get(name)
    if function is None:
        raise NameError(f"{name} is not defined: run the cell that defines it (and keep its name)")
    if not callable(function):
        raise TypeError(f"{name} is a {type(function).__name__}, not a function")
    args = [materialize(a, fixtures) for a in spec["args"]]
    kwargs = {k: materialize(v, fixtures) for k, v in spec.get("kwargs", {}).items()}
    with forbid(spec.get("forbid", ()), f"{name} must not {spec.get('forbid_reason', 'call it')}"):
        return function(*args, **kwargs)


def describe_error(fn, error):
    """What a student sees when their function raised instead of returning."""
    if isinstance(error, NotImplementedError):
        return f"{fn} is not implemented yet (it raises NotImplementedError): fill in its stub"
    if isinstance(error, (ForbiddenAPIError, NameError)) and str(error).startswith(fn):
        return str(error)
    return f"{fn} raised {type(error).__name__}: {str(error)[:500]}"


def encode(x, depth=0):
    """Turn a returned value into plain data (a student's objects become their type name)."""
    if depth > 8:
        return {"object": "deeply nested value"}
    if x is None or isinstance(x, (bool, str)) and type(x) in (bool, str):
        return x
    if isinstance(x, int) and type(x) is int:
        return x
    if isinstance(x, float):
        value = float(x)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(x, torch.Tensor) and type(x) is torch.Tensor:
        x = x.detach().cpu()
        dtype = str(x.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            return {"object": f"torch.Tensor of dtype {dtype}"}
        data = x.flatten().tolist()
        if x.is_floating_point():
            data = [v if math.isfinite(v) else {"float": repr(v)} for v in data]
        return {"tensor": data, "dtype": dtype, "shape": list(x.shape)}
    if isinstance(x, (tuple, list)) and type(x) in (tuple, list):
        return {type(x).__name__: [encode(v, depth + 1) for v in x]}
    t = type(x)
    return {"object": f"{t.__module__}.{t.__qualname__}"}


def decode(data, budget=None):
    """Rebuild a value from plain data, strictly: unknown shapes of data raise ``ValueError``."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, dict) and len(data) == 1 and "float" in data:
        if data["float"] not in ("nan", "inf", "-inf"):
            raise ValueError("bad float")
        return float(data["float"])
    if isinstance(data, dict) and "tensor" in data:
        dtype, shape, values = DTYPES[data["dtype"]], data["shape"], data["tensor"]
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise ValueError("bad shape")
        if math.prod(shape) != len(values):
            raise ValueError("shape does not match data")
        values = [decode(v) if isinstance(v, dict) else v for v in values]
        if not all(isinstance(v, (int, float)) for v in values):
            raise ValueError("bad tensor data")
        return torch.tensor(values, dtype=dtype).reshape(shape)
    if isinstance(data, dict) and set(data) in ({"tuple"}, {"list"}):
        kind, items = next(iter(data.items()))
        if not isinstance(items, list):
            raise ValueError("bad sequence")
        values = [decode(v) for v in items]
        return tuple(values) if kind == "tuple" else values
    if isinstance(data, dict) and set(data) == {"object"} and isinstance(data["object"], str):
        from_student = data["object"][:200]
        return Opaque(from_student)
    raise ValueError("unrecognised value")


class Opaque:
    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"
