"""The class report, ``OUTPUT/report.html``: what a TA opens first after a batch.

One self-contained file (inline CSS, charts as inline SVG drawn by matplotlib with text kept
as text, no script, no external URL; a Content-Security-Policy forbids fetching anything).
What it shows, for one row per student (the file that counts, ``lms.group``; Canvas's test
student left out of every figure):

- the score distribution (histogram of percentages) and its summary (mean, median, spread);
- how the notebooks ran: status counts (ok, cell errors, timeout, crashed, ...), with every
  grader error listed with its log, since those are the grader's fault and need a regrade;
- per question: mean points, mean percentage, full-mark rate, zero rate, and discrimination,
  the correlation of the question's score with the rest of the score (a question that good
  students fail as often as weak ones, r < 0.2, is worth a second look);
- per case: failure rate among the notebooks that ran, and the most common failure messages,
  grouped by their shape (numbers replaced by #) with an example of each;
- lateness (count, penalties), students of the roster who submitted nothing, the slowest
  submissions, and the notes written when the LMS file was made.

After grading, the batch's caller hands over what it has in memory: the results, the students
as ``course.lms`` grouped them (``write``) and the batch's summary (``lms.json``'s content).
``course report OUTPUT`` rebuilds the same page from ``OUTPUT/results/*.json``,
``OUTPUT/plan.json`` and ``OUTPUT/lms.json`` (grouping, lateness and penalties) without grading
anything again (``rebuild``).
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calc4ml_runtime.plan import Plan
from course import explain
from course.lms import students as lms
from course.outputs import similarity
from course.files import write_atomic
from course.layout import CourseError
from course.results import Result, Status
from course.text import escape

TEMPLATES = Path(__file__).resolve().parent / "templates"
NOT_RUN = (Status.NOT_A_NOTEBOOK, Status.GRADER_ERROR)
SLOWEST = 10
MESSAGE_GROUPS = 3
WEAK_DISCRIMINATION = 0.2
COLORS = {Status.OK: "#2da44e", Status.CELL_ERRORS: "#d4a72c", Status.MISSING_FUNCTION: "#bf8700",
          Status.TIMEOUT: "#cf222e", Status.CRASHED: "#a40e26", Status.PROTOCOL: "#8250df",
          Status.NOT_A_NOTEBOOK: "#6e7781", Status.GRADER_ERROR: "#24292f"}  # not pure black, which matplotlib leaves unwritten


# ---------------------------------------------------------------- the numbers


@dataclass
class Student:
    """One student as the report counts them: the file that counts, and what the grouping and
    the late policy said about them."""

    counted: Result
    student: str  # the LMS's id
    name: str = ""
    late: bool = False
    penalty: float = 0.0
    test_student: bool = False  # Canvas's test student: left out of every figure
    anonymous: bool = False


def students_of(submitters: list[lms.Submitter]) -> list[Student]:
    """The report's view of ``lms.group``'s students (penalties as the caller applied them)."""
    return [Student(s.counted, s.student, s.name, s.late, s.penalty, s.test_student, s.identity.anonymous)
            for s in submitters]


def read_students(results: list[Result], summary: Mapping[str, Any]) -> list[Student]:
    """The students as ``lms.json`` recorded them; grouped again (no roster, no penalty) when it
    does not describe these results."""
    by_key = {r.key: r for r in results}
    recorded = summary.get("students")
    if recorded and all(s["counted"] in by_key for s in recorded):
        return [Student(by_key[s["counted"]], s["student"], s.get("name", ""), s["late"], s["penalty"],
                        s["test_student"], s.get("anonymous", False)) for s in recorded]
    return students_of(lms.group(results))


def _pattern(message: str) -> str:
    """A failure message's shape: numbers replaced by #, so that "got 0.5" and "got 0.7" group."""
    shape = re.sub(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", "#", message)
    shape = re.sub(r"#(?:\s*,\s*#)+", "#, …", shape)
    return re.sub(r"\s+", " ", shape).strip()[:200]


def correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r, or None when it is undefined (fewer than 3 students, or no spread)."""
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


def class_stats(results: list[Result], plan: Plan, students: list[Student] | None = None,
                summary: Mapping[str, Any] | None = None) -> dict:
    """Every figure of the report, as plain data (the tests compare them with gradebook.csv).
    ``students``: as the batch grouped them (default: grouped here, without a roster or a
    penalty); ``summary``: the batch's notes, roster and late policy (``lms.json``'s content)."""
    summary = summary or {}
    students = students if students is not None else students_of(lms.group(results))
    counted = [s for s in students if not s.test_student]
    total_points = sum(q["points"] for q in plan["questions"])
    finals = [max(0.0, s.counted.score - s.penalty) for s in counted]
    percents = [100 * f / total_points if total_points else 0.0 for f in finals]
    statuses = Counter(s.counted.status.value for s in counted)
    ran = [s.counted for s in counted if s.counted.status not in NOT_RUN]

    questions = []
    for n, q in enumerate(plan["questions"], start=1):
        all_scores = [s.counted.question_scores().get(q["name"], 0.0) for s in counted]
        ran_scores = [r.question_scores().get(q["name"], 0.0) for r in ran]
        rest = [r.score - x for r, x in zip(ran, ran_scores)]
        questions.append({
            "number": n, "name": q["name"], "title": q["title"], "points": q["points"],
            "mean": statistics.fmean(all_scores) if all_scores else 0.0,
            "mean_percent": 100 * statistics.fmean(all_scores) / q["points"] if all_scores and q["points"] else 0.0,
            "full_rate": 100 * sum(abs(x - q["points"]) < 1e-9 for x in all_scores) / len(all_scores) if all_scores else 0.0,
            "zero_rate": 100 * sum(x == 0 for x in all_scores) / len(all_scores) if all_scores else 0.0,
            "discrimination": correlation(ran_scores, rest),
        })

    cases = []
    for q in plan["questions"]:
        for case in q["cases"]:
            outcomes = [c for r in ran for c in r.cases if c.question == q["name"] and c.case == case["id"]]
            failures = [c for c in outcomes if not c.passed]
            groups: dict[str, list[str]] = {}
            for c in failures:
                message = c.message
                for prefix in (f"{c.label}: ", f"{c.label}:"):
                    message = message[len(prefix):] if message.startswith(prefix) else message
                groups.setdefault(escape(_pattern(message)) or "(no message)", []).append(message)
            common = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MESSAGE_GROUPS]
            cases.append({
                "question": q["name"], "id": case["id"], "label": case["label"], "hidden": case["hidden"],
                "points": case["points"], "tried": len(outcomes), "failed": len(failures),
                "failure_rate": 100 * len(failures) / len(outcomes) if outcomes else 0.0,
                "messages": [{"pattern": p, "count": len(ms), "example": escape(ms[0], 400)} for p, ms in common],
            })

    late = [s for s in counted if s.late]
    every = sorted(results, key=lambda r: -r.seconds)
    owners = {s.counted.key: s for s in counted}
    code = {key: s.counted.code for key, s in owners.items() if s.counted.code}
    questions_of = {fn: q["name"] for q in plan["questions"] for fn in q["functions"]}
    similar = [{"first": escape(owners[p.first].counted.source), "second": escape(owners[p.second].counted.source),
                "questions": sorted({m.question for m in p.matches}), "score": p.score,
                "functions": [{**f, "first": [{**line, "text": escape(line["text"])} for line in f["first"]],
                               "second": [{**line, "text": escape(line["text"])} for line in f["second"]]}
                              for f in similarity.side_by_side(p, code)]}
               for p in similarity.similar_pairs(code, questions_of)]
    return {
        "assignment": plan["assignment"], "total_points": total_points,
        "files": len(results), "students": len(counted),
        "test_students": [escape(s.student) for s in students if s.test_student],
        "anonymous": sum(1 for s in counted if s.anonymous),
        "mean": statistics.fmean(finals) if finals else 0.0,
        "median": statistics.median(finals) if finals else 0.0,
        "stdev": statistics.pstdev(finals) if len(finals) > 1 else 0.0,
        "min": min(finals) if finals else 0.0, "max": max(finals) if finals else 0.0,
        "mean_percent": statistics.fmean(percents) if percents else 0.0,
        "percents": percents, "statuses": dict(sorted(statuses.items(), key=lambda kv: -kv[1])),
        "ran": len(ran), "questions": questions, "cases": cases,
        "late": len(late), "late_penalty": summary.get("late_penalty"),
        "penalised": sum(1 for s in late if s.penalty > 0),
        "penalty_points": sum(s.penalty for s in late),
        "late_students": [{"student": escape(s.student), "name": escape(s.name),
                           "file": escape(s.counted.source), "penalty": s.penalty} for s in late],
        "slowest": [{"file": escape(r.source), "seconds": r.seconds, "status": r.status.value} for r in every[:SLOWEST]],
        "grader_errors": [{"file": escape(r.source), "detail": escape(r.detail), "log": [escape(x) for x in r.log[-20:]]}
                          for r in results if r.status is Status.GRADER_ERROR],
        "roster": summary.get("roster"), "notes": [escape(n) for n in summary.get("notes", [])],
        "protections_missing": summary.get("protections_missing", []),
        "similar": similar,
    }


# ---------------------------------------------------------------- the charts


def _svg(fig, name: str) -> str:
    """A matplotlib figure as inline SVG: text as text, no metadata, ids unique in the page."""
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'(?<=\bid=")', f"{name}-", svg)
    svg = re.sub(r"(?<=url\(#)", f"{name}-", svg)
    svg = re.sub(r'(?<=href="#)', f"{name}-", svg)
    return svg.replace("<svg", f'<svg role="img" aria-labelledby="{name}-title"', 1).replace(
        ">", f'><title id="{name}-title">{html.escape(name.replace("-", " "))}</title>', 1)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def charts(stats: dict) -> dict[str, str]:
    """Inline SVG per chart: histogram, statuses, questions, cases."""
    import matplotlib

    with matplotlib.rc_context({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        return _charts(stats)


def _charts(stats: dict) -> dict[str, str]:
    out = {}
    fig, ax = _figure(6.4, 2.8)
    bins = [5 * i for i in range(21)]
    ax.hist([min(p, 100.0) for p in stats["percents"]], bins=bins, color="#0969da", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"score (% of {stats['total_points']:g} points)")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({stats['students']} students, mean {stats['mean_percent']:.1f}%)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    out["histogram"] = _svg(fig, "score-histogram")

    items = list(stats["statuses"].items())
    fig, ax = _figure(6.4, 0.45 * max(2, len(items)) + 0.8)
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1],
            color=[COLORS[Status(k)] for k, _ in items][::-1])
    for y, (_, v) in enumerate(items[::-1]):
        ax.text(v, y, f" {v}", va="center")
    ax.set_xlabel("students")
    ax.set_title("How the notebooks ran")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max([v for _, v in items] + [1]) * 1.15)
    out["statuses"] = _svg(fig, "status-counts")

    qs = stats["questions"]
    fig, ax = _figure(6.4, 0.5 * max(2, len(qs)) + 1.0)
    labels = [f"Q{q['number']} {q['title']}" for q in qs][::-1]
    ys = list(range(len(qs)))
    ax.barh([y + 0.2 for y in ys], [q["mean_percent"] for q in qs][::-1], height=0.4, color="#0969da",
            label="mean score (% of the question's points)")
    ax.barh([y - 0.2 for y in ys], [q["full_rate"] for q in qs][::-1], height=0.4, color="#2da44e",
            label="students with full marks (%)")
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("percent")
    ax.set_title("Per question")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    out["questions"] = _svg(fig, "per-question")

    cs = stats["cases"]
    fig, ax = _figure(6.4, 0.24 * max(4, len(cs)) + 1.0)
    ys = list(range(len(cs)))[::-1]
    ax.barh(ys, [c["failure_rate"] for c in cs], color=["#8250df" if c["hidden"] else "#cf222e" for c in cs])
    ax.set_yticks(ys, [f"{c['question']} {c['label'][:48]}" for c in cs], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"failed (% of the {stats['ran']} notebooks that ran); red: public, purple: hidden")
    ax.set_title("Per case")
    out["cases"] = _svg(fig, "per-case")
    return out


# ---------------------------------------------------------------- the page


def render(stats: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pts"] = explain.points
    env.filters["pct"] = lambda x: f"{x:.1f}"
    return env.get_template("report.html.j2").render(s=stats, charts=charts(stats), weak=WEAK_DISCRIMINATION,
                                                     min_questions=similarity.MIN_QUESTIONS)


def write(output: Path, results: list[Result], plan: Plan, submitters: list[lms.Submitter], summary: lms.Summary) -> Path:
    """Write ``OUTPUT/report.html`` from what the batch's caller holds: the results, its students
    as ``lms.group`` made them (penalties applied), and its summary (what ``lms.json`` records)."""
    return _write(output, results, plan, students_of(submitters), summary)


def _write(output: Path, results: list[Result], plan: Plan, students: list[Student], summary: Mapping[str, Any]) -> Path:
    path = output / "report.html"
    write_atomic(path, render(class_stats(results, plan, students, summary)))
    return path


def read_summary(output: Path) -> dict:
    """``OUTPUT/lms.json``, what the batch recorded besides the results (empty when absent)."""
    path = output / "lms.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def rebuild(output: Path) -> Path:
    """``course report OUTPUT``: the report again from what the batch wrote, without grading."""
    output = Path(output)
    plan_file = output / "plan.json"
    if not plan_file.exists():
        raise CourseError(f"{output} has no plan.json: is it the --output folder of `course grade`?")
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    results = []
    for path in sorted((output / "results").glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            results.append(Result.from_record(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, TypeError, KeyError) as error:
            raise CourseError(f"{path}: not a result file ({error})") from None
    if not results:
        raise CourseError(f"{output / 'results'} holds no results")
    results.sort(key=lambda r: r.source)
    summary = read_summary(output)
    return _write(output, results, plan, read_students(results, summary), summary)
