"""The answers a student derives by hand in hw03_jacobians, per question: no student notebook
may print them (tests/test_formulas.py)."""

FORMULAS: dict[str, list[str]] = {
    "q2": [r"\mathrm{diag}(p) - p p^\top", r"p_i(\delta_{ij} - p_j)", r"p_i(1 - p_i)", r"-p_i p_j",
           "torch.diag(p) - torch.outer(p, p)"],
    "q7": [r"W^\top g", r"g x^\top", r"g_i x_j", "W.T @ grad_y", "torch.outer(grad_y, x)"],
}
