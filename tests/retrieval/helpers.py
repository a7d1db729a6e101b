"""Shared test helpers: a fake token counter and in-memory documents (no store needed)."""

from __future__ import annotations

from ingest.types import Document
from retrieval.types import ChunkHit, ScoredDocument


def count_words(text: str) -> int:
    """A fake tokenizer: one token per whitespace-separated word. Additive, so budgets are predictable."""
    return len(text.split())


def make_doc(doc_id: str, text: str, title: str = "", **metadata) -> Document:
    return Document(doc_id=doc_id, collection="test", title=title or doc_id, text=text,
                    metadata=dict(metadata), content_hash=doc_id, n_tokens=count_words(text))


def scored(doc: Document, score: float = 1.0, hits: tuple[ChunkHit, ...] = (), selected=False):
    return ScoredDocument(document=doc, score=score, hits=hits, selected=selected)


def paragraphs(n: int, words: int = 20, topic: str = "routine") -> str:
    """``n`` distinct paragraphs of ``words`` words each, every sentence ending in a period."""
    return "\n\n".join(
        f"Entry {i} notes {topic} follow up. " + " ".join(f"w{i}x{j}" for j in range(words - 7)) + " done."
        for i in range(n)
    )
