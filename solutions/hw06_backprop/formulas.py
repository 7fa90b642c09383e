"""The answers a student derives by hand in hw06_backprop, per question: no student notebook
may print them (tests/test_formulas.py). Homework 3's outer product $v x^\\top$ may appear: the
student derived it there."""

FORMULAS: dict[str, list[str]] = {
    "q1": [r"\bar Z^\top X", r"\bar Y^\top H", r"\bar Y W_2", r"\bar H \odot \mathbb{1}[Z > 0]",
           r"\frac{2}{Nk} (\hat Y - y)", r"\sum_i \bar Y_{ij} H_{ia}", r"\delta_l^\top h_{l-1}",
           r"(\delta_{l+1} W_{l+1}) \odot \sigma'(z_l)"],
    "q3": [r"\delta_{ik} x_l", r"\mathrm{kron}(I_m, x^\top)", r"v_i \delta_{ik} x_l"],
}
