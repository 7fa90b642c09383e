"""The comparison policy: how a student's answer is compared with the expected one.

One place for every tolerance and every message. The checks fail fast and say what is wrong
in the student's terms, in this order: None, type, length, shape, dtype, finiteness, values.

Tolerance policy (``TOLERANCES``, as ``(rtol, atol)``), all float64, with
``|got - expected| <= atol + rtol * |expected|`` elementwise:

- ``exact``: closed forms (ReLU', softmax Jacobian, log-dets, ...): only rounding differs.
- ``numerical``: finite differences compared with the reference's finite differences: the
  same formula evaluated in another order, whose rounding is amplified by 1/h.  Tight enough
  that a forward difference fails where a central one is asked for.
- ``relative``: stability checks on values far below 1 (sigmoid' at x = 40 is 4e-18), where
  any absolute floor would let a result that rounded to 0 pass.
- ``single``: float32 inputs (to check that the dtype is kept): float32 rounding, 1e-7.
- ``documented``: the lecture notes' printed values (4 to 8 significant digits), which the
  build checks the reference against; students are always compared with the reference.
- ``iterative``: long loops (gradient descent, Adam) where rounding accumulates over steps.

Messages: an error is reported as relative when the expected value is larger than the
absolute tolerance, else as absolute (no "relative error 1e+300" against an expected 0).
Hidden cases never show the expected value, nor an error precise enough to recover it.

Self-contained (torch and this package): the build ships it with the public tests, so students'
``otter check`` and the hardened grader compare alike.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn, Sequence

import torch

from .calls import materialize
from .messages import _, ordinal
from .plan import CallSpec, CaseSpec
from .values import Opaque, from_plain

TOLERANCES = {
    "exact": (1e-9, 1e-12),
    "numerical": (1e-7, 1e-9),
    "relative": (1e-9, 0.0),
    "iterative": (1e-6, 1e-9),
    "single": (1e-5, 1e-6),
    "documented": (1e-4, 1e-6),
}


class CheckFailure(AssertionError):
    """A student's answer differs from the expected one; the message says how."""


def timed_out(seconds: float) -> str:
    """What a student reads when a graded call ran out of time, in ``course grade`` and in
    ``otter run`` alike."""
    return _("timed out after {seconds:g} s (an infinite loop, or far too slow)").format(seconds=seconds)


def type_name(x: Any) -> str:
    """The name a student knows a value's type by (``numpy.float64``, ``complex``, ``dict``)."""
    if isinstance(x, Opaque):
        return x.type_name.removeprefix("builtins.")
    if type(x) is torch.Tensor:
        return "torch.Tensor"
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _hint(got: Any, wanted: str) -> str:
    """How to turn a value of the wrong type into the one a check wanted, when there is a usual way."""
    name = type_name(got)
    if name.startswith("numpy.") and wanted == "float":
        return " " + _("(a NumPy value: convert it with float(...))")
    if name.startswith("numpy.") and wanted == "tensor":
        return " " + _("(a NumPy array: convert it with torch.from_numpy(...))")
    if name == "complex":
        return " " + _("(a complex number: a square root or logarithm of a negative number?)")
    if name.startswith("torch.Tensor of dtype"):  # a complex or sparse tensor, as the channel names it
        return " " + _("(return a dense tensor of the input's dtype)")
    if wanted == "tensor" and (isinstance(got, torch.Tensor) or "Tensor" in name or "Parameter" in name):
        return " " + _("(a subclass of torch.Tensor: return a plain tensor, e.g. x.detach().clone())")
    return ""


def _fmt(x: Any) -> str:
    """A value as a message shows it: a small tensor's entries, a large one's shape only."""
    if isinstance(x, torch.Tensor):
        return str(x.tolist()) if x.numel() <= 12 else _("a tensor of shape {shape}").format(shape=tuple(x.shape))
    if isinstance(x, float):
        return f"{x:.10g}"
    return repr(x)


def _fail(what: str, message: str) -> NoReturn:
    raise CheckFailure(f"{what}: {message}" if what else message)


def _part(what: str, index: int, names: tuple[str, ...] = ()) -> str:
    """'the second returned value, grad_b'."""
    part = _("the {nth} returned value").format(nth=ordinal(index))
    if index < len(names):
        part += f", {names[index]}"
    return f"{what}, {part}" if what else part


def _error(got: float, expected: float, rtol: float, atol: float, hidden: bool) -> str:
    """How far off a value is, in the student's terms; '' when the error itself overflows (a
    value near 1e308 against one of the other sign): "got ..." says enough then."""
    if abs(expected) > atol and rtol:
        kind, error, tolerance = _("relative error"), abs(got - expected) / abs(expected), rtol
    else:
        kind, error, tolerance = _("absolute error"), abs(got - expected), atol or rtol
    if not math.isfinite(error):
        return ""
    if hidden:  # an order of magnitude, not a number from which the answer could be recovered
        return _("{kind} about 1e{exponent:+03d}, tolerance {tolerance:.0e}").format(
            kind=kind, exponent=math.floor(math.log10(error)) if error > 0 else 0, tolerance=tolerance)
    return _("{kind} {error:.2e}, tolerance {tolerance:.0e}").format(kind=kind, error=error, tolerance=tolerance)


def check(got: Any, expected: Any, tol: str = "exact", hidden: bool = False, what: str = "",
          names: tuple[str, ...] = ()) -> None:
    """Raise ``CheckFailure`` unless ``got`` matches ``expected`` under tolerance ``tol``.

    ``expected`` is a float, int, bool, str, tensor, or a tuple or list of those; ``names``
    name a tuple's parts in messages.  A hidden check never shows the expected value.
    """
    if got is None:
        _fail(what, _("returned None (is a `return` statement missing?)"))
    if isinstance(expected, (tuple, list)):
        kind = _("a tuple") if isinstance(expected, tuple) else _("a list")
        if not isinstance(got, (tuple, list)):
            _fail(what, _("expected {kind} of {n} values, got {got}").format(kind=kind, n=len(expected), got=type_name(got)))
        if len(got) != len(expected):
            _fail(what, _("expected {kind} of {n} values, got {m} values").format(kind=kind, n=len(expected), m=len(got)))
        for i, (g, e) in enumerate(zip(got, expected)):
            check(g, e, tol, hidden, _part(what, i, names) if isinstance(expected, tuple) else
                  f"{what}[{i}]" if what else _("item {i}").format(i=i))
        return
    if isinstance(expected, torch.Tensor):
        _check_tensor(got, expected, tol, hidden, what)
    elif isinstance(expected, (bool, str)):
        if type(got) is not type(expected):
            _fail(what, _("expected a {kind}, got {got}").format(kind=type(expected).__name__, got=type_name(got)))
        if got != expected:
            _fail(what, _("got {got}").format(got=repr(got)) +
                  ("" if hidden else _(", expected {expected}").format(expected=repr(expected))))
    else:
        _check_float(got, float(expected), tol, hidden, what)


def _check_float(got: Any, expected: float, tol: str, hidden: bool, what: str) -> None:
    if isinstance(got, torch.Tensor):
        _fail(what, _("expected a Python float, got a tensor of shape {shape} "
                      "(convert a one-element tensor with .item())").format(shape=tuple(got.shape)))
    if isinstance(got, bool) or type(got) not in (int, float):
        _fail(what, _("expected a Python float, got {got}").format(got=type_name(got)) + _hint(got, "float"))
    if type(got) is int and abs(got) > 2 ** 1023:
        _fail(what, _("returned an int too large for a float ({digits} digits)").format(digits=len(str(abs(got)))))
    got = float(got)
    if math.isnan(got) and not math.isnan(expected):
        _fail(what, _("got NaN"))
    rtol, atol = TOLERANCES[tol]
    if math.isinf(expected) or math.isnan(expected) or math.isinf(got):
        ok = got == expected or (math.isnan(got) and math.isnan(expected))
        detail = ""
    else:
        ok = abs(got - expected) <= atol + rtol * abs(expected)
        error = _error(got, expected, rtol, atol, hidden)
        detail = f" ({error})" if error else ""
    if not ok:
        shown = _("got {got}").format(got=_fmt(got))
        if not hidden:
            shown += _(", expected {expected}").format(expected=_fmt(expected))
        _fail(what, shown + detail)


def _check_tensor(got: Any, expected: torch.Tensor, tol: str, hidden: bool, what: str) -> None:
    if type(got) is not torch.Tensor:
        _fail(what, _("expected a torch.Tensor, got {got}").format(got=type_name(got)) + _hint(got, "tensor"))
    if got.layout != torch.strided or got.device.type != "cpu":
        _fail(what, _("expected a dense CPU tensor, got a {layout} tensor on {device} (use .to_dense() or .cpu())")
              .format(layout=str(got.layout).removeprefix("torch."), device=got.device.type))
    if tuple(got.shape) != tuple(expected.shape):
        _fail(what, _("expected shape {expected}, got {got}").format(expected=tuple(expected.shape), got=tuple(got.shape)))
    if got.dtype != expected.dtype:
        _fail(what, _("expected dtype {expected}, got {got} (keep the input's dtype; "
                      "avoid torch.tensor(...) without dtype=)").format(expected=expected.dtype, got=got.dtype))
    if not expected.is_floating_point():
        if not torch.equal(got, expected):
            _fail(what, _("values differ") + ("" if hidden else _(": got {got}, expected {expected}").format(
                got=_fmt(got), expected=_fmt(expected))))
        return
    got, expected = got.detach(), expected.detach()
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if bad.any():
        what_bad = "NaN" if torch.isnan(got[bad]).any() else "inf"
        _fail(what, _("contains {bad} at {n} of {total} entries").format(bad=what_bad, n=int(bad.sum()), total=got.numel()))
    rtol, atol = TOLERANCES[tol]
    close = torch.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        error = (got - expected).abs() / (atol + rtol * expected.abs())
        worst = int(torch.nan_to_num(torch.where(close, 0, error), nan=math.inf, posinf=math.inf).argmax())
        index = tuple(int(i) for i in _unravel(worst, expected.shape))
        g, e = float(got.reshape(-1)[worst]), float(expected.reshape(-1)[worst])
        where = _("entry {index}").format(index=index[0] if len(index) == 1 else index)
        detail = _error(g, e, rtol, atol, hidden) if math.isfinite(e) and math.isfinite(g) else ""
        shown = _("got {got}").format(got=_fmt(g)) + ("" if hidden else _(", expected {expected}").format(expected=_fmt(e)))
        _fail(what, _("{n} of {total} values differ; worst at {where}: {shown}").format(
            n=int((~close).sum()), total=got.numel(), where=where, shown=shown) + (f" ({detail})" if detail else ""))


def _unravel(index: int, shape: Sequence[int]) -> list[int]:
    """The position of the ``index``-th entry of a tensor of ``shape``, row-major."""
    out = []
    for size in reversed(tuple(shape)):
        out.append(index % size)
        index //= size
    return list(reversed(out))


def compared_value(calls: list[CallSpec], post: str | None, outputs: list[Any], fixtures: dict[str, Any]) -> Any:
    """What a case compares: the single output, the tuple of outputs, or their ``post`` value."""
    if post:
        inputs = [[materialize(a, fixtures) for a in c["args"]] for c in calls]
        return fixtures[post](outputs, inputs)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def judge(case: CaseSpec, outputs: list[Any], fixtures: dict[str, Any], names: tuple[str, ...] = (),
          hidden: bool | None = None) -> None:
    """Compare a case's outputs (one per call, already rebuilt as values) with its expectation."""
    hidden = case["hidden"] if hidden is None else hidden
    functions = ", ".join(c["fn"] for c in case["calls"])
    try:
        value = compared_value(case["calls"], case["post"], outputs, fixtures)
    except OverflowError:  # a Python int past float's range, met by the case's own arithmetic
        _fail("", _("could not use what {fn} returned: a number too large for a float").format(fn=functions))
    except Exception as e:
        _fail("", _("could not use what {fn} returned ({error})").format(fn=functions, error=f"{type(e).__name__}: {e}"))
    check(value, from_plain(case["expected"]), case["tol"], hidden, names=names if not case["post"] else ())
