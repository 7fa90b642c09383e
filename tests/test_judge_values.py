"""Every value a student's function can return is judged, never raised on: whatever crosses the
channel (``values.pack``/``unpack``), and whatever a function returns to ``otter run``'s tests
directly, gets a case result with points between 0 and the case's and a message a student can
read; ``grader error`` stays for the grader's own bugs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc4ml_runtime import values
from calc4ml_runtime import checks
from course.grade.batch import load_plan
from course.grade.judge import fixtures_of, judge_case
from course.results import CaseResult
from tests.grading import ASSIGNMENTS, autograder_zip

PLANS = {name: load_plan(autograder_zip(name))[0] for name in ASSIGNMENTS}
CASES = [(name, q, c) for name, plan in PLANS.items() for q in plan["questions"] for c in q["cases"]]


def judged(name: str, question: dict, case: dict, outputs: list) -> CaseResult:
    """What the judge makes of ``outputs`` for ``case``: a case result, or the test fails."""
    message = judge_case(question, case, outputs, fixtures_of(PLANS[name]))
    assert isinstance(message, str)
    result = CaseResult(question["name"], case["id"], case["label"], 0 if message else case["points"],
                        case["points"], case["hidden"], message)
    assert 0 <= result.points <= result.max_points
    assert "Traceback" not in message and "OverflowError" not in message, message
    assert "error nan" not in message and "error inf" not in message and "about 1e+inf" not in message, message
    return result


# ---------------------------------------------------------------- what the wire can carry

DTYPES = list(values.DTYPES)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1.7e308, -1.7e308, 1e-320, 0.0, -0.0])
ints = st.integers() | st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 1024, 2 ** 63, 0, 1])


@st.composite
def wire_tensor(draw, buffers: list[bytes]):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    size = math.prod(shape) * torch.empty((), dtype=values.DTYPES[dtype]).element_size()
    if dtype == "bool":
        raw = bytes(draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    else:
        raw = draw(st.binary(min_size=size, max_size=size))
    buffers.append(raw)
    return {"tensor": len(buffers) - 1, "dtype": dtype, "shape": shape}


def wire_value(buffers: list[bytes]):
    scalar = (st.none() | st.booleans() | ints | floats | st.text(max_size=20)
              | st.sampled_from([{"float": "nan"}, {"float": "inf"}, {"float": "-inf"}])
              | st.sampled_from(["numpy.float64", "builtins.complex", "__main__.Always", "builtins.dict",
                                 "torch.Tensor of dtype complex128", "a value nested too deeply"]).map(
                  lambda name: {"object": name})
              | wire_tensor(buffers))
    return st.recursive(scalar, lambda inner: st.lists(inner, max_size=4).map(lambda items: {"list": items})
                        | st.lists(inner, max_size=4).map(lambda items: {"tuple": items}), max_leaves=12)


@st.composite
def wire_answer(draw):
    """A case and one value per call, as the student process could send them, rebuilt."""
    name, question, case = draw(st.sampled_from(CASES))
    buffers: list[bytes] = []
    packed = [draw(wire_value(buffers)) for _ in case["calls"]]
    return name, question, case, [values.unpack(value, buffers) for value in packed]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(wire_answer())
def test_every_value_the_wire_can_carry_is_judged(answer):
    judged(*answer)


POST_CASES = [(name, q, c) for name, q, c in CASES if c["post"]]


@pytest.mark.parametrize("name, question, case", POST_CASES, ids=[f"{n}-{c['id']}" for n, _q, c in POST_CASES])
def test_an_int_too_large_for_a_float_is_judged_where_a_fixture_uses_it(name, question, case):
    """Hypothesis once found this one: a case whose ``post`` fixture does float arithmetic on a
    returned 10**400 said "OverflowError" (``judged`` fails on that); now it names the number."""
    assert judged(name, question, case, [10 ** 400] * len(case["calls"])).points == 0


# ---------------------------------------------------------------- what a function returns to otter's tests


class Always(torch.Tensor):
    def __eq__(self, other):
        return True


def near(expected):
    """Values next to, or far from, an expected one: overflowing, of the wrong kind or shape."""
    if isinstance(expected, torch.Tensor):
        e = expected
        return st.sampled_from([
            e.clone(), e * 1e308, torch.full(e.shape, 1.7e308, dtype=torch.float64), -e.double() - 1.7e308,
            e.to(torch.float32) if e.is_floating_point() else e.double(), e.to(torch.int64), e.to(torch.bool),
            e.to(torch.complex128), e.reshape(-1), e.reshape(1, *e.shape), e.sum(), e.as_subclass(Always),
            torch.nn.Parameter(e.double().clone()) if e.numel() else e, e.numpy(),
            e.to_sparse() if e.dim() else e, e.requires_grad_(False) + 0, e.tolist(), torch.full_like(e, math.nan),
        ])
    if isinstance(expected, (tuple, list)):
        return st.tuples(*[near(v) for v in expected]).map(type(expected)) | st.just(list(expected) + [1.0])
    if isinstance(expected, (bool, str)):
        return st.sampled_from([expected, not expected if isinstance(expected, bool) else expected.upper(), 1, None])
    x = float(expected)
    return st.sampled_from([x, 10 ** 400, -(10 ** 400), 1.7e308, -1.7e308, -x - 1.7e308 if math.isfinite(x) else x,
                            np.float64(x), np.float32(x), complex(x, 1), torch.tensor(x), torch.tensor([x]),
                            x * (1 + 1e-3), math.nan, math.inf, True, {"x": x}, [x], "1.0", Always([x])])


@st.composite
def plain_answer(draw):
    name, question, case = draw(st.sampled_from(CASES))
    expected = values.from_plain(case["expected"])
    if case["post"] or len(case["calls"]) > 1:  # outputs go through a fixture first: any value will do
        outputs = [draw(near(expected)) if case["post"] is None else draw(near(torch.zeros(3, dtype=torch.float64)))
                   for _ in case["calls"]]
    else:
        outputs = [draw(near(expected))]
    return name, question, case, outputs


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plain_answer())
def test_every_value_a_function_returns_is_judged(answer):
    judged(*answer)


@pytest.mark.parametrize("got, words", [
    (10 ** 400, "returned an int too large for a float (401 digits)"),
    (np.float64(6.0), "got numpy.float64 (a NumPy value: convert it with float(...))"),
    (complex(6, 1), "got complex (a complex number"),
    (1.7e308, "got 1.7e+308, expected 6"),
    ({"x": 6.0}, "expected a Python float, got dict"),
])
def test_odd_returns_get_a_message_that_names_the_fix(got, words):
    with pytest.raises(checks.CheckFailure, match=None) as raised:
        checks.check(got, 6.0)
    assert words in str(raised.value), str(raised.value)


def test_a_tensor_the_channel_cannot_carry_is_named_with_the_fix():
    with pytest.raises(checks.CheckFailure) as raised:
        checks.check(values.Opaque("torch.Tensor of dtype complex128"), torch.ones(2, dtype=torch.float64))
    assert str(raised.value) == ("expected a torch.Tensor, got torch.Tensor of dtype complex128 "
                                 "(return a dense tensor of the input's dtype)")


def test_a_value_far_off_against_its_opposite_says_so_without_an_overflowing_error():
    with pytest.raises(checks.CheckFailure) as raised:
        checks.check(1.7e308, -1.7e308, hidden=True)
    assert str(raised.value) == "got 1.7e+308", str(raised.value)
    with pytest.raises(checks.CheckFailure) as raised:
        checks.check(torch.tensor([1.7e308, 0.0], dtype=torch.float64), torch.tensor([-1.7e308, 0.0], dtype=torch.float64))
    assert "1 of 2 values differ; worst at entry 0: got 1.7e+308, expected -1.7e+308" == str(raised.value)


@pytest.mark.parametrize("got, words", [
    (torch.ones(2, dtype=torch.float64).as_subclass(Always), "Always (a subclass of torch.Tensor: return a plain tensor"),
    (torch.nn.Parameter(torch.ones(2, dtype=torch.float64)), "got torch.nn.parameter.Parameter (a subclass"),
    (np.ones(2), "got numpy.ndarray (a NumPy array: convert it with torch.from_numpy(...))"),
    (torch.ones(2, dtype=torch.float64).to_sparse(), "expected a dense CPU tensor, got a sparse_coo tensor"),
    (torch.ones(2, dtype=torch.complex128), "expected dtype torch.float64, got torch.complex128"),
    (torch.ones(2, dtype=torch.bool), "expected dtype torch.float64, got torch.bool"),
    (torch.tensor(1.0, dtype=torch.float64), "expected shape (2,), got ()"),
])
def test_odd_tensors_get_a_message_that_names_the_fix(got, words):
    with pytest.raises(checks.CheckFailure) as raised:
        checks.check(got, torch.ones(2, dtype=torch.float64))
    assert words in str(raised.value), str(raised.value)


def test_the_reference_answer_still_passes_every_case():
    """The other side: a right answer, crossing the channel, scores every case (a sample per plan)."""
    rng = random.Random(0)
    for name, question, case in rng.sample(CASES, 40):
        if case["post"] is None and len(case["calls"]) == 1:
            buffers: list[bytes] = []
            value = values.unpack(values.pack(values.from_plain(case["expected"]), buffers), buffers)
            assert judged(name, question, case, [value]).message == ""
