"""The answers a student derives by hand in hw01_derivatives, per question: no student notebook
may print them (tests/test_formulas.py). One entry per way of writing the same result; the
test compares them with spaces, LaTeX spacing and `\\top`/`.T` variants normalised away."""

FORMULAS: dict[str, list[str]] = {
    "q4": [r"\sigma(x)(1 - \sigma(x))", r"\sigma(1 - \sigma)", "s (1 - s)", "sigmoid(x) (1 - sigmoid(x))",
           r"\sigma(x)\sigma(-x)", "sigmoid(x) * sigmoid(-x)"],
    "q5": [r"\frac{2}{n} (\hat y_i - y_i)", "2/n (y_pred - y_true)", "2 * (y_pred - y_true)"],
    "q6": ["2 (w x + b - y) x", "2 (w x + b - y)", "2 * residual * x"],
    "q7": [r"p - \mathrm{onehot}(t)", "softmax(z) - onehot", r"p_j - \delta_{jt}", "softmax(logits, dim=1) - onehot"],
}
