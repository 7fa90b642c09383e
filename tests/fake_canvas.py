"""A stand-in for Canvas's REST API on 127.0.0.1: the documented endpoints `course push canvas`
uses, answering as Canvas does (JSON shapes, ``Link`` pagination, ``Progress`` jobs, the
three-step file upload) and recording every request it receives.

Endpoints (https://canvas.instructure.com/doc/api/): courses#show, assignments#show,
late_policy#show, submissions#index (paginated), submissions#bulk_update (update_grades),
progress#show, submission_comments#create_file with its upload URL, submissions#update.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "7~fake-token-that-must-never-be-printed"


@dataclass
class Canvas:
    course: int = 1234
    assignment: int = 5678
    points_possible: float = 100.0
    anonymize_students: bool = False
    post_manually: bool = False
    late_deduction: bool = False
    scores: dict[str, float | None] = field(default_factory=dict)  # user id -> score
    comments: dict[str, list[dict]] = field(default_factory=dict)  # user id -> comments with file ids
    requests: list[tuple[str, str, dict]] = field(default_factory=list)  # method, path, form or query
    fail: dict[str, list[int]] = field(default_factory=dict)  # "METHOD path-regex" -> statuses to answer, in turn
    per_page: int = 2  # small, so that pagination is exercised
    files: int = 0

    def calls(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.requests]


def serve(canvas: Canvas) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, status: int, body, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def form(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Type", "").startswith("multipart/"):
                return {"multipart": len(raw), "has_file": b"filename=" in raw}
            return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(raw.decode()).items()}

        def handle_any(self, method: str) -> None:
            url = urlparse(self.path)
            path = url.path
            form = self.form() if method in ("POST", "PUT") else {k: v for k, v in parse_qs(url.query).items()}
            canvas.requests.append((method, path, form))
            for rule, statuses in canvas.fail.items():
                rule_method, pattern = rule.split(" ", 1)
                if rule_method == method and re.fullmatch(pattern, path) and statuses:
                    status = statuses.pop(0)
                    message = {401: "Invalid access token.", 404: "The specified resource does not exist.",
                               403: "403 Forbidden (Rate Limit Exceeded)"}[status]
                    if status == 403:  # Canvas's throttle answers in plain text
                        self.send_response(403)
                        self.send_header("Content-Length", str(len(message)))
                        self.end_headers()
                        self.wfile.write(message.encode())
                    else:
                        self.answer(status, {"errors": [{"message": message}]})
                    return
            if path.startswith("/upload/") and method == "POST":
                canvas.files += 1
                return self.answer(201, {"id": 900 + canvas.files, "url": f"http://x/files/{900 + canvas.files}",
                                         "display_name": "feedback.html"})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.answer(401, {"errors": [{"message": "Invalid access token."}]})
            c, a = canvas.course, canvas.assignment
            base = f"/api/v1/courses/{c}"
            if method == "GET" and path == base:
                return self.answer(200, {"id": c, "name": "Calculus for ML"})
            if method == "GET" and path == f"{base}/late_policy":
                return self.answer(200, {"late_policy": {
                    "id": 1, "course_id": c, "late_submission_deduction_enabled": canvas.late_deduction,
                    "late_submission_deduction": 10.0, "late_submission_interval": "day"}})
            if method == "GET" and path == f"{base}/assignments/{a}":
                return self.answer(200, {"id": a, "course_id": c, "name": "HW 1: Derivatives",
                                         "points_possible": canvas.points_possible,
                                         "anonymize_students": canvas.anonymize_students,
                                         "post_manually": canvas.post_manually})
            if method == "GET" and path == f"{base}/assignments/{a}/submissions":
                users = sorted(canvas.scores, key=int)
                page = int(form.get("page", ["1"])[0])
                chunk = users[(page - 1) * canvas.per_page: page * canvas.per_page]
                headers = {}
                if page * canvas.per_page < len(users):
                    headers["Link"] = (f'<http://{self.headers["Host"]}{path}?page={page + 1}'
                                       f'&per_page={canvas.per_page}>; rel="next"')
                return self.answer(200, [{"id": int(u) * 10, "user_id": int(u), "assignment_id": a,
                                          "score": canvas.scores[u], "workflow_state": "submitted"}
                                         for u in chunk], headers)
            if method == "POST" and path == f"{base}/assignments/{a}/submissions/update_grades":
                for key, value in form.items():
                    match = re.fullmatch(r"grade_data\[(\d+)\]\[posted_grade\]", key)
                    if match:
                        canvas.scores[match.group(1)] = float(value)
                return self.answer(200, {"id": 77, "workflow_state": "queued", "completion": 0,
                                         "url": f"http://{self.headers['Host']}/api/v1/progress/77"})
            if method == "GET" and path == "/api/v1/progress/77":
                return self.answer(200, {"id": 77, "workflow_state": "completed", "completion": 100})
            match = re.fullmatch(rf"{base}/assignments/{a}/submissions/(\d+)/comments/files", path)
            if method == "POST" and match:
                return self.answer(200, {"upload_url": f"http://{self.headers['Host']}/upload/{match.group(1)}",
                                         "upload_params": {"filename": form.get("name", "page.html")}})
            match = re.fullmatch(rf"{base}/assignments/{a}/submissions/(\d+)", path)
            if method == "PUT" and match:
                canvas.comments.setdefault(match.group(1), []).append(form)
                return self.answer(200, {"id": 1, "user_id": int(match.group(1)), "assignment_id": a,
                                         "score": canvas.scores.get(match.group(1))})
            return self.answer(404, {"errors": [{"message": "The specified resource does not exist."}]})

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_PUT(self) -> None:
            self.handle_any("PUT")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
