"""The instructor's and the students' views: the class report's figures, the feedback pages,
Gradescope's results.json, and both pages opened in a real headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
from pathlib import Path

import pytest

from course.grade import gradescope
from course.identity import identify
from course.outputs import export, feedback, report
from course.layout import CourseError
from course.results import CaseResult, Result, Status

CHROMIUM = "/usr/bin/chromium"

PLAN = {"assignment": "hw01_derivatives", "fixtures": {}, "questions": [
    {"name": "q1", "title": "Forward difference", "points": 4, "functions": ["f"], "outputs": [], "cases": [
        {"id": "a", "label": "x^2 at x = 3", "points": 2, "hidden": False},
        {"id": "b", "label": "sin at <x> = 0.7", "points": 2, "hidden": True}]},
    {"name": "q2", "title": "ReLU derivative", "points": 6, "functions": ["g"], "outputs": [], "cases": [
        {"id": "c", "label": "ReLU' at [-2, -1, 0, 1, 2]", "points": 3, "hidden": False},
        {"id": "d", "label": "0 at exactly x = 0", "points": 3, "hidden": True}]}],
    "translations": {"ko": {"titles": {"q1": "전진 차분", "q2": "ReLU 도함수"},
                            "labels": {"q1/a": "x = 3에서 x^2", "q1/b": "x = 0.7에서 sin",
                                       "q2/c": "[-2, -1, 0, 1, 2]에서 ReLU'", "q2/d": "x = 0에서 정확히 0"}}}}


def make(source: str, points: dict[str, float], status: Status = Status.OK, language: str = "en",
         seconds: float = 1.0, message: str = "got {x}, expected 1", detail: str = "") -> Result:
    """A graded file with the given points per case id (others full)."""
    r = Result(re.sub(r"[^A-Za-z0-9._-]+", "_", source), source, identify(source),
               status=status, detail=detail, language=language, seconds=seconds)
    for q in PLAN["questions"]:
        for c in q["cases"]:
            p = points.get(c["id"], c["points"])
            r.cases.append(CaseResult(q["name"], c["id"], c["label"], p, c["points"], c["hidden"],
                                      "" if p == c["points"] else f"{c['label']}: " + message.format(x=0.25 + p)))
    return r


def klass() -> list[Result]:
    return [
        make("ana.ipynb", {}),
        make("ben.ipynb", {"b": 0, "d": 0}, seconds=3.0),
        make("cho.ipynb", {"a": 0, "b": 0, "c": 0}, status=Status.CELL_ERRORS, detail="NameError in cell 4"),
        make("dee.ipynb", {"d": 0}, message="got {x} with shape (3,), expected shape (5,)"),
        make("eve.ipynb", {"a": 0, "b": 0, "c": 0, "d": 0}, status=Status.NOT_A_NOTEBOOK, detail="a .pdf file"),
        make("fay.ipynb", {"b": 1, "d": 0}, status=Status.TIMEOUT, seconds=120.0),
    ]


def fetches_nothing(page: str) -> bool:
    """No script, no attribute or CSS that loads anything: only in-page anchors and SVG references."""
    return ("<script" not in page and not re.search(r"<(img|link|iframe|object|embed|source|video|audio)\b", page)
            and all(v.startswith("#") for v in re.findall(r'\b(?:href|src|action)="([^"]*)"', page))
            and all(v.startswith("#") for v in re.findall(r"url\(([^)]*)\)", page))
            and not re.search(r"@import", page))


# ---------------------------------------------------------------- the figures


def test_class_figures_match_a_hand_computation():
    results = klass()
    stats = report.class_stats(results, PLAN)
    totals = [10, 5, 3, 7, 0, 6]
    assert stats["students"] == 6 and stats["files"] == 6
    assert stats["mean"] == pytest.approx(statistics.fmean(totals))
    assert stats["median"] == pytest.approx(statistics.median(totals))
    assert stats["statuses"] == {"ok": 3, "cell errors": 1, "not a notebook": 1, "timeout": 1}
    q1, q2 = stats["questions"]
    assert q1["mean"] == pytest.approx(statistics.fmean([4, 2, 0, 4, 0, 3]))
    assert q2["full_rate"] == pytest.approx(100 * 1 / 6)
    ran = [r for r in results if r.status is not Status.NOT_A_NOTEBOOK]
    q1_scores = [r.question_scores()["q1"] for r in ran]
    rest = [r.score - x for r, x in zip(ran, q1_scores)]
    assert q1["discrimination"] == pytest.approx(statistics.correlation(q1_scores, rest))
    assert stats["ran"] == 5
    d = next(c for c in stats["cases"] if c["id"] == "d")
    assert (d["failed"], d["tried"]) == (3, 5)  # the unreadable file is not counted as a failure of d
    # "got 0.25, expected 1" and "got 0.25 with shape (3,)..." are two shapes; numbers never split a group
    assert [(m["count"], m["pattern"]) for m in d["messages"]] == [
        (2, "got #, expected #"), (1, "got # with shape (#,), expected shape (#,)")]
    assert [s["file"] for s in stats["slowest"][:2]] == ["fay.ipynb", "ben.ipynb"]


def test_discrimination_is_undefined_without_spread():
    assert report.correlation([1, 1, 1], [0, 1, 2]) is None
    assert report.correlation([1, 2], [1, 2]) is None
    assert report.correlation([0, 1, 2, 3], [0, 2, 4, 6]) == pytest.approx(1.0)


def test_test_student_penalties_and_roster_reach_the_report_in_memory_and_from_lms_json(tmp_path, monkeypatch):
    from tests.test_lms import canvas_export, canvas_name

    roster = tmp_path / "export.csv"
    roster.write_text(canvas_export([("Doe, Jane", 1, "", "", "A", {}), ("Roe, Bob", 2, "", "", "A", {}),
                                     ("Lee, Ann", 3, "", "", "A", {}), ("Student, Test", 9, "", "", "A", {})],
                                    [("hw01_derivatives", 5, "10")]), encoding="utf-8")
    results = [make(canvas_name("Doe, Jane", 1, 11, "hw.ipynb"), {"d": 0}),
               make(canvas_name("Roe, Bob", 2, 12, "hw.ipynb", late=True), {}),
               make(canvas_name("Student, Test", 9, 13, "hw.ipynb"), {"a": 0, "b": 0, "c": 0, "d": 0})]
    figures = report.class_stats
    in_memory: list[dict] = []
    monkeypatch.setattr(report, "class_stats", lambda *args: in_memory.append(figures(*args)) or in_memory[-1])
    export.write_all(results, PLAN, tmp_path / "out", roster, late_penalty="20%")
    recorded = report.read_summary(tmp_path / "out")
    from_file = figures(results, PLAN, report.read_students(results, recorded), recorded)
    assert len(in_memory) == 1 and in_memory[0] == from_file
    for stats in (in_memory[0], from_file):
        assert stats["students"] == 2 and stats["test_students"] == ["9"]
        assert stats["mean"] == pytest.approx((7 + 8) / 2)  # Bob's 10 less 20% of 10
        assert (stats["late"], stats["penalised"], stats["penalty_points"]) == (1, 1, 2)
        assert stats["roster"]["non_submitters"] == ["Lee, Ann"]


def test_every_status_has_its_own_colour_in_the_chart():
    assert set(report.COLORS) == set(Status)
    assert len(set(report.COLORS.values())) == len(Status)
    results = [make(f"{status.name.lower()}.ipynb", {}, status=status) for status in Status]
    svg = report.charts(report.class_stats(results, PLAN))["statuses"]
    assert all(f"fill: {colour}" in svg for colour in report.COLORS.values())


def test_report_is_self_contained_and_rebuilds_from_the_output_folder(tmp_path):
    results = klass()
    results[0].log = ["<script>alert(1)</script>"]
    results[1].detail = "<img src=http://example.com/x.png>"
    results[1].status = Status.GRADER_ERROR
    export.write_all(results, PLAN, tmp_path)
    first = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert first.count("<svg") == 4 and "<script" not in first and "&lt;img src=http://example.com" in first
    assert fetches_nothing(first)
    assert 'id="grader-errors"' in first
    for result in results:
        (tmp_path / "results" / f"{result.key}.json").parent.mkdir(exist_ok=True)
        (tmp_path / "results" / f"{result.key}.json").write_text(json.dumps(result.to_record()), encoding="utf-8")
    with pytest.raises(CourseError, match="plan.json"):
        report.rebuild(tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps(PLAN), encoding="utf-8")
    (tmp_path / "report.html").unlink()
    assert report.rebuild(tmp_path) == tmp_path / "report.html"
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == first


# ---------------------------------------------------------------- the student's page


def test_feedback_page_shows_points_cases_and_hidden_checks_without_answers():
    r = make("ben.ipynb", {"b": 0, "d": 1.5})
    page = feedback.page(r, PLAN)
    assert 'data-score="6.5" data-max="10"' in page
    assert 'data-question="q1" data-score="2" data-max="4"' in page
    q2 = page[page.index('data-question="q2"'):]
    assert "4.5 / 6" in q2.split("</h2>")[0]
    assert page.count('class="passed"') == 2 and page.count('class="failed"') == 2
    assert "sin at &lt;x&gt; = 0.7" in page and "<x>" not in page  # escaped
    assert "got 0.25, expected 1" in page and 'data-hidden="yes"' in page
    assert fetches_nothing(page)


def test_feedback_speaks_the_students_language():
    r = make("ko.ipynb", {"a": 0}, language="ko")
    page = feedback.page(r, PLAN)
    assert '<html lang="ko">' in page
    assert "전진 차분" in page and "x = 3에서 x^2" in page and "Forward difference" not in page


def test_feedback_says_which_file_counts_and_the_penalty():
    r = make("roebob_LATE_2_12_hw01.pdf", {}, status=Status.NOT_A_NOTEBOOK)
    page = feedback.page(r, PLAN, feedback.Standing(counted=False, counted_file="hw01.ipynb"))
    assert "does not count" in page and "hw01.ipynb" in page
    r = make("roebob_LATE_2_13_hw01.ipynb", {})
    page = feedback.page(r, PLAN, feedback.Standing(late=True, penalty=1, policy="10%", others=["hw01.pdf"]))
    assert 'data-score="9"' in page and "late penalty (10%) took 1 off" in page and "hw01.pdf" in page


def test_gradescope_results_follow_the_spec_and_hide_hidden_cases_until_published():
    r = make("ben.ipynb", {"b": 0, "d": 1.5}, status=Status.CELL_ERRORS, detail="NameError in cell 4")
    out = gradescope.results_json(r, PLAN)
    json.dumps(out)
    assert out["score"] == 6.5 and sum(t["score"] for t in out["tests"]) == 6.5
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"} <= set(out)
    ran, *cases = out["tests"]
    assert (ran["status"], ran["visibility"], ran["max_score"]) == ("failed", "visible", 0)
    assert "NameError in cell 4" in ran["output"]
    assert [t["number"] for t in cases] == ["1.1", "1.2", "2.1", "2.2"]
    assert [t["visibility"] for t in cases] == ["visible", "after_published", "visible", "after_published"]
    assert all(set(t) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"} for t in out["tests"])
    assert "got 1.75, expected 1" in cases[3]["output"] and "hidden checks" in out["output"]


# ---------------------------------------------------------------- in a real browser


def _chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}): `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    return sync_playwright


def test_report_and_feedback_render_in_chromium_with_the_gradebooks_figures(tmp_path):
    sync_playwright = _chromium()
    results = klass() + [make("gus.ipynb", {"c": 0}, language="ko")]
    export.write_all(results, PLAN, tmp_path)
    gradebook = list(csv.DictReader(open(tmp_path / "gradebook.csv", newline="", encoding="utf-8")))
    counted = [r for r in gradebook if r["counted"] == "yes"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            requests: list[str] = []
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto((tmp_path / "report.html").as_uri())
            charts = page.locator("svg")
            assert charts.count() == 4
            for i in range(4):
                box = charts.nth(i).bounding_box()
                assert box["width"] > 200 and box["height"] > 100
            mean = statistics.fmean(float(r["total"]) for r in counted)
            assert page.locator("#card-mean b").inner_text() == f"{round(mean, 2):g}"
            assert page.locator("#card-students b").inner_text() == str(len(counted))
            for q in PLAN["questions"]:
                row = page.locator(f'tr[data-question="{q["name"]}"] td').nth(2).inner_text()
                assert float(row) == pytest.approx(statistics.fmean(float(r[q["name"]]) for r in counted), abs=0.005)
            for status in {r["status"] for r in counted}:
                shown = page.locator(f'tr[data-status="{status}"] td').nth(1).inner_text()
                assert int(shown) == sum(r["status"] == status for r in counted)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2)
            phone.on("request", lambda request: requests.append(request.url))
            row = next(r for r in gradebook if r["submission"] == "gus.ipynb")
            phone.goto((tmp_path / "feedback" / "gus.ipynb.html").as_uri())
            assert phone.locator("#total").inner_text().split()[0] == f"{float(row['total']):g}"
            for q in PLAN["questions"]:
                score = phone.locator(f'section[data-question="{q["name"]}"] .pts').inner_text()
                assert score == f"{float(row[q['name']]):g} / {q['points']:g}"
            assert phone.locator("html").get_attribute("lang") == "ko"
            assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
            phone.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)
        finally:
            browser.close()
    assert requests and all(url.startswith(("file:", "data:")) for url in requests), requests
    assert (tmp_path / "report.png").stat().st_size > 10_000
    if os.environ.get("COURSE_SCREENSHOTS"):  # to look at them: COURSE_SCREENSHOTS=/some/folder
        for name in ("report.png", "feedback.png"):
            shutil.copy(tmp_path / name, Path(os.environ["COURSE_SCREENSHOTS"]) / name)
