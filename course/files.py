"""Writing the grader's outputs: whole or not at all, whatever kills the batch midway."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all: a batch killed mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(text.encode("utf-8", "backslashreplace"))
    os.replace(tmp, path)
