"""Fixtures that several assignments share.  Like every fixture, each is a module-level def
that uses only torch and math: the build ships its source to the graders."""

from typing import Any

import torch


def sketch(outputs: list[Any], inputs: list[Any], _directions: dict[int, torch.Tensor] = {}) -> Any:
    """Compare a huge vector through 8 fixed random projections and its norm.

    The cost checks run on n in the hundreds of thousands; shipping the whole expected vector
    to every grader is not worth it, and a wrong vector almost surely changes a projection.
    The projections depend only on n: drawn once per n (``_directions`` keeps them), not once
    per submission.
    """
    out = outputs[0]
    if not isinstance(out, torch.Tensor) or out.dim() != 1:
        return out
    n = out.numel()
    if n not in _directions:
        generator = torch.Generator().manual_seed(20261122)
        _directions[n] = torch.randn(8, n, generator=generator, dtype=torch.float64)
    directions = _directions[n]
    out = out.to(torch.float64)
    return torch.cat([directions @ out, out.norm().reshape(1)]).to(outputs[0].dtype)
