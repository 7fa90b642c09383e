"""Values as data, two encodings:

- *plain* data (``plain``/``from_plain``) for the plan: JSON numbers, strings, lists, dicts;
  tensors as ``{"tensor": nested list, "dtype", "shape"}``;
- *wire* data (``pack``/``unpack``) for the sandbox's channel: the same, with each tensor's
  bytes in a separate buffer.

Anything else a student returns travels as its type name only (``Opaque``), so no object from
a student can run code in the grader."""

from __future__ import annotations

import math
from typing import Any

import torch


DTYPES = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}


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

    def __repr__(self) -> str:
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
