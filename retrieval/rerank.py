"""The optional reranker hook: re-score the top documents with a model that reads question and passage
together. Off by default.

A reranker is any callable ``(question, passages) -> scores`` (higher is better). A document's passage
is its title plus the text of its best chunk hits, because cross-encoders read a few hundred tokens, not
a whole record. ``CrossEncoderReranker`` wraps a sentence-transformers CrossEncoder (for example
``cross-encoder/ms-marco-MiniLM-L-6-v2``, which must be available locally or from the hub).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Reranker = Callable[[str, Sequence[str]], Sequence[float]]

PASSAGE_HITS = 3  # best chunks per document shown to the reranker
PASSAGE_CHARS = 2000  # ~500 tokens: a cross-encoder's usual window


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder as a reranker."""

    def __init__(self, model: str, device: str = "cpu", max_length: int = 512):
        from sentence_transformers import CrossEncoder

        self.name = model
        self.model = CrossEncoder(model, device=device, max_length=max_length)

    def __call__(self, question: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self.model.predict([(question, p) for p in passages], show_progress_bar=False)
        return [float(s) for s in scores]


def passage(title: str, hit_texts: Sequence[str]) -> str:
    """What the reranker reads for one document: title, then its best hit texts, capped in length."""
    text = "\n".join([title, *hit_texts[:PASSAGE_HITS]])
    return text[:PASSAGE_CHARS]
