"""`course links`: nbgitpuller and Colab links, in their exact form."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course.build import links
from course.layout import CourseError

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://github.com/calc4ml/course"
HW01 = "assignments/hw01_derivatives/hw01_derivatives.ipynb"


def test_the_hub_link_has_nbgitpullers_exact_form():
    assert links.hub_link("https://hub.example.edu/", REPO, HW01) == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fcalc4ml%2Fcourse"
        "&urlpath=lab%2Ftree%2Fcourse%2Fassignments%2Fhw01_derivatives%2Fhw01_derivatives.ipynb&branch=main")
    classic = links.hub_link("https://hub.example.edu", REPO + ".git", "assignments/ko/a b/x~y.ipynb", "fall 2026",
                             "classic")
    assert classic.endswith("urlpath=tree%2Fcourse%2Fassignments%2Fko%2Fa+b%2Fx%7Ey.ipynb&branch=fall+2026")


@pytest.mark.skipif(shutil.which("node") is None, reason="no node: the browser's URLSearchParams is not here")
def test_the_hub_link_encodes_as_a_browsers_url_search_params():
    """nbgitpuller's own link generator builds the query with the WHATWG URL API; node has the same."""
    path = "assignments/ko/a b/x~y*(1).ipynb"
    script = ("const u = new URL(process.argv[1]); u.searchParams.set('repo', process.argv[2]);"
              "u.searchParams.set('urlpath', process.argv[3]); u.searchParams.set('branch', 'main');"
              "u.pathname += 'hub/user-redirect/git-pull'; console.log(u.toString())")
    node = subprocess.run(["node", "-e", script, "https://hub.example.edu/", REPO, f"lab/tree/course/{path}"],
                          capture_output=True, text=True, check=True)
    assert node.stdout.strip() == links.hub_link("https://hub.example.edu", REPO, path)


def test_colab_links_open_notebooks_from_github():
    assert links.colab_link(REPO, HW01) == f"https://colab.research.google.com/github/calc4ml/course/blob/main/{HW01}"
    assert links.colab_link("https://gitlab.com/calc4ml/course", HW01) is None


def test_every_assignment_and_edition_gets_its_links():
    made = links.links(ROOT, REPO, hub="https://hub.example.edu")
    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / "reference.py").exists())
    assert sorted({(link.assignment, link.language) for link in made}) == [(a, lang) for a in assignments
                                                                           for lang in ("en", "ko")]
    assert len(made) == 4 * len(assignments)  # a hub link and a Colab link each
    for link in made:
        path = link.url.split("/blob/main/")[-1] if "colab" in link.url else None
        if path:
            assert (ROOT / path).exists()


def test_bad_addresses_are_refused_clearly():
    with pytest.raises(CourseError, match="--repo"):
        links.hub_link("https://hub.example.edu", "calc4ml/course", HW01)
    with pytest.raises(CourseError, match="--hub"):
        links.hub_link("hub.example.edu", REPO, HW01)


def test_the_command_prints_one_line_per_link():
    run = subprocess.run([sys.executable, "-m", "course.cli", "links", "--repo", REPO, "--hub", "https://hub.x.edu"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert any(line.startswith("hw01_derivatives") and " ko " in line and "git-pull" in line for line in lines)
