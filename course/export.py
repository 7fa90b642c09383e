"""What a batch writes: the gradebook, LMS imports, students' feedback, Gradescope results."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from pathlib import Path

IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ROSTER_KEYS = ("ID", "SIS User ID", "SIS Login ID", "Email address", "ID number", "Username", "Email")


def write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all: a batch killed mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def gradescope_results(record: dict) -> dict:
    """One submission in Gradescope's results.json format (hidden cases show after publishing)."""
    tests = [{
        "name": f"{c['question']}: {c['label']}",
        "score": c["points"], "max_score": c["max_points"],
        "output": c["message"] or "passed",
        "visibility": "after_published" if c["hidden"] else "visible",
    } for c in record["cases"]]
    summary = f"status: {record['status']}" + (f" ({record['detail']})" if record["detail"] else "")
    return {"score": record["score"], "execution_time": record["seconds"], "output": summary,
            "tests": tests, "visibility": "visible", "stdout_visibility": "hidden"}


def feedback(record: dict, plan: dict) -> str:
    percent = 100 * record["score"] / record["max_score"] if record["max_score"] else 0
    lines = [f"# {plan['assignment']}: {record['score']:g} / {record['max_score']:g} ({percent:.1f}%)", "",
             f"Submission: `{record['source']}`  ", f"Status: {record['status']}"
             + (f" ({record['detail']})" if record["detail"] else "")]
    titles = {q["name"]: q["title"] for q in plan["questions"]}
    for q in plan["questions"]:
        cases = [c for c in record["cases"] if c["question"] == q["name"]]
        score = sum(c["points"] for c in cases)
        lines += ["", f"## {q['name']}. {titles[q['name']]}: {score:g} / {q['points']:g}", ""]
        for c in cases:
            mark = "passed" if c["points"] == c["max_points"] else "failed"
            kind = " (hidden)" if c["hidden"] else ""
            message = c["message"].removeprefix(f"{c['label']}: ")
            lines.append(f"- {mark}{kind}: {c['label']}" + (f"  \n  {message}" if message else ""))
    return "\n".join(lines) + "\n"


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _roster(path: Path | None) -> list[dict]:
    if path is None:
        return []
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _match(student: str, roster: list[dict]) -> dict:
    for row in roster:
        if any(row.get(k, "").strip() == student for k in ROSTER_KEYS if row.get(k)):
            return row
    return {}


def write_all(records: list[dict], plan: dict, output: Path, roster_path: Path | None = None) -> None:
    questions = [q["name"] for q in plan["questions"]]
    total = sum(q["points"] for q in plan["questions"])
    rows = [["submission", "student", "status", "detail", *questions, "total", "max", "percent"]]
    for r in records:
        rows.append([r["source"], r["student"], r["status"], r["detail"],
                     *[f"{r['questions'].get(q, 0):g}" for q in questions],
                     f"{r['score']:g}", f"{total:g}", f"{100 * r['score'] / total:.1f}" if total else "0"])
    write_atomic(output / "gradebook.csv", _csv(rows))

    roster = _roster(roster_path)
    column = plan["assignment"]
    canvas = [[*IDENTITY_COLUMNS, column], ["Points Possible", "", "", "", "", f"{total:g}"]]
    moodle = [["Identifier", column, "Feedback comments"]]
    for r in records:
        row = _match(r["student"], roster)
        canvas.append([row.get("Student", ""), row.get("ID", r["student"]), row.get("SIS User ID", ""),
                       row.get("SIS Login ID", ""), row.get("Section", ""), f"{r['score']:g}"])
        identifier = row.get("Email address") or row.get("ID number") or r["student"]
        moodle.append([identifier, f"{r['score']:g}", f"status: {r['status']}"])
    write_atomic(output / "canvas.csv", _csv(canvas))
    write_atomic(output / "moodle.csv", _csv(moodle))

    for r in records:
        write_atomic(output / "feedback" / f"{r['key']}.md", feedback(r, plan))
        write_atomic(output / "gradescope" / f"{r['key']}.json", json.dumps(gradescope_results(r), indent=1))
