import pytest
import torch
from hypothesis import settings

# Shared machines are noisy: no per-example deadlines (speed lives in benchmarks/).
settings.register_profile("course", deadline=None, max_examples=50)
settings.load_profile("course")


@pytest.fixture
def float64_default():
    """The notebooks run with float64 as the default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
