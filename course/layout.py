"""Where a course lives: its root folder, its sources and its generated files, and the
pinned packages (``pyproject.toml`` is the one list; every install line is derived from it).

The root is the folder that holds ``solutions/``: ``--root`` when given, else the current
folder or the nearest one above it, so that ``course`` works the same from a clone, from an
installed package (``pip install .``) and from any subfolder.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# What a student's machine needs to run a notebook and `otter check` (a kernel included).
STUDENT_PACKAGES = ("torch", "numpy", "matplotlib", "koreanize-matplotlib", "setuptools", "otter-grader", "ipykernel")
# What the hardened grader needs on Gradescope (no otter, no Jupyter: it runs the code cells itself).
GRADER_PACKAGES = ("torch", "numpy", "matplotlib", "koreanize-matplotlib", "setuptools", "ipython")


class CourseError(Exception):
    """A problem the user can fix; the command line prints it and exits with status 2."""


def find_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir():
            return folder
    raise CourseError(f"no course here: neither {here} nor a folder above it has solutions/ "
                      "(run `course` from the course's folder, or pass --root)")


def autograder_zip(root: Path, assignment: str) -> Path:
    return root / "autograder" / f"{assignment}-autograder.zip"


def pins(root: Path) -> dict[str, str]:
    """Package name -> its exact requirement, from ``pyproject.toml``'s dependencies."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found: dict[str, str] = {}
    for requirement in project["dependencies"]:
        name = re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0].lower()
        found[name] = requirement.split(";")[0].strip()
    return found


def student_install_line(root: Path) -> str:
    """Two pip calls: torch alone from PyTorch's CPU index (a plain `pip install torch` on Linux
    pulls gigabytes of CUDA), then the rest from PyPI."""
    pinned = pins(root)
    rest = " ".join(f'"{pinned[name]}"' for name in STUDENT_PACKAGES)
    return f'pip install --no-deps "{pinned["torch"]}" --index-url {CPU_INDEX} && pip install {rest}'


def grader_requirements(root: Path) -> str:
    pinned = pins(root)
    return "".join(f"{pinned[name]}\n" for name in GRADER_PACKAGES)
