"""Batch runs started from the UI: each in a background thread, so the page stays responsive and a run
outlives the browser tab that started it.

A run's folder is ``<data_dir>/.batch/<name>/`` (``run.json`` + ``results.jsonl``, the batch package's
own layout); re-starting a name resumes it. Progress is read back from that folder
(``app.batch.report.load_run``), the same truth the ``batch report`` command reads, so a run started
by the CLI into the same folder shows up too. ``BatchJobs`` only tracks the threads this process
started: their stop switches, and how they ended.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.batch.runner import RUN_NAME, BatchOptions, RunSummary, run_batch

log = logging.getLogger(__name__)

BATCH_DIR = ".batch"


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / BATCH_DIR


def run_name(text: str) -> str:
    """A folder name from what the user typed: letters, digits, '.', '_' and '-' only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip(".-")
    if not name:
        raise ValueError("give the run a name (letters, digits, '.', '_' or '-')")
    return name[:80]


def list_runs(data_dir: Path) -> list[str]:
    """Run folders under the data dir, newest first."""
    root = runs_dir(data_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / RUN_NAME).is_file()]
    return [p.name for p in sorted(found, key=lambda p: (p / RUN_NAME).stat().st_mtime, reverse=True)]


@dataclass
class Job:
    """One background run: its thread, its stop switch, and how it ended (summary or error)."""

    name: str
    out_dir: Path
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    summary: RunSummary | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class BatchJobs:
    """The runs this process started, by name. One run per name at a time."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get(name)

    def start(self, name: str, data_dir: Path, backend, questions, options: BatchOptions,
              embedder=None) -> Job:
        """Start (or resume) run ``name`` in a thread; ValueError if it is already running."""
        out_dir = runs_dir(data_dir) / run_name(name)
        with self._lock:
            current = self._jobs.get(out_dir.name)
            if current is not None and current.running:
                raise ValueError(f"run {out_dir.name!r} is already running; stop it or pick another name")
            job = Job(out_dir.name, out_dir)
            self._jobs[job.name] = job

        def work() -> None:
            try:
                job.summary = run_batch(data_dir, backend, questions, options, out_dir, embedder=embedder,
                                        stop=job.stop, progress=False, command=["ui", job.name])
            except Exception as e:  # the page shows it; the thread must not die silently
                job.error = str(e) if str(e) else type(e).__name__
                log.warning("batch run %s failed to run: %s", job.name, type(e).__name__)

        job.thread = threading.Thread(target=work, name=f"batch-{job.name}", daemon=True)
        job.thread.start()
        return job

    def stop(self, name: str) -> None:
        job = self.get(name)
        if job is not None:
            job.stop.set()
