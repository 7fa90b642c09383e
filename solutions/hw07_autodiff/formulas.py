"""The VJPs a student derives by hand in hw07_autodiff, per question: no student notebook may
print them (tests/test_formulas.py). One entry per way of writing the same result; the test
compares them with spaces, LaTeX spacing, ``*``/``@`` and ``\\top``/``.T`` variants normalised
away. The worked examples (``+``, ``exp``, ``cumsum``) and the forward operations may appear."""

FORMULAS: dict[str, list[str]] = {
    "q4": [r"g \mapsto -g", "lambda g: -g",
           r"g \odot y", r"g \odot x", r"\bar y \odot y", "g * other.value", "g * self.value",
           r"-x / y^2", r"-\frac{x}{y^2}", r"-g\, x / y^2", "-g * self.value / other.value ** 2",
           r"g / y", "g / other.value",
           r"p\, x^{p-1}", "p * x ** (p - 1)", "p * self.value ** (p - 1)"],
    "q5": [r"G Y^\top", r"X^\top G", r"\bar Y W^\top", r"X^\top \bar Y", r"\bar y w^\top", r"x^\top \bar y",
           r"\sum_k \bar y_{ik} w_{jk}", r"\sum_i x_{ij} \bar y_{ik}", "g @ other.value.T", "self.value.T @ g",
           r"G \mapsto G^\top", "lambda g: g.T", "g.expand(shape)", r"g \mapsto g / n", r"\frac{g}{n}"],
    "q6": [r"g \mapsto g / x", "g / self.value", r"\bar y / x",
           r"[x > 0]", "g * (self.value > 0)",
           r"s \odot (1 - s)", "s * (1 - s)", r"\sigma(x)(1 - \sigma(x))",
           r"1 - t^2", "1 - t * t", r"1 - \tanh^2", "1 - tanh(x) ** 2",
           r"I - \mathbf{1} p^\top", r"g - p \odot \sum_j g_j", r"\bar y - p \sum_j \bar y_j",
           "g - out.exp() * g.sum(dim=-1, keepdim=True)", "g - softmax(z) * g.sum(",
           r"\mathrm{softmax}(z) - \mathrm{onehot}(y)", "softmax(z) - onehot(y)", r"(p - \mathrm{onehot}(y)) / N",
           r"\frac{1}{N} (p - \mathrm{onehot}(y))", "d[rows, y] -= 1"],
}
