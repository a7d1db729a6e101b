"""The results file: JSONL, one record per finished (document, question) item, appended crash-safely.

Each record is one line written with a single ``write`` on an ``O_APPEND`` descriptor and then
fsynced, so after a crash the file holds every finished record plus, at worst, one torn last line
(a kill or power loss mid-write). Opening for writing truncates that torn tail; reading for a report
ignores it. A lock on the file keeps two runs from appending to the same results at once.

Records are never rewritten: a retried or redone item appends a newer record, and ``latest`` keeps
the last one per key.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"


class ResultsError(RuntimeError):
    """The results file cannot be used: locked by another run, or corrupt before its last line."""


def record_key(record: dict) -> tuple[str, str]:
    """(document id, question id); retrieval-mode records have no document: ""."""
    return (record.get("doc_id") or "", str(record.get("question_id")))


def _parse(data: bytes, path: Path) -> list[dict]:
    records = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ResultsError(f"{path}: line {n} is not a JSON record; the file was edited or damaged "
                               "(move it aside to start over)") from None
    return records


def read_records(path: Path | str) -> list[dict]:
    """Every complete record of a results file, oldest first; a torn last line is ignored."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return _parse(data[: data.rfind(b"\n") + 1], path)


def latest(records: list[dict]) -> dict[tuple[str, str], dict]:
    """The newest record per (document, question)."""
    out: dict[tuple[str, str], dict] = {}
    for r in records:
        out[record_key(r)] = r
    return out


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ResultsFile:
    """Append-only writer; ``records`` holds what the file had when opened (torn tail removed)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.records: list[dict] = []
        self.repaired_bytes = 0  # size of the torn tail removed on open
        self._fd: int | None = None

    def open(self) -> ResultsFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResultsError(f"another batch run is writing {self.path}; wait for it or use another "
                               "--out folder") from None
        try:
            self.records = self._repair(fd)
        except ResultsError:
            os.close(fd)
            raise
        if created:
            _fsync_dir(self.path.parent)  # the new file's name survives a crash too
        self._fd = fd
        return self

    def _repair(self, fd: int) -> list[dict]:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            self.repaired_bytes = len(data) - keep
            os.ftruncate(fd, keep)
            os.fsync(fd)
            log.warning("results file %s: removed a torn last line (%d bytes) left by an interrupted run",
                        self.path, self.repaired_bytes)
        return _parse(data[:keep], self.path)

    def append(self, record: dict) -> None:
        """Write one record as one line and make it durable before returning."""
        if self._fd is None:
            raise ResultsError("the results file is not open")
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # a regular-file write is whole in practice; the loop makes it certain
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)
        self.records.append(record)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __enter__(self) -> ResultsFile:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def write_json_atomic(path: Path, value: dict) -> None:
    """Write, fsync, rename: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
