"""The comparison policy: fail fast, in the student's terms, and never show hidden expectations."""

import math

import pytest
import torch

from course import checks, runtime
from course.checks import CheckFailure, check

EXPECTED = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)


@pytest.mark.parametrize("got, words", [
    (None, "returned None"),
    ([[1.0, 2.0], [3.0, 4.0]], "expected a torch.Tensor, got list"),
    (torch.zeros(2, 3, dtype=torch.float64), "expected shape (2, 2), got (2, 3)"),
    (EXPECTED.float(), "expected dtype torch.float64, got torch.float32"),
    (torch.tensor([[1.0, math.nan], [3.0, 4.0]], dtype=torch.float64), "contains NaN"),
    (EXPECTED + 1e-3, "values differ"),
])
def test_tensor_checks_say_what_is_wrong_first(got, words):
    with pytest.raises(CheckFailure, match=words.replace("(", r"\(").replace(")", r"\)")):
        check("J", got, EXPECTED)


def test_public_messages_show_both_values_hidden_ones_never_the_expected():
    with pytest.raises(CheckFailure) as public:
        check("f(3)", 6.5, 6.0)
    assert "got 6.5, expected 6" in str(public.value)
    with pytest.raises(CheckFailure) as hidden:
        check("f(3)", 6.5, 6.123456789, hidden=True)
    assert "6.5" in str(hidden.value) and "6.12" not in str(hidden.value)
    with pytest.raises(CheckFailure) as hidden_tensor:
        check("J", EXPECTED * 2, EXPECTED * 1.2345, hidden=True)
    assert "1.2345" not in str(hidden_tensor.value) and "2.469" not in str(hidden_tensor.value)


def test_scalars_must_be_python_floats():
    with pytest.raises(CheckFailure, match=r"\.item\(\)"):
        check("x", torch.tensor(6.0), 6.0)
    check("x", 6, 6.0)  # an int is a fine float


def test_tolerances_separate_forward_from_central_differences():
    forward, central = 6.000009999951316, 6.000000000039306
    check("x", central, 6.0, "numerical")
    with pytest.raises(CheckFailure):
        check("x", forward, 6.0, "numerical")


def test_relative_tolerance_has_no_absolute_floor():
    with pytest.raises(CheckFailure):
        check("s'(40)", torch.tensor([0.0], dtype=torch.float64),
              torch.tensor([4.248354255291589e-18], dtype=torch.float64), "relative")


def test_infinity_must_be_infinity():
    check("cond", math.inf, math.inf)
    with pytest.raises(CheckFailure):
        check("cond", 1e300, math.inf)


def test_tuples_check_each_element_with_its_index():
    with pytest.raises(CheckFailure, match=r"grads\[1\]"):
        check("grads", (1.0, 3.0), (1.0, 2.0))
    with pytest.raises(CheckFailure, match="tuple of 2 values, got 3"):
        check("grads", (1.0, 2.0, 3.0), (1.0, 2.0))


def test_strings_compare_exactly():
    check("kind", "saddle", "saddle")
    with pytest.raises(CheckFailure, match="got 'Saddle'"):
        check("kind", "Saddle", "saddle")


@pytest.mark.parametrize("value", [
    1.5, -0.0, math.inf, "saddle", True, None, (1.0, "a"),
    torch.arange(6, dtype=torch.float64).reshape(2, 3), torch.tensor([1, 2]), torch.tensor([math.nan]),
])
def test_plain_data_round_trips(value):
    back = runtime.decode(runtime.encode(value))
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back.nan_to_num(7), value.nan_to_num(7))
    else:
        assert back == value


def test_a_students_objects_cross_as_their_type_name_only():
    class Sneaky(torch.Tensor):
        pass

    for value in [object(), Sneaky(torch.ones(2)), {"a": 1}, lambda: 1]:
        assert isinstance(runtime.decode(runtime.encode(value)), runtime.Opaque)
    for bad in [{"tensor": [1.0], "dtype": "float64", "shape": [2]}, {"tensor": ["x"], "dtype": "float64", "shape": [1]},
                {"__reduce__": "os.system"}, {"float": "1e308"}, {"tuple": "abc"}]:
        with pytest.raises((ValueError, KeyError)):
            runtime.decode(bad)


def test_forbidden_api_names_the_function_and_the_reason():
    def hvp(f, x, v):
        return torch.func.hessian(f)(x) @ v

    spec = {"fn": "hvp", "args": [{"fn": "f"}, {"randn": 0, "shape": [3], "dtype": "float64"},
                                  {"randn": 1, "shape": [3], "dtype": "float64"}],
            "forbid": list(runtime.FULL_MATRIX_APIS), "forbid_reason": "build the Hessian"}
    with pytest.raises(runtime.ForbiddenAPIError, match="hvp must not build the Hessian: it called torch.func.hessian"):
        runtime.call({"hvp": hvp}, spec, {"f": lambda x: (x ** 3).sum()})
    # Outside the forbidding call the API works as usual.
    assert torch.func.hessian(lambda x: (x ** 2).sum())(torch.ones(2)).shape == (2, 2)


def test_every_tolerance_is_documented():
    for name in checks.TOLERANCES:
        assert f"``{name}``" in checks.__doc__
