"""The answers a student derives by hand in hw02_gradients, per question: no student notebook
may print them (tests/test_formulas.py)."""

FORMULAS: dict[str, list[str]] = {
    "q4": [r"(A + A^\top) x", r"A x + A^\top x", r"(A x)_k + (A^\top x)_k",
           r"\sum_j A_{kj} x_j + \sum_i A_{ik} x_i", "(A + A.T) @ x"],
    "q5": [r"-2 \Phi^\top (y - \Phi\theta)", r"2 \Phi^\top (\Phi\theta - y)", r"-2 (y - \Phi\theta)^\top \Phi",
           r"-2 \Phi^\top y + 2 \Phi^\top \Phi \theta", r"2 e^\top (-\Phi)", r"\partial L / \partial e = 2 e^\top",
           r"\partial e / \partial \theta = -\Phi", r"-2 \Phi^\top y", "-2 * Phi.T @ (y - Phi @ theta)"],
}
