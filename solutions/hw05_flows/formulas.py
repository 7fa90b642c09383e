"""The answers a student derives by hand in hw05_flows, per question: no student notebook may
print them (tests/test_formulas.py)."""

FORMULAS: dict[str, list[str]] = {
    "q1": [r"r\,dr\,d\theta", r"r \cos^2\theta + r \sin^2\theta", r"r(\cos^2\theta + \sin^2\theta)"],
    "q6": [r"1 + u^\top \psi(z)", r"1 + u^\top\psi", r"\psi(z) = (1 - \tanh^2(w^\top z + b)) w",
           r"\log\lvert 1 + u^\top", "(1 - torch.tanh(z @ w + b) ** 2) * (u @ w)"],
}
