"""The comparison policy: how a student's answer is compared with the expected one.

One place for every tolerance and every message. The checks fail fast and say what is
wrong in the student's terms, in this order: None, type, shape, dtype, finiteness, values.

Tolerance policy (``TOLERANCES``), all float64, with ``|got - expected| <= atol + rtol * |expected|``
elementwise:

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

This module is self-contained (torch and math only): the build copies its source into the
generated otter test files, so students' ``otter check`` and the hardened grader compare alike.
"""

import math

import torch

from course.runtime import decode, materialize

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


def type_name(x):
    if type(x).__name__ == "Opaque":  # runtime.Opaque: a student's object, by type name only
        return x.type_name
    if isinstance(x, torch.Tensor):
        return "torch.Tensor"
    return type(x).__name__


def _fmt(x):
    if isinstance(x, torch.Tensor):
        return str(x.tolist()) if x.numel() <= 12 else f"tensor of shape {tuple(x.shape)}"
    if isinstance(x, float):
        return f"{x:.8g}"
    return repr(x)


def _fail(label, message):
    raise CheckFailure(f"{label}: {message}")


def check(label, got, expected, tol="exact", hidden=False):
    """Raise ``CheckFailure`` unless ``got`` matches ``expected`` under tolerance ``tol``.

    ``expected`` is a float, int, bool, str, tensor, or a tuple of those.
    A hidden check never shows the expected value.
    """
    if got is None:
        _fail(label, "returned None (is a `return` statement missing?)")
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)):
            _fail(label, f"expected a tuple of {len(expected)} values, got {type_name(got)}")
        if len(got) != len(expected):
            _fail(label, f"expected a tuple of {len(expected)} values, got {len(got)} values")
        for i, (g, e) in enumerate(zip(got, expected)):
            check(f"{label}[{i}]", g, e, tol, hidden)
        return
    if isinstance(expected, torch.Tensor):
        _check_tensor(label, got, expected, tol, hidden)
    elif isinstance(expected, bool) or isinstance(expected, str):
        if type(got) is not type(expected):
            _fail(label, f"expected a {type(expected).__name__}, got {type_name(got)}")
        if got != expected:
            _fail(label, f"got {got!r}" + ("" if hidden else f", expected {expected!r}"))
    else:
        _check_float(label, got, float(expected), tol, hidden)


def _check_float(label, got, expected, tol, hidden):
    if isinstance(got, torch.Tensor):
        _fail(label, f"expected a Python float, got a tensor of shape {tuple(got.shape)} "
                     "(convert a one-element tensor with .item())")
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        _fail(label, f"expected a Python float, got {type_name(got)}")
    got = float(got)
    if math.isnan(got) and not math.isnan(expected):
        _fail(label, "got NaN")
    rtol, atol = TOLERANCES[tol]
    if math.isinf(expected) or math.isnan(expected):
        ok = got == expected or (math.isnan(got) and math.isnan(expected))
    else:
        ok = abs(got - expected) <= atol + rtol * abs(expected)
    if not ok:
        rel = abs(got - expected) / max(abs(expected), 1e-300)
        shown = f"got {_fmt(got)}" + ("" if hidden else f", expected {_fmt(expected)}")
        _fail(label, f"{shown} (relative error {rel:.2e}, tolerance {rtol:.0e})")


def _check_tensor(label, got, expected, tol, hidden):
    if not isinstance(got, torch.Tensor):
        _fail(label, f"expected a torch.Tensor, got {type_name(got)}")
    if tuple(got.shape) != tuple(expected.shape):
        _fail(label, f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if got.dtype != expected.dtype:
        _fail(label, f"expected dtype {expected.dtype}, got {got.dtype} "
                     "(keep the input's dtype; avoid torch.tensor(...) without dtype=)")
    if not expected.is_floating_point():
        if not torch.equal(got, expected):
            _fail(label, "values differ" + ("" if hidden else f": got {_fmt(got)}, expected {_fmt(expected)}"))
        return
    got, expected = got.detach(), expected.detach()
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if bad.any():
        what = "NaN" if torch.isnan(got[bad]).any() else "inf"
        _fail(label, f"contains {what} at {int(bad.sum())} of {got.numel()} entries")
    rtol, atol = TOLERANCES[tol]
    if not torch.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
        err = (got - expected).abs()
        worst = int(torch.nan_to_num(err, nan=math.inf).argmax())
        rel = float(err.flatten()[worst] / expected.abs().flatten()[worst].clamp_min(1e-300))
        where = f"worst entry {tuple(int(i) for i in _unravel(worst, expected.shape))}"
        shown = "" if hidden else f"; got {_fmt(got)}, expected {_fmt(expected)}"
        _fail(label, f"values differ ({where}: relative error {rel:.2e}, tolerance {rtol:.0e}){shown}")


def _unravel(index, shape):
    out = []
    for size in reversed(tuple(shape)):
        out.append(index % size)
        index //= size
    return reversed(out)


def compared_value(calls, post, outputs, fixtures):
    """What a case compares: the single output, the tuple of outputs, or their ``post`` value."""
    if post:
        inputs = [[materialize(a, fixtures) for a in c["args"]] for c in calls]
        return fixtures[post](outputs, inputs)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def judge(case, outputs, fixtures, hidden=None):
    """Compare a case's outputs (one per call, already rebuilt as values) with its expectation."""
    hidden = case["hidden"] if hidden is None else hidden
    try:
        value = compared_value(case["calls"], case["post"], outputs, fixtures)
    except Exception as e:
        names = ", ".join(c["fn"] for c in case["calls"])
        _fail(case["label"], f"could not use what {names} returned ({type(e).__name__}: {e})")
    check(case["label"], value, decode(case["expected"]), case["tol"], hidden)
