"""Retrieval mode: each question answered over the collection through the question-answering service.

Retrieval and packing (store, FAISS, embedder) run on the calling thread, one item at a time; only
generation runs on the worker threads, so the store is never shared between threads. ``QAService.ask``
is a generator: its first event arrives once the prompt is packed, and the rest of it (generation,
citation checks) is finished by whichever thread runs the job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from app.batch.context import Job, RunContext
from app.batch.guard import Cancelled
from app.batch.items import Item, answer_record, error_record
from app.service import QAError, QAService
from app.types import AnswerDone
from retrieval.filters import Filters


def _finish(ctx: RunContext, item: Item, events) -> dict:
    for event in events:
        if isinstance(event, AnswerDone):
            if ctx.backend.stopped() and not event.answer.ok:
                raise Cancelled("the batch run was stopped before this answer finished")
            return answer_record(item, ctx.run_hash, ctx.mode, event.answer)
    raise RuntimeError("the service ended without an answer")


def collection_jobs(ctx: RunContext, service: QAService, collection: str, items: Sequence[Item],
                    doc_ids: Sequence[str] = (), filters: Filters | None = None) -> Iterator[Job]:
    for it in items:
        try:
            events = service.ask(it.question.prompt, collection, doc_ids=list(doc_ids) or None,
                                 filters=filters, budget=ctx.budget, params=ctx.params)
            next(events)  # RetrievalDone: retrieved and packed here, on the calling thread
        except QAError as e:
            record = error_record(it, ctx.run_hash, ctx.mode, e.kind, str(e))
            yield Job(it, lambda record=record: record)
            continue
        yield Job(it, lambda it=it, events=events: _finish(ctx, it, events))
