"""The batch runner: plan the items, skip the done ones, run the rest, append each record as it finishes.

    run_batch(data_dir, backend, questions, options, out_dir) -> RunSummary

Preparation (reading, packing, retrieval) happens on the calling thread; generation runs on one
worker thread for the in-process engine (it owns one GPU: one request at a time) or on a bounded pool
of ``options.concurrency`` threads for a server backend (a vLLM fleet behind a load balancer, or the
project's own server). Records are written only by the calling thread, one fsynced line each.

Stopping: setting ``stop`` (the CLI does on Ctrl-C or SIGTERM) submits nothing more and cancels the
generations in flight; cancelled items are not recorded, so the next run redoes exactly those. Five
items in a row failing with "model unavailable" stop the run too: the server is gone, and recording an
error for every remaining item would only hide that.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from app.batch.context import Job, RunContext
from app.batch.guard import Cancelled, GuardedBackend
from app.batch.items import Item, digest, error_kind, error_record
from app.batch.overcollection import collection_jobs
from app.batch.perdoc import document_jobs
from app.batch.progress import Progress
from app.batch.questions import Question
from app.batch.results import RESULTS_NAME, ResultsFile, record_key, write_json_atomic
from app.batch.selection import SelectionError, select_documents
from app.service import DEFAULT_MAX_TOKENS, RANDOM_WEIGHTS_MAX_TOKENS, QAService
from ingest.errors import CollectionNotFound, DocumentNotFound, StoreError
from ingest.store import CollectionStore
from model.backend import BackendError, ChatBackend, EngineBackend
from model.sampling import SamplingParams
from retrieval.filters import Filters
from retrieval.prompt import QUESTION_TEMPLATE, SYSTEM_PROMPT

log = logging.getLogger(__name__)

MODES = ("per-document", "retrieval")
RUN_NAME = "run.json"
UNAVAILABLE_STREAK = 5


class BatchError(Exception):
    """The run cannot start. ``kind`` as in ``QAError``: "bad_input", "not_found", "model_unavailable"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BatchOptions:
    collection: str
    mode: str = "per-document"
    doc_ids: tuple[str, ...] = ()
    filters: Filters | None = None
    concurrency: int = 1  # requests in flight to a server; the in-process engine always runs one
    max_tokens: int | None = None  # None: the service's default (short for a random-weights model)
    temperature: float = 0.0  # greedy: reproducible, so a resumed run matches an uninterrupted one
    budget: int | None = None  # prompt tokens for documents; None: the model's context window
    k: int = 20  # retrieval mode: documents retrieved before packing
    reuse_prefix: bool = True  # per-document mode on the engine: prefill each document once

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        object.__setattr__(self, "doc_ids", tuple(self.doc_ids))


@dataclass
class RunSummary:
    out_dir: Path
    total: int  # items planned
    skipped: int  # already done by an earlier run
    ok: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    elapsed_s: float = 0.0
    stopped: bool = False
    stop_reason: str | None = None
    repaired_bytes: int = 0  # torn tail removed from the results file on open
    workers: int = 1
    failures: dict = field(default_factory=dict)  # error kind -> count

    @property
    def complete(self) -> bool:
        return self.skipped + self.ok == self.total

    @property
    def items_per_s(self) -> float:
        return (self.ok + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens_in + self.tokens_out) / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _run_settings(options: BatchOptions, backend: ChatBackend, params: SamplingParams) -> dict:
    """What an answer depends on, besides the question and the document (see ``items``)."""
    out = {"mode": options.mode, "collection": options.collection, "model": backend.name,
           "max_tokens": params.max_tokens, "temperature": params.temperature, "budget": options.budget,
           "prompt": digest([SYSTEM_PROMPT, QUESTION_TEMPLATE])}
    if options.mode == "retrieval":
        out |= {"k": options.k, "doc_ids": list(options.doc_ids),
                "filters": options.filters.describe() if options.filters else "none"}
    return out


def _plan(store: CollectionStore, questions: Sequence[Question], options: BatchOptions,
          run_hash: str) -> tuple[list[Item], list[dict]]:
    if options.mode == "retrieval":
        generation = f"generation {store.info.generation}"  # a changed collection changes retrieval
        return [Item.make(None, generation, q, run_hash) for q in questions], []
    try:
        docs = select_documents(store, options.doc_ids, options.filters)
    except SelectionError as e:
        raise BatchError(e.kind, str(e)) from None
    items = [Item.make(d.doc_id, d.content_hash, q, run_hash) for d in docs for q in questions]
    return items, [{"doc_id": d.doc_id, "title": d.title, "n_tokens": d.n_tokens} for d in docs]


def _safe_run(ctx: RunContext, job: Job) -> dict | None:
    """A job's record; an error record when it raised; None when it was cancelled by a stop."""
    try:
        return job.run()
    except Cancelled:
        return None
    except Exception as e:  # one failing item must not end the run
        log.warning("item %s/%s failed: %s", job.item.doc_id, job.item.question.id, type(e).__name__)
        message = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
        return error_record(job.item, ctx.run_hash, ctx.mode, error_kind(e), message)


class _Writer:
    """Appends records, feeds the progress bar and the summary, and stops a run whose server is gone."""

    def __init__(self, results: ResultsFile, progress: Progress, summary: RunSummary, stop: threading.Event):
        self.results, self.progress, self.summary, self.stop = results, progress, summary, stop
        self.streak = 0

    def __call__(self, record: dict | None) -> None:
        if record is None:
            return
        self.results.append(record)
        self.progress.update(record)
        s = self.summary
        s.tokens_in += int(record.get("tokens_in") or 0)
        s.tokens_out += int(record.get("tokens_out") or 0)
        kind = (record.get("error") or {}).get("kind")
        if record.get("status") == "ok":
            s.ok += 1
        else:
            s.failed += 1
            s.failures[kind] = s.failures.get(kind, 0) + 1
        self.streak = self.streak + 1 if kind == "model_unavailable" else 0
        if self.streak >= UNAVAILABLE_STREAK and not self.stop.is_set():
            s.stop_reason = f"{self.streak} items in a row could not reach the model; stopped"
            self.stop.set()


def _execute(ctx: RunContext, jobs: Iterator[Job], workers: int, write: _Writer,
             stop: threading.Event) -> None:
    """Generate on ``workers`` threads (one for the engine) while this thread prepares the next job and
    writes every record. Keeping tensors off the main thread also matters on a shared CPU: there, the
    main thread's OpenMP team measured ~10x slower than a worker's (docs/benchmarks.md)."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") as pool:
        in_flight: set = set()
        for job in jobs:  # preparing this job overlapped the generations in flight
            while len(in_flight) >= workers:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for f in finished:
                    write(f.result())
            if stop.is_set():
                break
            in_flight.add(pool.submit(_safe_run, ctx, job))
        while in_flight:
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for f in finished:
                write(f.result())


def _per_document_jobs(ctx: RunContext, store: CollectionStore, pending: list[Item],
                       reuse: bool) -> Iterator[Job]:
    for doc_id, group in itertools.groupby(pending, key=lambda it: it.doc_id):
        items = list(group)
        try:
            document = store.get_document(doc_id)
        except DocumentNotFound as e:  # removed from the collection since the run was planned
            for it in items:
                record = error_record(it, ctx.run_hash, ctx.mode, "not_found", str(e))
                yield Job(it, lambda record=record: record)
            continue
        yield from document_jobs(ctx, document, items, reuse)


def _open_store(data_dir: Path | str, collection: str) -> CollectionStore:
    try:
        return CollectionStore.open(data_dir, collection)
    except CollectionNotFound:
        known = ", ".join(CollectionStore.list_collections(data_dir)) or "none"
        raise BatchError("not_found", f"unknown collection {collection!r} in {data_dir} "
                         f"(collections: {known})") from None
    except StoreError as e:
        raise BatchError("bad_input", f"collection {collection!r} cannot be opened: {e}") from None


def _context(backend: ChatBackend, guarded: GuardedBackend, options: BatchOptions,
             embedder) -> tuple[RunContext, dict]:
    """The jobs' shared context and the run's settings (asks a server for its model card: fails early)."""
    try:
        model_info = guarded.info()
        max_tokens = options.max_tokens or (RANDOM_WEIGHTS_MAX_TOKENS if backend.random_weights
                                            else DEFAULT_MAX_TOKENS)
    except BackendError as e:
        raise BatchError("model_unavailable", str(e)) from None
    params = SamplingParams(max_tokens=max_tokens, temperature=options.temperature)
    settings = _run_settings(options, guarded, params)
    reuse_engine = backend.engine if isinstance(backend, EngineBackend) and options.reuse_prefix else None
    ctx = RunContext(guarded, params, options.budget, digest(settings), options.mode, model_info,
                     engine=reuse_engine, prefill_chunk=getattr(backend, "prefill_chunk", 2048),
                     embedder=embedder)
    return ctx, settings


def _run_pending(ctx: RunContext, store: CollectionStore, data_dir: Path | str, options: BatchOptions,
                 pending: list[Item], write: _Writer, workers: int, stop: threading.Event) -> None:
    if options.mode == "per-document":
        _execute(ctx, _per_document_jobs(ctx, store, pending, options.reuse_prefix), workers, write, stop)
        return
    service = QAService(data_dir, ctx.backend, ctx.embedder, k=options.k)
    try:
        jobs = collection_jobs(ctx, service, options.collection, pending, options.doc_ids, options.filters)
        _execute(ctx, jobs, workers, write, stop)
    finally:
        service.close()


def run_batch(data_dir: Path | str, backend: ChatBackend, questions: Sequence[Question],
              options: BatchOptions, out_dir: Path | str, *, embedder=None,
              stop: threading.Event | None = None, progress: bool = True, command: list[str] | None = None
              ) -> RunSummary:
    """Run (or resume) a batch; see the module docstring. Raises ``BatchError`` before any item runs.

    ``embedder`` searches the collection in retrieval mode (required there); in per-document mode it
    is optional and finds evidence passages by meaning, not only by shared words."""
    out_dir, stop = Path(out_dir), stop or threading.Event()
    workers = 1 if isinstance(backend, EngineBackend) else options.concurrency
    if options.mode == "retrieval" and embedder is None:
        raise BatchError("bad_input", "retrieval mode needs an embedder to search the collection")
    store = _open_store(data_dir, options.collection)
    try:
        ctx, settings = _context(backend, GuardedBackend(backend, stop), options, embedder)
        items, documents = _plan(store, questions, options, ctx.run_hash)
        out_dir.mkdir(parents=True, exist_ok=True)
        with ResultsFile(out_dir / RESULTS_NAME) as results:
            done = {(record_key(r), r.get("item")) for r in results.records if r.get("status") == "ok"}
            pending = [it for it in items if (it.key, it.fingerprint) not in done]
            write_json_atomic(out_dir / RUN_NAME, {
                "collection": options.collection, "mode": options.mode, "run": ctx.run_hash,
                "settings": settings, "model": ctx.model_info, "command": command, "total_items": len(items),
                "questions": [{"id": q.id, "text": q.text, "format": q.format.spec()} for q in questions],
                "documents": documents})
            summary = RunSummary(out_dir, len(items), len(items) - len(pending),
                                 repaired_bytes=results.repaired_bytes, workers=workers)
            log.info("batch %s over %s: %d items, %d done before, %d to run on %d worker(s)", options.mode,
                     options.collection, len(items), summary.skipped, len(pending), workers)
            bar = Progress(len(items), summary.skipped, enabled=progress)
            try:
                write = _Writer(results, bar, summary, stop)
                _run_pending(ctx, store, data_dir, options, pending, write, workers, stop)
            finally:
                summary.elapsed_s = bar.elapsed_s
                bar.close()
    finally:
        store.close()
    summary.stopped = stop.is_set() and not summary.complete
    log.info("batch done: %d ok, %d failed, %d skipped in %.1f s", summary.ok, summary.failed,
             summary.skipped, summary.elapsed_s)
    return summary
