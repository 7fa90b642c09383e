"""The channel between the grader and a student process, and what may travel on it.

A message is a JSON header plus binary buffers (a tensor's bytes), framed as

    [u32 header length][u16 buffer count][header][u64 length][buffer] ...

The grader reads only through descriptors it opened itself, with a deadline, never blocking
past it, and with caps on every size; whatever arrives is validated against the shape the
protocol allows (``validate_ready``, ``validate_outputs``) before anything else looks at it.
Every string that came from the student side is cleaned (``clean``): cut to a length, lone
surrogates escaped, so any log, CSV or web page can hold it.

Messages, in order:
    grader -> student  {"op": "run", "cells": [[index, source], ...], "fixtures": {...},
                        "language": "en", "skip": [sha256 of an unchanged demonstration cell, ...]}
    student -> grader  {"ready": true, "cell_errors": [{"cell": i, "error": "...", "line": "...",
                        "consequence": bool}], "notes": [...]}  ("line" and "consequence" optional)
    grader -> student  {"op": "case", "calls": [call spec, ...]}         (repeated)
    student -> grader  {"outputs": [packed value, ...]} + buffers
                     | {"error": "...", "fn": "...", "missing": bool}
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from typing import TypedDict

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
    """A string from the student side, safe anywhere: cut to ``limit``, lone surrogates escaped."""
    if not isinstance(text, str):
        text = repr(text)
    if len(text) > limit:
        text = text[:limit] + " [...]"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encode(message: dict, buffers: list[bytes] = ()) -> bytes:
    header = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    parts = [_PREFIX.pack(len(header), len(buffers)), header]
    for buffer in buffers:
        parts += [_LENGTH.pack(len(buffer)), buffer]
    return b"".join(parts)


def send(sock: socket.socket, message: dict, buffers: list[bytes] = ()) -> None:
    sock.sendall(encode(message, buffers))


def receive_blocking(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """The student side's read of the grader's requests (trusted, so no deadline)."""
    def exactly(n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = sock.recv(min(n - got, 1 << 20))
            if not chunk:
                raise ChannelClosed("the grader closed the channel")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    size, count = _PREFIX.unpack(exactly(_PREFIX.size))
    header = json.loads(exactly(size))
    buffers = [exactly(_LENGTH.unpack(exactly(_LENGTH.size))[0]) for _ in range(count)]
    return header, buffers


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


class CellError(TypedDict):
    """A cell that raised: its number, its first line, "Type: message", and whether it is a
    NameError for a name an earlier failed cell binds (None: the student side did not say)."""

    cell: int
    error: str
    line: str | None
    consequence: bool | None


def validate_ready(message: object) -> tuple[list[CellError], list[str]]:
    """The student process's report after running the cells: (cell errors, sandbox notes)."""
    if not (isinstance(message, dict) and set(message) == {"ready", "cell_errors", "notes"}
            and message["ready"] is True and isinstance(message["cell_errors"], list)
            and isinstance(message["notes"], list) and len(message["cell_errors"]) <= 10000
            and len(message["notes"]) <= 50):
        raise ProtocolViolation("a malformed report after running the notebook")
    errors = []
    for entry in message["cell_errors"]:
        if not (isinstance(entry, dict) and {"cell", "error"} <= set(entry) <= {"cell", "error", "line", "consequence"}
                and type(entry["cell"]) is int and isinstance(entry["error"], str)
                and isinstance(entry.get("line", ""), str) and type(entry.get("consequence", False)) is bool):
            raise ProtocolViolation("a malformed cell error")
        line = entry.get("line")
        errors.append(CellError(cell=entry["cell"], error=clean(entry["error"], 500),
                                line=None if line is None else clean(line, 120), consequence=entry.get("consequence")))
    notes = []
    for note in message["notes"]:
        if not isinstance(note, str):
            raise ProtocolViolation("a malformed note")
        notes.append(clean(note, 300))
    return errors, notes


def validate_outputs(message: object, calls: int) -> list | tuple[str, str, bool]:
    """A case's answer: the packed outputs (one per call), or (function, error message,
    whether the function is missing)."""
    if isinstance(message, dict) and set(message) == {"outputs"} and isinstance(message["outputs"], list) \
            and len(message["outputs"]) == calls:
        return message["outputs"]
    if isinstance(message, dict) and set(message) == {"error", "fn", "missing"} and isinstance(message["error"], str) \
            and isinstance(message["fn"], str) and isinstance(message["missing"], bool):
        return clean(message["fn"], 100), clean(message["error"], 1000), message["missing"]
    raise ProtocolViolation("a malformed answer to a case")
