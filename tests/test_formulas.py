"""What a student notebook must not say: the formulas a question asks the student to derive
(listed per question in ``solutions/<hw>/formulas.py``), and otter's English where the Korean
edition speaks Korean."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.grading import ROOT

# Spellings of one symbol that must compare equal: LaTeX and Unicode, LaTeX and code.
SAME = [("\\top", "T"), ("\\intercal", "T"), ("ᵀ", "^T"), (".T", "^T"), ("**", "^"),
        ("\\Phi", "Φ"), ("Phi", "Φ"), ("\\theta", "θ"), ("theta", "θ"), ("\\sigma", "σ"), ("sigmoid", "σ"),
        ("\\delta", "δ"), ("\\psi", "ψ"), ("\\partial", "∂"), ("\\lvert", "|"), ("\\rvert", "|"),
        ("\\cos", "cos"), ("\\sin", "sin"), ("\\tanh", "tanh"), ("\\log", "log"), ("torch.", "")]
# Spacing, sizing and grouping that do not change what a formula says.
DROP = ["\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\big", "\\Big", "\\mathrm", "\\operatorname",
        "\\,", "\\;", "\\!", "\\:", "\\ ", "\\cdot", "*", "@", "{", "}", "$"]


def normalised(text: str) -> str:
    """``text`` with the spellings of one formula made equal: ``(A + A^\\top)\\, x``,
    ``(A+A^T)x`` and ``(A + A.T) @ x`` all become ``(A+A^T)x``."""
    for old, new in SAME:
        text = text.replace(old, new)
    for old in DROP:
        text = text.replace(old, "")
    return "".join(text.split())


def formulas(folder: Path) -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location(f"formulas_{folder.name}", folder / "formulas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FORMULAS


def student_notebooks(name: str) -> list[Path]:
    return [ROOT / "assignments" / name / f"{name}.ipynb", *sorted((ROOT / "assignments").glob(f"*/{name}/{name}.ipynb"))]


def printed(path: Path) -> str:
    """Every cell's text, as the student reads it."""
    return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"])


def leaks(text: str, listed: dict[str, list[str]]) -> list[str]:
    found = normalised(text)
    return [f"{question}: {formula}" for question, answers in listed.items() for formula in answers
            if normalised(formula) in found]


LISTED = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/formulas.py"))


def test_every_assignment_with_hand_derivations_lists_them():
    assert {"hw01_derivatives", "hw02_gradients", "hw03_jacobians", "hw05_flows", "hw06_backprop"} <= set(LISTED)


@pytest.mark.parametrize("name", LISTED)
def test_no_student_notebook_prints_a_derivation_it_asks_for(name):
    listed = formulas(ROOT / "solutions" / name)
    notebooks = student_notebooks(name)
    assert len(notebooks) == 2, notebooks  # English and Korean
    for path in notebooks:
        assert leaks(printed(path), listed) == [], f"{path.relative_to(ROOT)} prints an answer the student derives"


def test_the_comparison_sees_through_spacing_latex_and_code():
    listed = {"q4": ["(A + A^T) x"], "q2": [r"\mathrm{diag}(p) - p p^\top"]}
    assert leaks(r"so $\nabla_x\, x^\top A x = (A + A^\top)\, x$.", listed) == ["q4: (A + A^T) x"]
    assert leaks("return (A + A.T) @ x", listed) == ["q4: (A + A^T) x"]
    assert leaks(r"$J = \operatorname{diag}(p) - p\,p^{\top}$", listed) == [r"q2: \mathrm{diag}(p) - p p^\top"]
    assert leaks(r"$(A + A^\top)/2$ is closer to the true Hessian", listed) == []


def test_korean_notebooks_speak_korean_in_otter_s_own_cells():
    for path in sorted((ROOT / "assignments" / "ko").glob("*/*.ipynb")):
        text = printed(path)
        for english in ("## Submission", "Save your notebook first", "# Initialize Otter"):
            assert english not in text, (path, english)
        assert "## 제출" in text and "# Otter 초기화" in text, path
