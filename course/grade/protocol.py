"""The channel between the grader and a student process, and what may travel on it.

A message is a JSON header plus binary buffers (a tensor's bytes), framed as

    [u32 header length][u16 buffer count][header][u64 length][buffer] ...

The grader reads only through descriptors it opened itself, with a deadline, never blocking
past it, and with caps on every size; whatever arrives is validated against the shape the
protocol allows (``validate_ready``, ``validate_outputs``) before anything else looks at it.
Every string that came from the student side is cleaned (``clean``): cut to a length, control,
bidi and zero-width characters and lone surrogates escaped, so any log, CSV or web page can hold it.

Messages, in order:
    student -> grader  {"sandbox": [{"name": "...", "present": bool, "detail": "..."}, ...]}
                       (sent right after the lock-down, before the notebook exists there)
    grader -> student  {"op": "run", "cells": [[index, source], ...], "fixtures": {...},
                        "language": "en", "skip": [sha256 of an unchanged demonstration cell, ...]}
    student -> grader  {"ready": true, "notes": [...], "ran": cells run, "cell_errors": [{"cell": n,
                        "line": "first line", "error": "Type: message", "consequence": bool}]}
                       (n: among the code cells, from 1; notes: what the cell runner skipped)
    grader -> student  {"op": "case", "calls": [call spec, ...]}         (repeated)
    student -> grader  {"outputs": [packed value, ...]} + buffers
                     | {"error": "...", "fn": "...", "missing": bool, "undefined": "name" | null}
                       (missing: the function is not defined; undefined: the name a NameError in it named)
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Sequence, TypedDict

from course.text import clean as text_clean

from course.grade.sandbox import Protection

MAX_HEADER = 1 << 20  # bytes of JSON in one message
MAX_BUFFERS = 256
MAX_MESSAGE = 64 << 20  # header and buffers together
MAX_TEXT = 2000  # characters of one string from the student side
_PREFIX = struct.Struct("!IH")
_LENGTH = struct.Struct("!Q")


class ChannelClosed(Exception):
    """The other side closed the channel (or it broke)."""


class TimedOut(Exception):
    """No complete message before the deadline."""


class ProtocolViolation(Exception):
    """What arrived is not a message the protocol allows."""


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """A string from the student side, safe anywhere: cut to ``limit``, every control, bidi and
    zero-width character and lone surrogate shown as its escape (``text.clean``)."""
    return text_clean(text, limit)


def encode(message: dict[str, Any], buffers: Sequence[bytes] = ()) -> bytes:
    """A message's bytes, framed (see above); ``allow_nan=False``: a NaN travels as ``{"float": "nan"}``."""
    header = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    parts = [_PREFIX.pack(len(header), len(buffers)), header]
    for buffer in buffers:
        parts += [_LENGTH.pack(len(buffer)), buffer]
    return b"".join(parts)


def send(sock: socket.socket, message: dict[str, Any], buffers: Sequence[bytes] = ()) -> None:
    sock.sendall(encode(message, buffers))


class Reader:
    """The grader's side: complete messages from a non-blocking socket, by a deadline."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        sock.setblocking(False)
        self.data = bytearray()

    def _fill(self, needed: int, deadline: float) -> None:
        while len(self.data) < needed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut()
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = self.sock.recv(min(1 << 20, needed - len(self.data)))
            except BlockingIOError:
                continue
            except OSError as error:  # a reset or broken pipe: the student side is gone
                raise ChannelClosed(str(error))
            if not chunk:
                raise ChannelClosed("closed")
            self.data += chunk

    def receive(self, deadline: float) -> tuple[object, list[bytes]]:
        self._fill(_PREFIX.size, deadline)
        size, count = _PREFIX.unpack_from(self.data)
        if size > MAX_HEADER or count > MAX_BUFFERS:
            raise ProtocolViolation(f"a message of {size} bytes with {count} buffers")
        offset = _PREFIX.size + size
        self._fill(offset, deadline)
        header = bytes(self.data[_PREFIX.size:offset])
        buffers = []
        total = offset
        for _ in range(count):
            self._fill(offset + _LENGTH.size, deadline)
            (length,) = _LENGTH.unpack_from(self.data, offset)
            total += _LENGTH.size + length
            if total > MAX_MESSAGE:
                raise ProtocolViolation(f"more than {MAX_MESSAGE >> 20} MB in one answer")
            self._fill(offset + _LENGTH.size + length, deadline)
            buffers.append(bytes(self.data[offset + _LENGTH.size:offset + _LENGTH.size + length]))
            offset += _LENGTH.size + length
        del self.data[:offset]
        try:
            message = json.loads(header)
        except (ValueError, RecursionError) as error:
            raise ProtocolViolation(f"not JSON ({type(error).__name__})")
        return message, buffers


def validate_sandbox(message: object) -> list[Protection]:
    """The student process's first message: the protections it measured before it read the
    notebook.  Kept for the whole submission; nothing later can add to it."""
    names = {"limits", "namespaces", "filesystem", "identity", "landlock", "seccomp", "signals", "descendants",
             "channel"}
    if not (isinstance(message, dict) and set(message) == {"sandbox"} and isinstance(message["sandbox"], list)
            and len(message["sandbox"]) <= 20):
        raise ProtocolViolation("no report of the sandbox's protections")
    found = []
    for entry in message["sandbox"]:
        if not (isinstance(entry, dict) and set(entry) == {"name", "present", "detail"} and entry["name"] in names
                and type(entry["present"]) is bool and isinstance(entry["detail"], str)):
            raise ProtocolViolation("a malformed protection")
        found.append(Protection(entry["name"], entry["present"], clean(entry["detail"], 300)))
    return found


class CellError(TypedDict):
    """A cell that raised (``course.execute`` finds them)."""
    cell: int  # 1-based position among the notebook's code cells, as the student counts them
    line: str  # the cell's first non-blank line
    error: str  # "<Type>: <message>"
    consequence: bool  # a NameError for a name that an earlier failed cell binds


def validate_ready(message: object) -> tuple[list[CellError], list[str], int]:
    """The student process's report after running the cells: (cell errors, the runner's notes,
    cells run).  Notes are the notebook's own words (a skipped magic): never the sandbox's."""
    if not (isinstance(message, dict) and set(message) == {"ready", "cell_errors", "notes", "ran"}
            and message["ready"] is True and isinstance(message["cell_errors"], list)
            and isinstance(message["notes"], list) and len(message["notes"]) <= 100
            and type(message["ran"]) is int and len(message["cell_errors"]) <= 10000):
        raise ProtocolViolation("a malformed report after running the notebook")
    errors: list[CellError] = []
    for entry in message["cell_errors"]:
        if not (isinstance(entry, dict) and set(entry) == {"cell", "line", "error", "consequence"}
                and type(entry["cell"]) is int and 0 < entry["cell"] < 1 << 20 and isinstance(entry["line"], str)
                and isinstance(entry["error"], str) and type(entry["consequence"]) is bool):
            raise ProtocolViolation("a malformed cell error")
        errors.append({"cell": entry["cell"], "line": clean(entry["line"], 120), "error": clean(entry["error"], 300),
                       "consequence": entry["consequence"]})
    notes = []
    for note in message["notes"]:
        if not isinstance(note, str):
            raise ProtocolViolation("a malformed note")
        notes.append(clean(note, 300))
    return errors, notes, message["ran"]


@dataclass(frozen=True)
class CallError:
    """A case's answer when one of its calls failed (raised, changed an input, called a
    forbidden API, or is not defined): the function, what the student reads, and whether the
    function is missing altogether (then a failed cell may be why, and the status says so)."""

    fn: str
    message: str
    missing: bool
    undefined: str | None = None  # the name a NameError inside the function found undefined


def validate_outputs(message: object, calls: int) -> list[Any] | CallError:
    """A case's answer: the packed outputs (one per call), or the failed call's ``CallError``."""
    if isinstance(message, dict) and set(message) == {"outputs"} and isinstance(message["outputs"], list) \
            and len(message["outputs"]) == calls:
        return message["outputs"]
    if isinstance(message, dict) and set(message) == {"error", "fn", "missing", "undefined"} \
            and isinstance(message["error"], str) and isinstance(message["fn"], str) \
            and isinstance(message["missing"], bool) and isinstance(message["undefined"], (str, type(None))):
        undefined = message["undefined"]
        return CallError(clean(message["fn"], 100), clean(message["error"], 1000), message["missing"],
                         None if undefined is None else clean(undefined, 100))
    raise ProtocolViolation("a malformed answer to a case")
