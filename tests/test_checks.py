"""The comparison policy and the call runtime: fail fast, in the student's terms, never show a
hidden expectation; values cross the channel strictly; guards hold by every route."""

import math

import pytest
import torch

from calc4ml_runtime import guards, messages, values
from calc4ml_runtime.calls import InputChanged, call
from calc4ml_runtime import checks
from calc4ml_runtime.checks import check, CheckFailure

EXPECTED = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)


def failure(*args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as raised:
        check(*args, **kwargs)
    return str(raised.value)


@pytest.mark.parametrize("got, words", [
    (None, "returned None"),
    ([[1.0, 2.0], [3.0, 4.0]], "expected a torch.Tensor, got list"),
    (torch.zeros(2, 3, dtype=torch.float64), "expected shape (2, 2), got (2, 3)"),
    (EXPECTED.float(), "expected dtype torch.float64, got torch.float32"),
    (torch.tensor([[1.0, math.nan], [3.0, 4.0]], dtype=torch.float64), "contains NaN"),
    (EXPECTED + 1e-3, "4 of 4 values differ"),
])
def test_tensor_checks_say_what_is_wrong_first(got, words):
    assert words in failure(got, EXPECTED)


def test_public_messages_show_both_values_hidden_ones_never_the_expected():
    assert "got 6.5, expected 6" in failure(6.5, 6.0)
    hidden = failure(6.5, 6.123456789, hidden=True)
    assert "6.5" in hidden and "6.12" not in hidden and "expected" not in hidden
    hidden_tensor = failure(EXPECTED * 2, EXPECTED * 1.2345, hidden=True)
    assert "1.2345" not in hidden_tensor and "2.469" not in hidden_tensor


def test_a_hidden_error_is_an_order_of_magnitude_only():
    message = failure(1.0, 1.0 + 3.7e-6, hidden=True)
    assert "relative error about 1e-06" in message and "3.7" not in message


def test_errors_against_zero_are_absolute_never_huge_relative():
    message = failure(2.21e-4, 0.0)
    assert "absolute error 2.21e-04" in message and "relative" not in message
    message = failure(torch.tensor([0.0, 2.21e-4], dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    assert "absolute error" in message and "e+" not in message
    assert "nan" not in failure(math.inf, 2.0).lower().replace("nan ", "")


def test_scalars_must_be_python_floats():
    assert ".item()" in failure(torch.tensor(6.0), 6.0)
    check(6, 6.0)  # an int is a fine float


def test_tolerances_separate_forward_from_central_differences():
    forward, central = 6.000009999951316, 6.000000000039306
    check(central, 6.0, "numerical")
    with pytest.raises(CheckFailure):
        check(forward, 6.0, "numerical")


def test_relative_tolerance_has_no_absolute_floor():
    with pytest.raises(CheckFailure):
        check(torch.tensor([0.0], dtype=torch.float64), torch.tensor([4.248354255291589e-18], dtype=torch.float64),
              "relative")


def test_infinity_must_be_infinity():
    check(math.inf, math.inf)
    assert "got 1e+300" in failure(1e300, math.inf)


def test_tuple_parts_are_named_in_words():
    message = failure((1.0, 3.0), (1.0, 2.0), names=("dL/dw", "dL/db"))
    assert message.startswith("the second returned value, dL/db: got 3")
    assert "expected a tuple of 2 values, got 3 values" in failure((1.0, 2.0, 3.0), (1.0, 2.0))


def test_lists_of_tensors_compare_item_by_item_and_accept_a_tuple():
    expected = [torch.ones(2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
    check((torch.ones(2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)), expected)
    assert failure([torch.ones(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)], expected).startswith("item 1:")
    assert "expected a list of 2 values, got 1 values" in failure([torch.ones(2, dtype=torch.float64)], expected)


def test_strings_compare_exactly():
    check("saddle", "saddle")
    assert "got 'Saddle'" in failure("Saddle", "saddle")


def test_messages_speak_the_students_language():
    messages.set_language("ko")
    try:
        korean = failure(torch.zeros(2, 3, dtype=torch.float64), EXPECTED)
    finally:
        messages.set_language("en")
    assert "(2, 2)" in korean and "expected shape" not in korean, korean


@pytest.mark.parametrize("value", [
    1.5, -0.0, math.inf, "saddle", True, None, (1.0, "a"), [torch.ones(2), 3],
    torch.arange(6, dtype=torch.float64).reshape(2, 3), torch.tensor([1, 2]), torch.tensor([math.nan]),
    torch.tensor([True, False]), torch.zeros(0, 3), torch.tensor(2.5, dtype=torch.float32),
    torch.arange(6.0).reshape(2, 3).t(),
])
def test_values_round_trip_the_channel_bit_for_bit(value):
    buffers: list[bytes] = []
    back = values.unpack(values.pack(value, buffers), buffers)
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert torch.equal(back.nan_to_num(7), value.nan_to_num(7))
    elif isinstance(value, list):
        assert torch.equal(back[0], value[0]) and back[1] == 3
    else:
        assert back == value or (isinstance(value, float) and math.isnan(back) and math.isnan(value))


def test_the_plans_plain_data_round_trips():
    for value in [1.5, math.inf, (torch.tensor([1.0, math.nan]), "x"), [1, 2]]:
        back = values.from_plain(values.plain(value))
        assert type(back) is type(value)


def test_a_students_objects_cross_as_their_type_name_only():
    class Sneaky(torch.Tensor):
        pass

    for value in [object(), Sneaky(torch.ones(2)), {"a": 1}, lambda: 1, torch.ones(2).to_sparse()]:
        buffers: list[bytes] = []
        assert isinstance(values.unpack(values.pack(value, buffers), buffers), values.Opaque)


@pytest.mark.parametrize("data, buffers", [
    ({"tensor": 0, "dtype": "float64", "shape": [2]}, [b"\0" * 8]),  # too few bytes for the shape
    ({"tensor": 1, "dtype": "float64", "shape": [1]}, [b"\0" * 8]),  # no such buffer
    ({"tensor": 0, "dtype": "object", "shape": [1]}, [b"\0" * 8]),
    ({"tensor": 0, "dtype": "bool", "shape": [1]}, [b"\x07"]),  # a bool that is neither 0 nor 1
    ({"tensor": 0, "dtype": "float64", "shape": [-1]}, [b""]),
    ({"__reduce__": "os.system"}, []), ({"float": "1e308"}, []), ({"tuple": "abc"}, []),
    ({"list": [[[[[[[[[[[1]]]]]]]]]]]}, []),
])
def test_malformed_values_are_refused(data, buffers):
    with pytest.raises(ValueError):
        values.unpack(data, buffers)


def call_spec(fn, *args, **extra):
    return {"fn": fn, "args": list(args), "kwargs": {}, "params": ["f", "x", "v"], **extra}


def test_a_function_that_changes_its_input_in_place_is_told_so():
    def steps(f, x, v):
        x -= v
        return x

    spec = call_spec("steps", None, {"randn": 0, "shape": [3], "dtype": "float64"},
                     {"randn": 1, "shape": [3], "dtype": "float64"})
    with pytest.raises(InputChanged, match="steps changed its input x in place"):
        call({"steps": steps}, spec, {})
    assert call({"steps": lambda f, x, v: x - v}, spec, {}).shape == (3,)


def test_nan_left_in_place_is_not_a_change():
    spec = call_spec("same", None, {"tensor": [{"float": "nan"}, 1.0], "dtype": "float64", "shape": [2]})
    call({"same": lambda f, x: x.clone()}, spec, {})


@pytest.mark.parametrize("route", [
    lambda f, x, v: torch.func.hessian(f)(x) @ v,
    lambda f, x, v: __import__("torch._functorch.eager_transforms", fromlist=["x"]).hessian(f)(x) @ v,
    lambda f, x, v: torch.autograd.functional.hessian(f, x) @ v,
    lambda f, x, v: torch.func.vmap(lambda u: u * 2)(v),
])
def test_a_forbidden_api_is_forbidden_by_every_route_and_named(route):
    spec = call_spec("hvp", {"fn": "f"}, {"randn": 0, "shape": [3], "dtype": "float64"},
                     {"randn": 1, "shape": [3], "dtype": "float64"}, forbid=list(guards.FULL_MATRIX_APIS),
                     because="build the Hessian")
    guards.install_guards(guards.FULL_MATRIX_APIS)
    with pytest.raises(guards.ForbiddenAPIError, match=r"hvp must not build the Hessian: it called torch\."):
        call({"hvp": route}, spec, {"f": lambda x: (x ** 3).sum()})
    # Outside the forbidding call the API works as usual.
    assert torch.func.hessian(lambda x: (x ** 2).sum())(torch.ones(2)).shape == (2, 2)


def test_with_autograd_forbidden_grad_mode_is_off_and_stays_off():
    def backward_by_autograd(f, x):
        with torch.enable_grad():
            return x

    spec = call_spec("backward", None, {"randn": 0, "shape": [3], "dtype": "float64"},
                     forbid=list(guards.AUTOGRAD_APIS), because="use autograd")
    guards.install_guards(guards.AUTOGRAD_APIS)
    with pytest.raises(guards.ForbiddenAPIError, match="_set_grad_enabled"):
        call({"backward": backward_by_autograd}, spec, {})
    assert torch.is_grad_enabled()
    with torch.no_grad():  # turning it off stays allowed, in or out of a forbidding call
        pass


def test_every_tolerance_is_documented():
    for name in checks.TOLERANCES:
        assert f"``{name}``" in checks.__doc__


def test_a_failure_message_does_not_repeat_the_case_label():
    """Feedback and otter show the label beside the message: the message must not say it again."""
    case = {"label": "x^2 at x = 3 is about 6", "calls": [{"fn": "f", "args": [], "kwargs": {}}], "post": None,
            "expected": 6.0, "tol": "exact", "hidden": False}
    with pytest.raises(CheckFailure) as raised:
        checks.judge(case, [6.5], {})
    assert str(raised.value) == "got 6.5, expected 6 (relative error 8.33e-02, tolerance 1e-09)"
