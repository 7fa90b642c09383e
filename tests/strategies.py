"""Shared Hypothesis strategies for the assignments' unit tests: float64 inputs of moderate size
(no overflow in exp), seeds for torch generators, and small sizes."""

import torch
from hypothesis import strategies as st

# A seed for torch.Generator().manual_seed.
seeds = st.integers(0, 2**31 - 1)
# A small dimension: a vector's length, a matrix's side, a batch size.
sizes = st.integers(1, 6)

moderate_floats = st.floats(-5, 5, allow_nan=False, allow_infinity=False)


@st.composite
def float64_vectors(draw, min_size=1, max_size=8, bound=30.0):
    values = draw(st.lists(st.floats(-bound, bound, allow_nan=False), min_size=min_size, max_size=max_size))
    return torch.tensor(values, dtype=torch.float64)


@st.composite
def float64_matrices(draw, rows=st.integers(1, 5), cols=st.integers(1, 5), bound=10.0):
    m, n = draw(rows), draw(cols)
    values = draw(st.lists(st.floats(-bound, bound, allow_nan=False), min_size=m * n, max_size=m * n))
    return torch.tensor(values, dtype=torch.float64).reshape(m, n)
