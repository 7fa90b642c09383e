"""Files' bytes: their digests, and writing the grader's outputs whole or not at all, whatever
kills the batch midway.  Standard library only: the worker imports it."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``: what a Colab cell checks a downloaded file against, and how
    an unchanged demonstration cell is recognised (``cells.digest``)."""
    return hashlib.sha256(data).hexdigest()


def digest(*parts: bytes) -> str:
    """One SHA-256 of several byte strings, each hashed first so that no boundary between them
    is ambiguous: what a result is keyed by (the notebook as graded and the autograder), so a
    resumed batch skips what it has."""
    return sha256(b"".join(bytes.fromhex(sha256(part)) for part in parts))


def write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all: a batch killed mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(text.encode("utf-8", "backslashreplace"))
    os.replace(tmp, path)
