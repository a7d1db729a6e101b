"""Retrieval result types: ranked documents, packed context, evidence spans.

These are plain frozen dataclasses so a result can be logged (ids and counts only), compared in tests
and handed across the ``retrieval`` -> ``app`` boundary without either side knowing the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.types import Document


@dataclass(frozen=True)
class ChunkHit:
    """One chunk that matched the question: the evidence a document's score rests on.

    ``start``/``end`` are character offsets into the document text; ``source`` says which ranker found
    it ("dense", "bm25"); ``score`` is that ranker's raw score (cosine similarity or BM25).
    """

    chunk_id: int
    start: int
    end: int
    score: float
    source: str


@dataclass(frozen=True)
class ScoredDocument:
    """A whole document, its score for the question, and the chunk hits that justify it.

    ``selected`` marks documents the caller named explicitly; they rank before every retrieved one.
    ``ranks`` holds the document's 1-based rank in each ranker that found it ({"dense": 3, "bm25": 1}).
    """

    document: Document
    score: float
    hits: tuple[ChunkHit, ...] = ()
    selected: bool = False
    ranks: dict = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        return self.document.doc_id


@dataclass(frozen=True)
class PackedDocument:
    """A document as it went into the prompt: whole, or reduced to its most relevant sections.

    ``text`` is what the prompt holds (with elision marks when reduced); ``kept`` lists the character
    spans of the original text that survived, in order, so citations and highlights map back to the
    original. ``n_tokens`` counts the wrapped document (tags and metadata included).
    """

    doc_id: str
    title: str
    metadata: dict
    text: str
    n_tokens: int
    original_tokens: int
    score: float
    rank: int  # 1-based position in the ranking handed to pack()
    selected: bool = False
    reduced: bool = False
    kept: tuple[tuple[int, int], ...] = ()
    note: str = ""  # for a reduced document: what was left out, in words

    @property
    def whole(self) -> bool:
        return not self.reduced


@dataclass(frozen=True)
class DroppedDocument:
    """A ranked document that is not in the prompt, with the reason a user can read."""

    doc_id: str
    title: str
    n_tokens: int
    score: float
    rank: int
    reason: str


@dataclass(frozen=True)
class PackedContext:
    """What the model reads: packed documents in prompt order, what was dropped, and the token sums.

    ``prompt_tokens`` is the size of the final prompt; it is exact when pack() was given
    ``count_messages`` (the chat template applied), else the sum of the pieces plus a fixed per-message
    overhead (``counting`` says which). ``budget`` covers prompt and answer; ``reserve`` is the answer's
    share, so ``prompt_tokens <= budget - reserve`` always holds.
    """

    question: str
    documents: tuple[PackedDocument, ...]
    dropped: tuple[DroppedDocument, ...]
    budget: int
    reserve: int
    prompt_tokens: int
    overhead_tokens: int  # system prompt, question, message frame: everything but the documents
    order: str
    counting: str  # "exact" (count_messages) or "estimate" (pieces + fixed overhead)
    messages: tuple[dict, ...] = ()
    system_prompt: str = ""

    @property
    def document_tokens(self) -> int:
        return sum(d.n_tokens for d in self.documents)

    @property
    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]

    @property
    def notes(self) -> list[str]:
        """One line per reduced or dropped document, for the user (ids and counts, no text)."""
        lines = [f"{d.doc_id}: {d.note}" for d in self.documents if d.reduced]
        lines += [f"{d.doc_id}: dropped, {d.reason}" for d in self.dropped]
        return lines


@dataclass(frozen=True)
class EvidenceSpan:
    """A passage of a document related to the question: character span [start, end) and its score."""

    doc_id: str
    start: int
    end: int
    text: str
    score: float
