"""Per-document mode: each question asked of one document given whole, as the QA service would give it.

Work shared by a document's questions is done once: reading it, counting its tokens and packing it
(with the longest question, so every other question fits the same budget), and, on the in-process
engine, prefilling the common prompt prefix (``reuse``). A document larger than the budget is reduced
by the same ``pack`` per question (the kept sections depend on the question) and its records say so.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from functools import partial

from app.batch.context import Job, RunContext
from app.batch.guard import Cancelled
from app.batch.items import Item, ItemError, answer_record, error_kind, error_record
from app.batch.reuse import PrefixReuse
from app.citations import build_citations, evidence_answer, top_evidence
from app.service import EVIDENCE_PER_DOC
from app.types import Answer, Timings
from ingest.types import Document
from model.backend import BackendError
from retrieval.errors import QuestionTooLong, RetrievalError
from retrieval.evidence import evidence
from retrieval.pack import CachedCounter, pack
from retrieval.prompt import build_messages
from retrieval.types import PackedContext, ScoredDocument

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Prepared:
    """One question of the document, ready to generate."""

    packed: PackedContext
    n_prompt: int
    pack_ms: float
    ids: list[int] | None = None  # prompt token ids, on the in-process engine


def _pack(ctx: RunContext, document: Document, question: str, counter) -> PackedContext:
    sd = ScoredDocument(document, 1.0, selected=True)
    try:
        packed = pack([sd], question=question, budget=ctx.pack_budget, count_tokens=counter,
                      count_messages=ctx.backend.count_messages, reserve=ctx.params.max_tokens, order="rank")
    except QuestionTooLong as e:
        raise ItemError("too_long", str(e)) from None
    except RetrievalError as e:
        raise ItemError("bad_input", str(e)) from None
    if not packed.documents:
        reason = packed.dropped[0].reason if packed.dropped else "it does not fit"
        raise ItemError("too_long", f"document {document.doc_id} cannot be packed: {reason}")
    return packed


def _prepare(ctx: RunContext, document: Document, items: list[Item]) -> dict[str, Prepared | ItemError]:
    """Pack once with the longest question; if the document had to be reduced, pack per question."""
    t0 = time.perf_counter()
    counter = CachedCounter(ctx.backend.count_tokens)
    sizes = {it.question.id: counter(it.question.prompt) for it in items}
    longest = max(items, key=lambda it: sizes[it.question.id]).question
    out: dict[str, Prepared | ItemError] = {}
    try:
        shared = _pack(ctx, document, longest.prompt, counter)
    except ItemError as e:
        return {it.question.id: e for it in items}
    shared_ms = (time.perf_counter() - t0) * 1000
    for it in items:
        q, t1 = it.question, time.perf_counter()
        try:
            if shared.documents[0].reduced:
                packed = _pack(ctx, document, q.prompt, counter)
                n_prompt = packed.prompt_tokens
            else:
                messages = tuple(build_messages(shared, q.prompt))
                packed = dataclasses.replace(shared, question=q.prompt, messages=messages)
                n_prompt = shared.prompt_tokens - sizes[longest.id] + sizes[q.id]
            ids = None
            if ctx.engine is not None:
                ids = ctx.engine.encode_chat(list(packed.messages))
                n_prompt = len(ids)
            packed = dataclasses.replace(packed, prompt_tokens=n_prompt)
            ctx.backend.check_fits(n_prompt, ctx.params.max_tokens)
            out[q.id] = Prepared(packed, n_prompt, (time.perf_counter() - t1) * 1000 + shared_ms, ids)
            shared_ms = 0.0  # the shared packing is charged to the first question
        except ItemError as e:
            out[q.id] = e
        except BackendError as e:
            out[q.id] = ItemError(error_kind(e), str(e))
    return out


def _evidence(ctx: RunContext, document: Document, question: str, packed: PackedContext) -> dict:
    d = packed.documents[0]
    with ctx.embed_lock:
        spans = evidence(document, question, k=EVIDENCE_PER_DOC + 2, embedder=ctx.embedder,
                         within=d.kept or None)
    # A heading ("# Ana Diaz (P0001)") matches names in the question but supports no claim.
    return {d.doc_id: tuple(s for s in spans if not s.text.lstrip().startswith("#"))[:EVIDENCE_PER_DOC]}


def _stream(ctx: RunContext, item: Item, prep: Prepared, reuse: PrefixReuse | None):
    """Generate; return (text, the failure or None, time to first token, generation ms)."""
    parts: list[str] = []
    error, ttft_ms = None, None
    t0 = time.perf_counter()
    if reuse is not None:
        stream = reuse.stream_text(item.question.id, ctx.params, ctx.backend.stopped)
    else:
        stream = ctx.backend.stream_chat(list(prep.packed.messages), ctx.params)
    try:
        for delta in stream:
            if ttft_ms is None:
                ttft_ms = (time.perf_counter() - t0) * 1000
            parts.append(delta)
    except Cancelled:
        raise
    except BackendError as e:  # the text so far is kept, like the QA service does
        error = e
        log.warning("document %s question %s: generation failed: %s", item.doc_id, item.question.id,
                    type(e).__name__)
    if ctx.backend.stopped():
        raise Cancelled("the batch run was stopped before this answer finished")
    return "".join(parts), error, ttft_ms, (time.perf_counter() - t0) * 1000


def answer_item(ctx: RunContext, item: Item, document: Document, prep: Prepared,
                reuse: PrefixReuse | None) -> dict:
    t0 = time.perf_counter()
    text, error, ttft_ms, gen_ms = _stream(ctx, item, prep, reuse)
    n_out = ctx.backend.count_tokens(text) if text else 0  # as the QA service counts, whatever the path
    packed = prep.packed
    spans = _evidence(ctx, document, item.question.text, packed)
    best = top_evidence(spans)
    timings = Timings(pack_ms=prep.pack_ms, ttft_ms=ttft_ms, generation_ms=gen_ms,
                      total_ms=prep.pack_ms + (time.perf_counter() - t0) * 1000,
                      prompt_tokens=prep.n_prompt, output_tokens=n_out)
    answer = Answer(text=text, citations=build_citations(text, packed, spans, best), packed=packed,
                    timings=timings, model=ctx.model_info, random_weights=ctx.backend.random_weights,
                    evidence=best, evidence_answer=evidence_answer(best, packed),
                    status="failed" if error else "ok", error=str(error) if error else None)
    return answer_record(item, ctx.run_hash, ctx.mode, answer, kind=error_kind(error) if error else None,
                         reduced=packed.documents[0].reduced,
                         shared_prefix_tokens=reuse.shared if reuse is not None else 0)


def document_jobs(ctx: RunContext, document: Document, items: list[Item],
                  reuse: bool = True) -> Iterator[Job]:
    """The jobs for one document's pending items, in question order."""
    prepared = _prepare(ctx, document, items)
    ready = {qid: p for qid, p in prepared.items() if isinstance(p, Prepared)}
    shared = None
    if reuse and ctx.engine is not None and len(ready) >= 2:
        shared = PrefixReuse(ctx.engine, {qid: p.ids for qid, p in ready.items()}, ctx.params.max_tokens,
                             ctx.prefill_chunk)
    for it in items:
        p = prepared[it.question.id]
        if isinstance(p, ItemError):
            record = error_record(it, ctx.run_hash, ctx.mode, p.kind, str(p))
            yield Job(it, lambda record=record: record)
        else:
            yield Job(it, partial(answer_item, ctx, it, document, p, shared))
