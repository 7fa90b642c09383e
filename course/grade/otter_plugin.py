"""``otter run``'s plugin (named in each autograder's ``otter_config.json``, imported from the
installed ``course`` package): any notebook becomes runnable.  VS Code's or a venv's kernel name
becomes ``python3``, a notebook that lost its metadata (a jupytext round trip) is graded as the
autograder's assignment, and the course's unchanged demonstration cells are skipped, as
``course grade`` skips them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from course.cells import runnable

if TYPE_CHECKING:  # otter hands over notebooks it read with nbformat
    import nbformat

try:
    from otter.plugins import AbstractOtterPlugin
except ImportError:  # without otter, nothing needs the plugin
    AbstractOtterPlugin = object


class Normalise(AbstractOtterPlugin):
    """``otter run``'s hook before the notebook runs (config: ``{"assignment": name}``).

    Otter runs a notebook under its own kernelspec name when not in a container, so a notebook
    saved by VS Code (``venv-calc4ml``) ends in NoSuchKernel; and it refuses a notebook without
    otter's metadata ("assignment 'None'").  Here the kernel is ``python3`` (the Python running
    otter), only a notebook that names another assignment is refused, and the cells that
    ``course grade`` would skip are emptied."""

    def before_execution(self, submission: nbformat.NotebookNode | str) -> nbformat.NotebookNode | str:
        if isinstance(submission, str):  # a .py script: nothing to normalise
            return submission
        metadata = submission.setdefault("metadata", {})
        metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        self.skip_demonstrations(submission)
        named = (metadata.get("otter") or {}).get("assignment_name")
        expected = (self.plugin_config or {}).get("assignment")
        if named and expected and named != expected:
            from otter.run.run_autograder.utils import OtterRuntimeError
            # otter writes an OtterRuntimeError's message into results.json
            raise OtterRuntimeError(f"this notebook is for assignment '{named}'; this autograder grades '{expected}'")
        return submission

    def skip_demonstrations(self, notebook: nbformat.NotebookNode) -> None:
        """Empty the course's demonstration cells a student left unchanged, as ``course grade``
        skips them (``course/cells.py``): grading never needs them, and one of hw06's runs the
        student's ``cg_newton_step`` at n = 300,000, where a slow one would hold otter for hours."""
        plan = Path(self.submission_path).resolve().parent.parent / "source" / "plan.json"
        try:
            skippable = set(json.loads(plan.read_text(encoding="utf-8")).get("demonstrations", []))
        except (OSError, ValueError):
            return
        code = [(i, cell.source) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        kept = {i for i, _ in runnable(code, skippable)}
        for i, _ in code:
            if i not in kept:
                notebook.cells[i].source = ""
