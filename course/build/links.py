"""`course links`: one link per assignment and edition that opens it, with its checks, on a
JupyterHub (nbgitpuller) or in Google Colab.

nbgitpuller's link (its documentation's link generator, ``generateRegularUrl``) is the hub's
``hub/user-redirect/git-pull`` with the query ``repo``, ``urlpath`` and ``branch``, encoded
as a form (``URLSearchParams``): the hub clones the repository into a folder named after it
(or pulls it again, keeping the student's changes) and opens ``urlpath``, here
``lab/tree/<repository>/assignments/[ko/]<hw>/<hw>.ipynb``, so the notebook opens beside its
``tests/`` and ``calc4ml_runtime/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, urlparse

from course.layout import CourseError

INTERFACES = {"lab": "lab/tree/", "classic": "tree/"}


@dataclass(frozen=True)
class Link:
    assignment: str
    language: str
    url: str


def notebook_paths(root: Path) -> list[tuple[str, str, str]]:
    """(assignment, language, the notebook's path in the repository) for every built notebook."""
    found = []
    for folder in sorted((root / "assignments").iterdir()):
        for language, base in (("en", folder), ("ko", root / "assignments" / "ko" / folder.name)):
            notebook = base / f"{folder.name}.ipynb"
            if folder.name != "ko" and notebook.exists():
                found.append((folder.name, language, notebook.relative_to(root).as_posix()))
    if not found:
        raise CourseError(f"no built assignments under {root / 'assignments'}: run `course build` first")
    return found


def repository_name(repo: str) -> str:
    parsed = urlparse(repo)
    if parsed.scheme not in ("https", "http") or not parsed.netloc or not parsed.path.strip("/"):
        raise CourseError(f"--repo {repo!r}: give the repository's web address, e.g. https://github.com/you/calc4ml")
    return parsed.path.rstrip("/").split("/")[-1].removesuffix(".git")


def hub_link(hub: str, repo: str, path: str, branch: str = "main", interface: str = "lab") -> str:
    """The nbgitpuller link that opens ``path`` (relative to the repository) on ``hub``."""
    if urlparse(hub).scheme not in ("https", "http") or not urlparse(hub).netloc:
        raise CourseError(f"--hub {hub!r}: give the hub's address, e.g. https://hub.example.edu")
    query = {"repo": repo, "urlpath": f"{INTERFACES[interface]}{repository_name(repo)}/{path}", "branch": branch}
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?" + "&".join(f"{k}={_form(v)}" for k, v in query.items())


def _form(value: str) -> str:
    """application/x-www-form-urlencoded as URLSearchParams writes it: only ``*-._`` and
    alphanumerics kept, a space as ``+``."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def colab_link(repo: str, path: str, branch: str = "main") -> str | None:
    """Colab opens notebooks straight from GitHub: ``colab.research.google.com/github/<owner>/<repo>/blob/<branch>/<path>``."""
    parsed = urlparse(repo)
    parts = parsed.path.strip("/").removesuffix(".git").split("/")
    if parsed.netloc != "github.com" or len(parts) != 2:
        return None
    return f"https://colab.research.google.com/github/{parts[0]}/{parts[1]}/blob/{quote(branch)}/{path}"


def links(root: Path, repo: str, hub: str | None = None, branch: str = "main",
          interface: str = "lab") -> list[Link]:
    out = []
    for assignment, language, path in notebook_paths(root):
        if hub:
            out.append(Link(assignment, language, hub_link(hub, repo, path, branch, interface)))
        colab = colab_link(repo, path, branch)
        if colab:
            out.append(Link(assignment, language, colab))
    return out
