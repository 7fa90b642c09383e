"""A case's calls: its inputs built from plain data, the student's function called under the
question's forbidden-API guard, and its inputs checked unchanged.  ``otter check``, ``otter
run`` and ``course grade`` all run a case through this ``run_case``."""

from __future__ import annotations

import math
from typing import Any, Iterator

import torch

from .guards import ForbiddenAPIError, forbid
from .messages import _
from .plan import CallSpec
from .values import DTYPES, from_plain


def load_fixtures(sources: dict[str, str]) -> dict[str, Any]:
    """Define the fixture functions (test inputs such as ``f``) from their source code, with
    torch and math in scope, as a student's notebook has them."""
    namespace: dict[str, Any] = {"torch": torch, "math": math}
    for source in sources.values():
        exec(source, namespace)
    return namespace


def materialize(spec: Any, fixtures: dict[str, Any]) -> Any:
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


def _tensors(value: Any, path: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside an argument, with where it sits (``[0][1]``), for the messages."""
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{path}[{i}]")


Snapshot = list[tuple[str, torch.Tensor, torch.Tensor, tuple[int, ...]]]  # (name, tensor, copy, shape)


def _snapshot(args: list[Any], kwargs: dict[str, Any], params: list[str]) -> Snapshot:
    """Copies of every input tensor, to find the ones a call changed in place."""
    named = [(params[i] if i < len(params) else f"#{i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return [(name + path, t, t.clone(), tuple(t.shape)) for name, a in named for path, t in _tensors(a)]


def _bits(t: torch.Tensor) -> torch.Tensor:
    """A tensor's raw bytes, so that comparing them treats NaN as equal to itself."""
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def _check_unchanged(fn: str, snapshot: Snapshot) -> None:
    for name, tensor, before, shape in snapshot:
        # bit for bit, so that a NaN left in place counts as unchanged
        same = (tuple(tensor.shape) == shape and tensor.dtype == before.dtype
                and torch.equal(_bits(tensor), _bits(before)))
        if not same:
            raise InputChanged(_("{fn} changed its input {name} in place: work on a copy "
                                 "(x = x.clone()) or use out-of-place operations (x = x - ...)")
                               .format(fn=fn, name=name))


def call(functions: dict[str, Any], spec: CallSpec, fixtures: dict[str, Any]) -> Any:
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
    """A call raised, changed an input or called a forbidden API; the message says so.
    ``missing``: the function is not defined at all; ``undefined``: the name a ``NameError``
    inside it found undefined (Python's own ``NameError.name``).  Both are data, so that the
    grader can blame the failed cell that should have defined the name without reading the message."""

    def __init__(self, fn: str, message: str, missing: bool = False, undefined: str | None = None):
        super().__init__(message)
        self.fn, self.missing, self.undefined = fn, missing, undefined


def run_case(functions: dict[str, Any], calls: list[CallSpec], fixtures: dict[str, Any]) -> list[Any]:
    """Every call of a case, in order: the outputs (the reference's, or a student's)."""
    outputs: list[Any] = []
    for spec in calls:
        try:
            outputs.append(call(functions, spec, fixtures))
        except Exception as error:  # the student's error, described; the traceback stays here
            missing = isinstance(error, NameError) and spec["fn"] not in functions
            name = getattr(error, "name", None) if isinstance(error, NameError) else None
            raise CallFailed(spec["fn"], describe_error(spec["fn"], error), missing,
                             name if type(name) is str else None) from None
    return outputs


def describe_error(fn: str, error: BaseException) -> str:
    """What a student sees when their function raised instead of returning."""
    if isinstance(error, NotImplementedError):
        return _("{fn} is not implemented yet (it raises NotImplementedError): fill in its stub").format(fn=fn)
    if isinstance(error, (ForbiddenAPIError, NameError, InputChanged, TypeError)) and str(error).startswith(fn):
        return str(error)
    return _("{fn} raised {error}").format(fn=fn, error=f"{type(error).__name__}: {str(error)[:300]}")
