"""The grader's pure pieces, without a sandbox: reading notebooks, the channel's framing and
validation, the overall status, the seccomp program, the plan's drift check."""

from __future__ import annotations

import json
import socket
import time

import pytest

from course import cells
from course.build import assemble as build
from course.grade import protocol, sandbox
from course.grade.judge import NotANotebook, overall_status, read_notebook
from course.identity import Identity
from course.results import CaseResult, Result, Status


def notebook(cells, **extra) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": extra.get("metadata", {}), "cells": cells}).encode()


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "not valid notebook JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "format 4"),
    (notebook([{"cell_type": "code", "source": ["x = 1\n", 7]}]), "cell 0 has no readable source"),
    (notebook(["a cell that is a string"]), "cell 0 is not a cell"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
])
def test_a_malformed_notebook_is_reported_not_raised(raw, reason):
    with pytest.raises(NotANotebook, match=reason):
        read_notebook(raw)


def test_code_cells_and_language_are_read():
    nb = read_notebook(notebook([{"cell_type": "markdown", "source": "# t"}, {"cell_type": "code", "source": ["a = 1\n", "b = 2"]}],
                                metadata={"course": {"language": "ko"}}))
    assert nb.cells == [(1, "a = 1\nb = 2")] and nb.language == "ko"
    assert read_notebook(notebook([], metadata={"course": {"language": "xx"}})).language == "en"


def test_the_channel_frames_and_caps_messages():
    ours, theirs = socket.socketpair()
    reader = protocol.Reader(ours)
    protocol.send(theirs, {"outputs": [1]}, [b"abc", b""])
    assert reader.receive(time.monotonic() + 5) == ({"outputs": [1]}, [b"abc", b""])
    theirs.sendall(b"\x00\x00\x01")  # half a prefix, then nothing: a deadline, not a hang
    with pytest.raises(protocol.TimedOut):
        reader.receive(time.monotonic() + 0.2)
    theirs.sendall(protocol.encode({}, [])[:0] + b"\x00" + (1 << 30).to_bytes(4, "big")[1:] + b"\x00\x00")
    theirs.close()
    with pytest.raises((protocol.ProtocolViolation, protocol.ChannelClosed)):
        reader.receive(time.monotonic() + 5)


def test_a_closed_channel_is_reported_as_closed():
    ours, theirs = socket.socketpair()
    theirs.close()
    with pytest.raises(protocol.ChannelClosed):
        protocol.Reader(ours).receive(time.monotonic() + 5)


@pytest.mark.parametrize("message", [
    {"ready": True, "cell_errors": 7, "notes": [], "ran": 1},
    {"ready": True, "cell_errors": [{"cell": "0", "error": "x"}], "notes": [], "ran": 1},
    {"ready": True, "cell_errors": [{"cell": 2, "error": "x"}], "notes": [], "ran": 1},
    {"ready": True, "cell_errors": [{"cell": 2, "line": "x", "error": "x", "consequence": 1}], "notes": [], "ran": 1},
    {"ready": True, "cell_errors": [{"cell": 0, "line": "x", "error": "x", "consequence": False}], "notes": [],
     "ran": 1},
    {"ready": True, "cell_errors": [{"cell": 2, "line": 5, "error": "x", "consequence": False}], "notes": [],
     "ran": 1},
    {"ready": True, "cell_errors": [], "notes": [3], "ran": 1},
    {"ready": True, "cell_errors": [], "notes": [], "ran": "3"},
    {"ready": True, "cell_errors": [], "notes": []},
    {"ready": 1, "cell_errors": [], "notes": [], "ran": 1},
    {"ready": True, "cell_errors": [], "ran": 1, "notes": [], "sandbox": [{"name": "seccomp"}]},
    [], "ready", None,
])
def test_malformed_reports_are_protocol_violations(message):
    with pytest.raises(protocol.ProtocolViolation):
        protocol.validate_ready(message)


def test_text_from_the_student_side_is_cleaned():
    assert protocol.clean("a\ud800b") == "a\\ud800b"
    assert len(protocol.clean("x" * 10_000, 100)) < 120
    errors, notes, ran = protocol.validate_ready({"ready": True, "notes": ["\x1b[31mNO seccomp"], "ran": 4,
                                                  "cell_errors": [{"cell": 3, "line": "x = '\ud800'" + "y" * 500,
                                                                   "error": "\udfff" * 3, "consequence": False}]})
    assert errors[0]["error"] == "\\udfff" * 3 and errors[0]["cell"] == 3 and errors[0]["consequence"] is False
    assert errors[0]["line"].startswith("x = '\\ud800'yyy") and len(errors[0]["line"]) < 140
    assert ran == 4 and notes == ["\\x1b[31mNO seccomp"]
    "".join(e["error"] + e["line"] for e in errors).encode("utf-8")  # writable anywhere


@pytest.mark.parametrize("message", [
    {"sandbox": [{"name": "seccomp", "present": "no", "detail": "x"}]},
    {"sandbox": [{"name": "anything", "present": False, "detail": "x"}]},
    {"sandbox": [{"name": "seccomp", "present": False, "detail": "x", "more": 1}]},
    {"sandbox": [], "ready": True},
    {"ready": True, "cell_errors": [], "ran": 1},
])
def test_protections_are_data_in_the_first_message(message):
    with pytest.raises(protocol.ProtocolViolation):
        protocol.validate_sandbox(message)


def test_a_missing_protection_is_written_by_the_grader():
    found = protocol.validate_sandbox({"sandbox": [{"name": "seccomp", "present": False, "detail": "seccomp (x)"},
                                                   {"name": "landlock", "present": True, "detail": "Landlock ABI 7"}]})
    assert [p.line() for p in found] == ["NO seccomp (x)", "Landlock ABI 7"]


@pytest.mark.parametrize("problems, missing, expected", [
    ([], set(), Status.OK),
    ([Status.CELL_ERRORS], set(), Status.CELL_ERRORS),
    ([Status.CELL_ERRORS], {"vjp"}, Status.MISSING_FUNCTION),
    ([Status.CRASHED, Status.TIMEOUT], {"vjp"}, Status.TIMEOUT),
    ([Status.CRASHED, Status.PROTOCOL], set(), Status.PROTOCOL),
])
def test_overall_status_puts_the_worst_first(problems, missing, expected):
    assert overall_status(problems, missing)[0] is expected


def test_results_round_trip_their_records():
    result = Result("k", "s.ipynb", Identity("canvas", "42", "doejane", late=True, attachment=7),
                    status=Status.TIMEOUT, cases=[CaseResult("q1", "c", "label", 0.5, 1.0, True, "m")])
    back = Result.from_record(json.loads(json.dumps(result.to_record())))
    assert back == result and back.score == 0.5 and back.status is Status.TIMEOUT


def test_the_seccomp_program_jumps_stay_inside_it():
    program = sandbox.seccomp_program()
    for index, (code, true, false, _k) in enumerate(program):
        if code & 0x07 == 0x05:  # a jump
            assert 0 <= index + 1 + true < len(program) and 0 <= index + 1 + false < len(program)
    assert program[-1][0] == 0x06 and len(program) < 256


def test_plan_drift_keeps_rounding_and_reports_real_changes():
    plan = {"questions": [{"cases": [{"expected": {"tensor": [1.0, 2.0], "dtype": "float64", "shape": [2]},
                                      "calls": [{"args": [0.1]}]}]}]}
    rounded = json.loads(json.dumps(plan))
    rounded["questions"][0]["cases"][0]["expected"]["tensor"][1] = 2.0000000000000004
    assert build.plan_drift(rounded, plan) is None
    moved = json.loads(json.dumps(plan))
    moved["questions"][0]["cases"][0]["expected"]["tensor"][1] = 2.0001
    assert "expected" in build.plan_drift(moved, plan)
    an_input = json.loads(json.dumps(plan))
    an_input["questions"][0]["cases"][0]["calls"][0]["args"][0] = 0.10000000000000002
    assert "args" in build.plan_drift(an_input, plan)  # inputs must be the same bits


def test_unchanged_demonstrations_are_skipped_and_everything_a_student_wrote_runs():
    import hashlib
    demo_plot = "xs = [1, 2]\nprint(xs)"
    demo_table = "table = {1: 2}\nprint(table)"
    cells_ = [(0, "import math"), (1, "def f(x):\n    return math.sin(x)"), (2, demo_plot), (3, demo_table)]
    skippable = {hashlib.sha256(s.encode()).hexdigest() for s in (demo_plot, demo_table)}
    assert cells.runnable(cells_, skippable) == cells_[:2]
    edited = cells_[:3] + [(3, demo_table + "\nprint('mine')")]
    assert cells.runnable(edited, skippable) == [cells_[0], cells_[1], edited[3]]
    reading = cells_[:1] + [(1, "def f(x):\n    return table[x]")] + cells_[2:]
    assert cells.runnable(reading, skippable) == [reading[0], reading[1], reading[3]]
    broken = cells_ + [(4, "def (")]
    assert cells.runnable(broken, skippable) == broken


def test_a_cell_that_sets_a_global_setting_is_never_a_demonstration():
    blocks = ["import torch", "torch.set_default_dtype(torch.float64)", "x = torch.ones(2)\nprint(x)"]
    assert cells.demonstrations(blocks) == [2]
