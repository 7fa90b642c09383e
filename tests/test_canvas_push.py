"""`course push canvas` against a local stand-in for Canvas's REST API (tests/fake_canvas.py):
the documented calls for a dry run and a push, the re-read, errors, and the token's secrecy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course import files
from course.lms import canvas_push
from course.outputs import export
from course.layout import CourseError
from tests import fake_canvas
from tests.test_lms import PLAN, canvas_name, result

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore:Canvas may respond unexpectedly")  # the stand-in speaks HTTP


@pytest.fixture
def batch(tmp_path) -> Path:
    """A graded Canvas download: Jane full marks, Bob late with a retry, a test student."""
    results = [result(canvas_name("Doe, Jane", 101, 9001, "hw01_derivatives.ipynb")),
               result(canvas_name("Roe, Bob", 102, 9010, "hw01_derivatives.ipynb", late=True), failed=("q1/sin",)),
               result(canvas_name("Roe, Bob", 102, 9011, "hw01_derivatives-1.ipynb", late=True),
                      failed=("q2/zero",)),
               result(canvas_name("Lee, Kim", 103, 9020, "hw01.ipynb"), failed=("q1/notes", "q1/sin")),
               result(canvas_name("Student, Test", 199, 9030, "hw01.ipynb"))]
    output = tmp_path / "grades"
    for r in results:  # as `course grade` writes them
        files.write_atomic(output / "results" / f"{r.key}.json", json.dumps(r.to_record()))
    export.write_all(results, PLAN, output, late_penalty="10%")
    return output


@pytest.fixture
def canvas(monkeypatch):
    monkeypatch.setenv(canvas_push.TOKEN_VARIABLE, fake_canvas.TOKEN)
    state = fake_canvas.Canvas(scores={"101": None, "102": 50.0, "103": 60.0, "199": None})
    server, url = fake_canvas.serve(state)
    yield state, url
    server.shutdown()


def run(batch: Path, url: str, send: bool, **kwargs) -> tuple[list[canvas_push.Change], list[str]]:
    said: list[str] = []
    changes = canvas_push.push(batch, url, 1234, 5678, send=send, say=said.append, sleep=lambda s: None, **kwargs)
    return changes, said


READS = ["GET /api/v1/courses/1234", "GET /api/v1/courses/1234/assignments/5678",
         "GET /api/v1/courses/1234/late_policy", "GET /api/v1/courses/1234/assignments/5678/submissions",
         "GET /api/v1/courses/1234/assignments/5678/submissions"]  # two pages of two


def test_a_dry_run_only_reads_and_lists_the_changes(batch, canvas):
    state, url = canvas
    changes, said = run(batch, url, send=False)
    assert state.calls() == READS
    # 10 points scaled to 100; Bob's counted file (the re-upload) lost 3 of 10, then 10% of the points for lateness
    # Kim's 60 is already in Canvas: not a change
    assert {c.grade.user: (c.current, c.new) for c in changes} == {"101": (None, 100.0), "102": (50.0, 60.0)}
    assert any("dry run" in line for line in said) and state.scores["101"] is None


def test_a_push_sends_grades_in_bulk_attaches_pages_and_confirms(batch, canvas):
    state, url = canvas
    changes, said = run(batch, url, send=True)
    calls = state.calls()
    assert calls[:5] == READS
    assert calls[5:7] == ["POST /api/v1/courses/1234/assignments/5678/submissions/update_grades",
                          "GET /api/v1/progress/77"]
    bulk = state.requests[5][2]
    assert bulk == {"grade_data[101][posted_grade]": "100", "grade_data[102][posted_grade]": "60"}
    uploads = calls[7:-2]
    for user in ("101", "102", "103"):  # every graded student gets the page, changed grade or not
        assert [f"POST /api/v1/courses/1234/assignments/5678/submissions/{user}/comments/files", f"POST /upload/{user}",
                f"PUT /api/v1/courses/1234/assignments/5678/submissions/{user}"] == \
            [c for c in uploads if c.endswith(f"/{user}") or c.endswith(f"/{user}/comments/files")]
        assert state.comments[user][0]["comment[file_ids][]"].startswith("9")
    assert "199" not in state.comments  # Canvas's test student is left out
    assert calls[-2:] == READS[-2:]  # the re-read
    assert state.scores == {"101": 100.0, "102": 60.0, "103": 60.0, "199": None}
    assert any(line.startswith("confirmed") for line in said)
    # the page that was sent is the student's own
    upload = next(r for r in state.requests if r[1] == "/api/v1/courses/1234/assignments/5678/submissions/102/comments/files")
    assert upload[2]["name"] == (batch / "feedback").joinpath(upload[2]["name"]).name and "9011" in upload[2]["name"]

    state.requests.clear()
    changes, said = run(batch, url, send=True)  # a second run: nothing left to send
    assert changes == [] and state.calls() == READS + READS[-2:]


@pytest.mark.parametrize("status, words", [(401, "rejected the token"), (404, "no such course or assignment")])
def test_errors_are_explained_and_nothing_is_half_done(batch, canvas, status, words):
    state, url = canvas
    state.fail["GET /api/v1/courses/1234/assignments/5678"] = [status]
    with pytest.raises(CourseError, match=words):
        run(batch, url, send=True)
    assert not any(method != "GET" for method, _, _ in state.requests)
    assert not (batch / "canvas-push.json").exists()


def test_the_rate_limit_is_waited_out_then_explained(batch, canvas):
    state, url = canvas
    state.fail[r"POST /api/v1/courses/1234/assignments/5678/submissions/\d+/comments/files"] = [403, 403]
    run(batch, url, send=True)  # two throttled answers, retried
    assert state.scores["101"] == 100.0 and set(state.comments) == {"101", "102", "103"}

    state.fail[r"POST /api/v1/courses/1234/assignments/5678/submissions/\d+/comments/files"] = [403] * 10
    (batch / "canvas-push.json").unlink()
    with pytest.raises(CourseError, match="rate limit held"):
        run(batch, url, send=True)


def test_a_push_stopped_midway_resumes_without_sending_twice(batch, canvas):
    state, url = canvas
    state.fail[r"POST /api/v1/courses/1234/assignments/5678/submissions/103/comments/files"] = [404]
    with pytest.raises(CourseError):
        run(batch, url, send=True)
    recorded = json.loads((batch / "canvas-push.json").read_text())
    assert sorted(next(iter(recorded.values()))["comments"]) == ["101", "102"]
    state.requests.clear()
    run(batch, url, send=True)
    uploads = [path for method, path, _ in state.requests if path.endswith("/comments/files")]
    assert uploads == ["/api/v1/courses/1234/assignments/5678/submissions/103/comments/files"]
    assert [len(state.comments[u]) for u in ("101", "102", "103")] == [1, 1, 1]


def test_anonymous_assignments_are_refused_and_policies_are_told(batch, canvas):
    state, url = canvas
    state.anonymize_students = True
    with pytest.raises(CourseError, match="anonymously"):
        run(batch, url, send=True)
    state.anonymize_students, state.post_manually, state.late_deduction = False, True, True
    _, said = run(batch, url, send=False)
    assert any("manual posting" in line for line in said)
    assert any("late policy deducts 10.0% per day" in line and "10%" in line for line in said)


def test_the_command_line_keeps_the_token_secret(batch, canvas, tmp_path):
    state, url = canvas
    env = {"PATH": "/usr/bin:/bin", "CANVAS_TOKEN": fake_canvas.TOKEN, "PYTHONPATH": str(ROOT)}
    run_ = subprocess.run([sys.executable, "-m", "course.cli", "push", "canvas", str(batch), "--url", url,
                           "--course", "1234", "--assignment", "5678", "--yes"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert run_.returncode == 0, run_.stderr
    assert "confirmed" in run_.stdout
    written = "".join(p.read_text(errors="replace") for p in batch.rglob("*") if p.is_file())
    assert fake_canvas.TOKEN not in run_.stdout + run_.stderr + written
    del env["CANVAS_TOKEN"]
    missing = subprocess.run([sys.executable, "-m", "course.cli", "push", "canvas", str(batch), "--url", url,
                              "--course", "1234", "--assignment", "5678"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "CANVAS_TOKEN" in missing.stderr
