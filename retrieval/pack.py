"""Pack ranked documents into a token budget: a pure function of (ranked documents, budget, counter).

Budget arithmetic (all in tokens of the model's tokenizer)::

    budget = reserve (the answer) + overhead (system prompt, question, message frame) + documents

Documents are taken in rank order (explicitly selected ones first, as the retriever returns them).
Each goes in whole when its wrapped form fits the room left; otherwise it is reduced to its most
relevant sections (``reduce``) if at least ``min_reduced_tokens`` are left, else dropped with a reason.
At most one document is reduced: the reduction takes the room left, so after it only documents that
fit whole can still go in.
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


def _fit_one(sd: ScoredDocument, rank: int, question: str, room: int, count_tokens: CountTokens,
             reduce: bool, min_reduced: int, stored_counts: bool) -> PackedDocument | DroppedDocument:
    """One document against the room left: whole, reduced, or dropped with a reason."""
    doc = sd.document
    common = {"doc_id": doc.doc_id, "title": doc.title, "score": sd.score, "rank": rank}
    # A document whose stored count is far above the room cannot fit whole: do not tokenize it to learn so.
    too_big = doc.n_tokens > _SURELY_TOO_BIG * max(room, 0)
    full = doc.n_tokens if too_big else _whole_cost(sd, count_tokens, stored_counts)
    if not too_big and full <= room:
        return PackedDocument(metadata=doc.metadata, text=doc.text, n_tokens=full, original_tokens=full,
                              selected=sd.selected, kept=((0, len(doc.text)),), **common)
    needs = f"needs {'~' if too_big else ''}{full:,} tokens, {max(room, 0):,} left"
    if not reduce or room < min_reduced:
        return DroppedDocument(n_tokens=full, reason=needs, **common)
    cut = reduce_document(doc.text, question, room, count_tokens,
                          lambda text: _wrapped(sd, text, True), sd.hits)
    if cut is None:
        return DroppedDocument(n_tokens=full, reason=needs + ", and no section fits", **common)
    return PackedDocument(metadata=doc.metadata, text=cut.text, n_tokens=cut.n_tokens, original_tokens=full,
                          selected=sd.selected, reduced=True, kept=cut.kept, note=cut.note, **common)


def _select(ranked: Sequence[ScoredDocument], question: str, room: int, count_tokens: CountTokens,
            reduce: bool, min_reduced: int, stored_counts: bool,
            ) -> tuple[list[PackedDocument], list[DroppedDocument]]:
    packed: list[PackedDocument] = []
    dropped: list[DroppedDocument] = []
    seen: set[str] = set()
    for rank, sd in enumerate(ranked, start=1):
        if sd.doc_id in seen:
            continue
        seen.add(sd.doc_id)
        result = _fit_one(sd, rank, question, room, count_tokens, reduce, min_reduced, stored_counts)
        if isinstance(result, PackedDocument):
            packed.append(result)
            room -= result.n_tokens
            # A reduction fills the room it was given up to less than one section: later documents
            # may still go in whole, but reducing them too would only add scraps (and cost time).
            reduce = reduce and not result.reduced
        else:
            dropped.append(result)
    return packed, dropped


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
