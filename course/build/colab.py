"""Students work where they already are: one zip per assignment and edition, and Google Colab.

A student notebook needs its ``tests/`` and ``calc4ml_runtime/`` beside it.  ``course build``
writes both ways to get them:

- ``assignments/<hw>.zip`` and ``assignments/<lang>/<hw>.zip``, beside the edition's folder: the
  folder ``<hw>/`` with the notebook, ``tests/`` and ``calc4ml_runtime/``, one click to download
  (GitHub cannot download a subfolder).  Deterministic: sorted entries, 1980-01-01, mode 0644.
- in every notebook, an "Open in Colab" badge and a first code cell that, on Colab only, fetches
  that zip from the course's published location, checks each support file against the sha256
  written into the cell at build time, extracts them (all or nothing), and installs what Colab
  lacks (otter-grader; koreanize-matplotlib for the Korean edition), never torch or numpy.

The published location is ``[tool.calc4ml] published`` in ``pyproject.toml``: the address under
which the repository's ``assignments/`` folder is served, e.g.
``https://github.com/OWNER/REPO/raw/main/assignments`` (``CALC4ML_PUBLISHED`` overrides it, for
tests).  The cell verifies the support files only: the zip holds the notebook, which holds the
digests, so the zip's own digest cannot be in the notebook.

Otter 7 has no ``Notebook(colab=True)`` (otter 2 had): it recognises Colab from IPython's shell
by itself, and on Colab it needs ``otter.Notebook()`` without a path (the notebook is not a file
in Colab's working folder), so the init cell passes the path everywhere else only.  Otter's
``export`` refuses to run on Colab: the submission cell tells students to download the .ipynb.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from urllib.parse import urlparse

import nbformat

from course import i18n, layout
from course.build import links
from course.files import sha256
from course.layout import CourseError

ENVIRONMENT = "CALC4ML_PUBLISHED"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# What the cell installs when missing (module -> package); torch, numpy and matplotlib are Colab's own.
COLAB_PACKAGES = {"en": {"otter": "otter-grader"},
                  "ko": {"otter": "otter-grader", "koreanize_matplotlib": "koreanize-matplotlib"}}
# The first words of the cell, by which a reader (and the tests) recognise it.
MARK = "# Google Colab only"


def published(root: Path) -> str:
    """Where the repository's ``assignments/`` folder is served (no trailing slash)."""
    location = os.environ.get(ENVIRONMENT)
    if not location:
        import tomllib
        pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        location = pyproject.get("tool", {}).get("calc4ml", {}).get("published")
    if not location or urlparse(location).scheme not in ("https", "http"):
        raise CourseError("set [tool.calc4ml] published in pyproject.toml to the web address of the course's "
                          "assignments/ folder, e.g. https://github.com/OWNER/REPO/raw/main/assignments")
    return location.rstrip("/")


def relative_path(name: str, language: str) -> str:
    """An edition's folder below ``assignments/``."""
    return name if language == "en" else f"{language}/{name}"


def student_zip_path(root: Path, name: str, language: str) -> Path:
    return root / "assignments" / f"{relative_path(name, language)}.zip"


def student_zip_files(name: str, notebook: bytes, support: dict[str, bytes]) -> dict[str, bytes]:
    """The zip's entries: one folder named after the assignment, so unzipping makes one folder."""
    return {f"{name}/{name}.ipynb": notebook, **{f"{name}/{path}": data for path, data in support.items()}}


def colab_url(location: str, name: str, language: str) -> str | None:
    """Colab's link to the published notebook, when the location is a GitHub ``raw`` address."""
    parsed = urlparse(location)
    parts = parsed.path.strip("/").split("/")
    if parsed.netloc != "github.com" or len(parts) < 4 or parts[2] != "raw":
        return None
    owner, repo, ref, folder = parts[0], parts[1], parts[3], "/".join(parts[4:])
    path = "/".join(p for p in (folder, relative_path(name, language), f"{name}.ipynb") if p)
    return links.colab_link(f"https://github.com/{owner}/{repo}", path, ref)


CELL = string.Template('''\
$mark: fetches this assignment's checks (tests/, calc4ml_runtime/) and installs what
# Colab lacks, keeping Colab's own torch and numpy. Elsewhere it does nothing. Written by `course build`.
def _calc4ml_colab_setup():
    import sys
    if "google.colab" not in sys.modules:
        return
    import hashlib, importlib, importlib.util, io, os, shutil, subprocess, tempfile, urllib.error, urllib.request, zipfile
    url = $url
    folder = $folder
    files = {  # sha256 of every file this cell extracts
$files
    }
    packages = $packages
    here = os.getcwd()

    def fresh(path):
        try:
            with open(os.path.join(here, path), "rb") as f:
                return hashlib.sha256(f.read()).hexdigest() == files[path]
        except OSError:
            return False

    if not all(fresh(path) for path in files):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                archive = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError($http.format(url=url, status=error.code)) from None
        except (urllib.error.URLError, OSError) as error:
            raise RuntimeError($offline.format(url=url, reason=getattr(error, "reason", error))) from None
        try:
            with zipfile.ZipFile(io.BytesIO(archive)) as z:
                contents = {path: z.read(folder + path) for path in files}
        except (zipfile.BadZipFile, KeyError) as error:
            raise RuntimeError($broken.format(url=url, reason=error)) from None
        wrong = sorted(path for path, data in contents.items() if hashlib.sha256(data).hexdigest() != files[path])
        if wrong:
            raise RuntimeError($digest.format(url=url, files=", ".join(wrong))) from None
        # Everything verified: write into a scratch folder, then move each folder into place.
        scratch = tempfile.mkdtemp(prefix=".calc4ml-", dir=here)
        try:
            for path, data in contents.items():
                os.makedirs(os.path.dirname(os.path.join(scratch, path)), exist_ok=True)
                with open(os.path.join(scratch, path), "wb") as f:
                    f.write(data)
            for top in sorted({path.split("/")[0] for path in files}):
                if os.path.isdir(os.path.join(here, top)):
                    os.replace(os.path.join(here, top), os.path.join(scratch, "old-" + top))
                os.replace(os.path.join(scratch, top), os.path.join(here, top))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    missing = [pin for module, pin in packages.items() if importlib.util.find_spec(module) is None]
    if missing:
        run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError($pip.format(packages=" ".join(missing), error=run.stderr.strip()[-500:])) from None
        importlib.invalidate_caches()
    print($ready.format(folder=here))


_calc4ml_colab_setup()''')


def setup_cell(root: Path, name: str, language: str, support: dict[str, bytes], catalogue: i18n.Catalogue) -> str:
    """The Colab cell of one edition, whose support files are ``support`` (path -> bytes)."""
    _ = catalogue.gettext
    pins = layout.pins(root)
    url = f"{published(root)}/{relative_path(name, language)}.zip"
    packages = {module: pins[package] for module, package in COLAB_PACKAGES[language].items()}
    files = "\n".join(f"        {path!r}: {sha256(data)!r},"
                      for path, data in sorted(support.items()))
    messages = {
        "http": _("The course's files are not at {url} (HTTP {status}). Tell your instructor; meanwhile, "
                  "download the assignment's zip and work in Jupyter."),
        "offline": _("Could not download this assignment's checks from {url} ({reason}). Colab needs the internet "
                     "once, to fetch them: reconnect (Runtime > Reconnect), then run this cell again."),
        "broken": _("What {url} sent is not the assignment's zip ({reason}); nothing was extracted. Run this cell "
                    "again; if it fails again, tell your instructor."),
        "digest": _("The checks at {url} differ from the ones this notebook was made with ({files}); nothing was "
                    "extracted. Open the notebook again from the course's link (the course may have changed since "
                    "you copied it), then run this cell."),
        "pip": _("Could not install {packages} with pip: {error}. Check the internet connection, then run this "
                 "cell again."),
        "ready": _("Ready: this assignment's checks are in {folder}. Run the cells below in order."),
    }
    return CELL.substitute(mark=MARK, url=repr(url), folder=repr(f"{name}/"), files=files, packages=repr(packages),
                           **{key: repr(text) for key, text in messages.items()})


def init_source(name: str, catalogue: i18n.Catalogue) -> str:
    """Otter's init cell: on Colab, no notebook path (otter finds its tests alone)."""
    _ = catalogue.gettext
    return (f"# {_('Initialize Otter')} ({_('on Google Colab the notebook is not a file in the working folder')})\n"
            "import sys\n\nimport otter\n\n"
            f'grader = otter.Notebook() if "google.colab" in sys.modules else otter.Notebook("{name}.ipynb")')


def adapt(nb: nbformat.NotebookNode, root: Path, name: str, language: str, support: dict[str, bytes],
          catalogue: i18n.Catalogue) -> nbformat.NotebookNode:
    """The student notebook (title, set-up, otter init, ...; export cell last but one) made
    ready for Colab: the badge and a word on Colab in the set-up cell, the Colab cell before
    otter's init cell, and how to submit from Colab under the export cell's prose."""
    _ = catalogue.gettext
    location = published(root)
    init = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "otter.Notebook(" in cell.source)
    nb.cells[init].source = init_source(name, catalogue)
    link = colab_url(location, name, language)
    badge = f"[![Open In Colab]({BADGE})]({link})\n\n" if link else ""
    setup = next(i for i, cell in enumerate(nb.cells[:init]) if cell.cell_type == "markdown" and "```bash" in cell.source)
    nb.cells[setup].source = (badge + nb.cells[setup].source + "\n\n" +
                              _("**On Google Colab** there is nothing to install: run the first code cell below, "
                                "which fetches this assignment's checks."))
    cell = nbformat.v4.new_code_cell(setup_cell(root, name, language, support, catalogue))
    # Locked as otter locks its own cells; otter run skips it (otter_ignore), course grade by its hash.
    cell.metadata = {"deletable": False, "editable": False, "tags": ["otter_ignore"]}
    nb.cells.insert(init, cell)
    export = next(i for i in range(len(nb.cells) - 1, -1, -1)
                  if nb.cells[i].cell_type == "code" and "grader.export(" in nb.cells[i].source)
    prose = next(i for i in range(export - 1, -1, -1) if nb.cells[i].cell_type == "markdown")
    nb.cells[prose].source += "\n\n" + _("**On Google Colab**, where this cell cannot make the zip: "
                                         "*File > Download > Download .ipynb*, and submit that .ipynb file.")
    return nb
