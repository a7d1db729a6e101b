"""One generation at a time on the engine, with a bounded queue in front of it.

The engine owns one GPU and one cache, so requests run one after another on a single worker thread.
At most ``max_queue`` requests wait behind the running one; the next is refused at once (HTTP 429)
rather than left to time out. A request whose client has gone is cancelled: skipped if still waiting,
stopped between tokens if running.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The worker is busy and ``max_queue`` requests already wait."""


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finished:
    finish_reason: str  # "stop" (EOS or a stop string), "length" (max_tokens), "cancelled"
    completion_tokens: int


@dataclass(frozen=True)
class Failed:
    message: str
    status: int = 500


Event = Delta | Finished | Failed


@dataclass
class Job:
    """One request's generation. ``emit`` is called on the worker thread with each event, in order."""

    prompt_ids: list[int]
    params: object  # model.sampling.SamplingParams
    emit: Callable[[Event], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.perf_counter)


RunJob = Callable[[Job], Finished]  # runs a job to the end, emitting Delta events; returns how it ended


class GenerationWorker:
    def __init__(self, run_job: RunJob, max_queue: int) -> None:
        self._run_job = run_job
        self.max_queue = max_queue
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._running = False
        self._finished: dict[str, int] = {}  # finish reason -> count, for /health
        self._thread = threading.Thread(target=self._loop, name="generation-worker", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> dict:
        with self._lock:
            return {"running": int(self._running), "waiting": self._waiting, "max_queue": self.max_queue,
                    "finished": dict(self._finished)}

    def submit(self, job: Job) -> None:
        """Queue a job, or raise ``QueueFull`` without queuing it."""
        with self._lock:
            busy = self._running or self._waiting > 0
            if busy and self._waiting >= self.max_queue:
                raise QueueFull(f"server busy: 1 request generating and {self._waiting} waiting "
                                f"(limit {self.max_queue}); retry shortly")
            self._waiting += 1
        self._pending.put(job)

    def close(self, timeout: float = 5.0) -> None:
        self._pending.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self._pending.get()
            if job is None:
                return
            with self._lock:
                self._waiting -= 1
                self._running = True
            final: Event = Failed("generation failed: the worker stopped unexpectedly")
            try:
                final = self._run_one(job)
            finally:
                # Free the slot *before* the client hears the end: a client that sends its next request
                # as soon as this one returns must find the worker idle, not get a spurious 429.
                reason = final.finish_reason if isinstance(final, Finished) else "failed"
                with self._lock:
                    self._running = False
                    self._finished[reason] = self._finished.get(reason, 0) + 1
                job.emit(final)

    def _run_one(self, job: Job) -> Event:
        """Run one job, emitting its deltas; return its final event (the caller emits it)."""
        if job.cancel.is_set():
            log.info("skipped a request whose client left while it waited")
            return Finished("cancelled", 0)
        t0 = time.perf_counter()
        try:
            done = self._run_job(job)
        except Exception as e:  # the request fails, the server goes on
            log.exception("generation failed")
            return Failed(_public_message(e))
        log.info("generated %d tokens (%s) for a %d-token prompt in %.0f ms, waited %.0f ms",
                 done.completion_tokens, done.finish_reason, len(job.prompt_ids),
                 (time.perf_counter() - t0) * 1000, (t0 - job.queued_at) * 1000)
        return done


def _public_message(e: Exception) -> str:
    """An error message for the client: the exception's own (our errors never carry prompt text)."""
    return f"generation failed: {type(e).__name__}: {e}"
