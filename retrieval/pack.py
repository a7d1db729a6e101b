"""Pack ranked documents into a token budget: a pure function of (ranked documents, budget, counter).

Budget arithmetic (all in tokens of the model's tokenizer)::

    budget = reserve (the answer) + overhead (system prompt, question, message frame) + documents

Documents are taken in rank order (explicitly selected ones first, as the retriever returns them).
Each goes in whole when its wrapped form fits the room left. Otherwise, if at least
``min_reduced_tokens`` are left, it is reduced to its most relevant sections (``reduce``), else dropped
with a reason. How much room a reduction gets decides whether a question about several long records
(which patients are allergic to latex?) sees every one of them or one record padded out with the rest
of its history. The rule:

1. *Half the room left, at most.* In a first pass, in rank order, a reduction takes at most half the
   room left (at least ``min_reduced_tokens``), or all of it when no candidate comes after: whatever a
   document takes, the candidates ranked after it keep at least as much. The top record gets the most
   context, and the records ranked after it are not crowded out.
2. *Relevant sections first.* Within its share a reduction keeps the units ``reduce`` judges relevant
   (best first), then the next-best units around them: answers often sit next to the matched line (the
   culture result one line below "septic shock"); on the sample questions, reductions cut to their
   relevant units alone lost such answers (issue 4).
3. *Give back.* Room left after the pass (later candidates that were small, or none) goes back in rank
   order: first to reductions whose relevant units did not all fit their share, up to those units, then
   to every reduction, to widen it.

Whole documents are not capped: one that fits the room left goes in whole, in rank order, exactly as
without reduction. Several documents may be reduced; a lone oversized document gets the whole room.
Each reduced document's note counts what it kept and omitted, and each dropped one says why.
The packed documents are then laid out in the requested order and the chat messages are built.

Counting: every piece is counted with ``count_tokens`` (whole documents may use their stored count,
see ``stored_counts``). When ``count_messages`` (the backend's count of
the messages with its chat template applied) is given, the final prompt is counted with it and, if the
template made it larger than planned, packing is redone with the room cut by the excess, so the result
is exact. Without it, the total is the pieces plus ``MESSAGE_OVERHEAD`` tokens per message.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

from retrieval.errors import EmptyQuestion, QuestionTooLong
from retrieval.filters import document_dates
from retrieval.prompt import (
    DOCUMENT_SEPARATOR,
    DOCUMENTS_HEADER,
    MESSAGE_OVERHEAD,
    QUESTION_TEMPLATE,
    SYSTEM_PROMPT,
    compose_messages,
    wrap_document,
)
from retrieval.reduce import reduce_document
from retrieval.types import DroppedDocument, PackedContext, PackedDocument, ScoredDocument

log = logging.getLogger(__name__)

DEFAULT_RESERVE = 1024  # tokens kept for the answer: a cited multi-paragraph answer fits
MIN_REDUCED_TOKENS = 200  # below this a reduced document is a few sentences: more confusing than useful
ORDERS = ("edges", "rank", "reverse", "chronological")
_SURELY_TOO_BIG = 2  # stored n_tokens (the collection's tokenizer) vs the model's: never 2x apart
_MIN_GROWTH = 64  # tokens: less than a short paragraph and its mark; not worth re-counting a reduction
_MAX_REPACKS = 4  # exact-count retries; one is almost always enough (template tokens are few)
STORED_COUNT_MARGIN = 2  # tokens that may merge or split where a stored text meets its wrapper

CountTokens = Callable[[str], int]
CountMessages = Callable[[list[dict]], int]


class CachedCounter:
    """``count_tokens`` with memory for long texts: whole documents recur across questions, and counting a
    100K-token record costs tens of milliseconds. Short texts (sections, wrappers) are counted directly.
    """

    def __init__(self, count_tokens: CountTokens, max_entries: int = 256, min_chars: int = 4096):
        self.count_tokens = count_tokens
        self.max_entries = max_entries
        self.min_chars = min_chars
        self._memo: OrderedDict[str, int] = OrderedDict()

    def __call__(self, text: str) -> int:
        if len(text) < self.min_chars:
            return self.count_tokens(text)
        n = self._memo.get(text)
        if n is None:
            n = self._memo[text] = self.count_tokens(text)
            if len(self._memo) > self.max_entries:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(text)
        return n


def _wrapped(sd: ScoredDocument, text: str, excerpt: bool) -> str:
    doc = sd.document
    return wrap_document(doc.doc_id, doc.title, doc.metadata, text, excerpt) + DOCUMENT_SEPARATOR


def _whole_cost(sd: ScoredDocument, count_tokens: CountTokens, stored_counts: bool) -> int:
    if stored_counts:
        return count_tokens(_wrapped(sd, "", False)) + sd.document.n_tokens + STORED_COUNT_MARGIN
    return count_tokens(_wrapped(sd, sd.document.text, False))


def _common(sd: ScoredDocument, rank: int) -> dict:
    doc = sd.document
    return {"doc_id": doc.doc_id, "title": doc.title, "score": sd.score, "rank": rank}


def _reduced(sd: ScoredDocument, rank: int, question: str, room: int, full: int,
             count_tokens: CountTokens, beyond_relevant: bool = False) -> tuple[PackedDocument | None, bool]:
    """``sd`` reduced to its relevant sections within ``room`` (None when no section fits), and whether
    every relevant section is in."""
    doc = sd.document
    cut = reduce_document(doc.text, question, room, count_tokens, lambda text: _wrapped(sd, text, True),
                          sd.hits, beyond_relevant)
    if cut is None:
        return None, False
    return PackedDocument(metadata=doc.metadata, text=cut.text, n_tokens=cut.n_tokens, original_tokens=full,
                          selected=sd.selected, reduced=True, kept=cut.kept, note=cut.note,
                          **_common(sd, rank)), cut.complete


def _unique(ranked: Sequence[ScoredDocument]) -> list[tuple[int, ScoredDocument]]:
    """(rank, document) pairs, each document once, at its first rank."""
    seen: set[str] = set()
    out = []
    for rank, sd in enumerate(ranked, start=1):
        if sd.doc_id not in seen:
            seen.add(sd.doc_id)
            out.append((rank, sd))
    return out


def _grow(rank: int, sd: ScoredDocument, full: int, packed: dict[int, PackedDocument], room: int,
          question: str, count_tokens: CountTokens, beyond_relevant: bool) -> int:
    """Let document ``rank``'s reduction use ``room`` more tokens; returns the room left."""
    had = packed[rank].n_tokens if rank in packed else 0
    if room >= _MIN_GROWTH:
        grown, _ = _reduced(sd, rank, question, room + had, full, count_tokens, beyond_relevant)
        if grown is not None and grown.n_tokens > had:
            packed[rank] = grown
            room -= grown.n_tokens - had
    return room


def _give_back(docs: dict[int, tuple[ScoredDocument, int, str]], short: list[int],
               packed: dict[int, PackedDocument], dropped: dict[int, DroppedDocument], room: int,
               question: str, count_tokens: CountTokens, min_reduced: int) -> None:
    """Step 3 of the rule: the room left goes, in rank order, to the reductions whose relevant units did
    not all fit, up to those units; then what is still left widens every reduction, in rank order.
    ``docs`` maps rank -> (document, whole cost, that cost in words); ``packed``/``dropped`` are updated."""
    for rank in short:
        sd, full, size = docs[rank]
        room = _grow(rank, sd, full, packed, room, question, count_tokens, False)
        if rank not in packed:
            reason = f"needs {size} tokens, {max(room, 0):,} left"
            if room >= min_reduced:
                reason += ", and no section fits"
            dropped[rank] = DroppedDocument(n_tokens=full, reason=reason, **_common(sd, rank))
    for rank in sorted(r for r, d in packed.items() if d.reduced):
        sd, full, _ = docs[rank]
        room = _grow(rank, sd, full, packed, room, question, count_tokens, True)


def _select(ranked: Sequence[ScoredDocument], question: str, room: int, count_tokens: CountTokens,
            reduce: bool, min_reduced: int, stored_counts: bool,
            ) -> tuple[list[PackedDocument], list[DroppedDocument]]:
    """The rule of the module docstring: in rank order, whole documents that fit and reductions within
    their share; then ``_give_back``."""
    candidates = _unique(ranked)
    packed: dict[int, PackedDocument] = {}
    dropped: dict[int, DroppedDocument] = {}
    docs: dict[int, tuple[ScoredDocument, int, str]] = {}
    short: list[int] = []
    for i, (rank, sd) in enumerate(candidates):
        doc = sd.document
        # A document whose stored count is far above the room cannot fit whole: do not tokenize it to
        # learn so.
        too_big = doc.n_tokens > _SURELY_TOO_BIG * max(room, 0)
        full = doc.n_tokens if too_big else _whole_cost(sd, count_tokens, stored_counts)
        docs[rank] = (sd, full, f"{'~' if too_big else ''}{full:,}")
        if not too_big and full <= room:
            packed[rank] = PackedDocument(metadata=doc.metadata, text=doc.text, n_tokens=full,
                                          original_tokens=full, selected=sd.selected,
                                          kept=((0, len(doc.text)),), **_common(sd, rank))
            room -= full
        elif not reduce or room < min_reduced:
            reason = f"needs {docs[rank][2]} tokens, {max(room, 0):,} left"
            dropped[rank] = DroppedDocument(n_tokens=full, reason=reason, **_common(sd, rank))
        else:
            share = room if i == len(candidates) - 1 else min(room, max(room // 2, min_reduced))
            result, complete = _reduced(sd, rank, question, share, full, count_tokens, beyond_relevant=True)
            if result is not None:
                packed[rank] = result
                room -= result.n_tokens
            if not complete:
                short.append(rank)
    _give_back(docs, short, packed, dropped, room, question, count_tokens, min_reduced)
    return [packed[r] for r in sorted(packed)], [dropped[r] for r in sorted(dropped)]


def arrange(documents: Sequence[PackedDocument], order: str) -> list[PackedDocument]:
    """Prompt order. ``edges`` (default): strongest first, second strongest last, the weakest in the
    middle, where long-context models attend least ("lost in the middle", Liu et al. 2023). ``rank``:
    strongest first. ``reverse``: strongest last, next to the question. ``chronological``: by each
    document's first date (undated last), then rank.
    """
    by_rank = sorted(documents, key=lambda d: d.rank)
    if order == "edges":
        return by_rank[0::2] + by_rank[1::2][::-1]
    if order == "rank":
        return by_rank
    if order == "reverse":
        return by_rank[::-1]
    if order == "chronological":
        def key(d: PackedDocument) -> tuple:
            first, _ = document_dates(d.metadata)
            return (first is None, first.isoformat() if first else "", d.rank)
        return sorted(by_rank, key=key)
    raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")


def _overhead(question: str, system: str, count_tokens: CountTokens,
              count_messages: CountMessages | None) -> int:
    if count_messages is not None:
        empty = count_messages(compose_messages([], question, system))
        frame = compose_messages([], question, system)[1]["content"]
        return empty - count_tokens(frame) + count_tokens(DOCUMENTS_HEADER + QUESTION_TEMPLATE.format(
            question=question.strip()))
    user = DOCUMENTS_HEADER + QUESTION_TEMPLATE.format(question=question.strip())
    return count_tokens(system) + count_tokens(user) + 2 * MESSAGE_OVERHEAD


def pack(ranked: Sequence[ScoredDocument], *, question: str, budget: int, count_tokens: CountTokens,
         count_messages: CountMessages | None = None, reserve: int = DEFAULT_RESERVE, order: str = "edges",
         system_prompt: str | None = None, reduce: bool = True,
         min_reduced_tokens: int = MIN_REDUCED_TOKENS, stored_counts: bool = False) -> PackedContext:
    """Fit ``ranked`` documents into ``budget`` tokens (prompt and answer); see the module docstring.

    ``stored_counts`` takes a whole document's size from ``Document.n_tokens`` (counted at ingest)
    instead of re-tokenizing its text: use it only when the collection was counted with the model's
    tokenizer (``CollectionInfo.tokenizer``), and pass ``count_messages`` to have the result verified.

    Raises EmptyQuestion for a blank question and QuestionTooLong when the system prompt and question
    leave no room for any document.
    """
    if not question or not question.strip():
        raise EmptyQuestion("the question is empty")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    system = SYSTEM_PROMPT if system_prompt is None else system_prompt
    limit = budget - reserve
    overhead = _overhead(question, system, count_tokens, count_messages)
    if overhead >= limit:
        raise QuestionTooLong(
            f"the question and system prompt take {overhead:,} tokens, but the budget leaves only "
            f"{max(limit, 0):,} for the prompt ({budget:,} less {reserve:,} for the answer)")
    room = limit - overhead
    for _ in range(_MAX_REPACKS):
        packed, dropped = _select(ranked, question, room, count_tokens, reduce, min_reduced_tokens,
                                  stored_counts)
        laid_out = arrange(packed, order)
        wrapped = [wrap_document(d.doc_id, d.title, d.metadata, d.text, d.reduced) for d in laid_out]
        messages = compose_messages(wrapped, question, system)
        if count_messages is None:
            total = overhead + sum(d.n_tokens for d in packed)
            break
        total = count_messages(messages)
        if total <= limit:
            break
        room -= total - limit
    else:
        raise QuestionTooLong(f"could not fit the prompt in {limit:,} tokens after {_MAX_REPACKS} tries")
    log.info("packed %d documents (%d reduced), dropped %d: %d of %d prompt tokens",
             len(packed), sum(d.reduced for d in packed), len(dropped), total, limit)
    return PackedContext(
        question=question, documents=tuple(laid_out), dropped=tuple(dropped), budget=budget,
        reserve=reserve, prompt_tokens=total, overhead_tokens=overhead, order=order,
        counting="exact" if count_messages else "estimate", messages=tuple(messages), system_prompt=system,
    )
