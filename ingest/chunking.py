"""Sentence-aware chunking for search: character spans of a document, never prompt units.

A chunk is a run of whole sentences that fits the embedder's window (~200 word pieces for MiniLM,
whose limit is 256 with the two special tokens), and the next chunk repeats the last sentence or two
so a fact split across a boundary is still found. Chunks keep exact offsets: ``text[start:end]``.

Token counts come from a ``token_starts`` function (the character offset where each token begins),
computed once per document, so a 550K-character history is tokenized in one fast call and every
sentence is counted by binary search instead of being re-tokenized.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .context import CONTEXT_MODES

TokenStarts = Callable[[str], np.ndarray]

# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by spaces, or at any line
# break: Markdown lists, tables and headings are line-shaped, and a line is a sentence for our purpose.
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))[ \t]+|[ \t]*\n\s*")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkConfig:
    """How documents are cut for search; recorded with the collection, because it shapes every vector."""

    max_tokens: int = 200  # MiniLM truncates at 256 word pieces incl. [CLS]/[SEP]; leave slack
    overlap_tokens: int = 32  # at most this much of a chunk's tail is repeated at the next chunk's head
    overlap_sentences: int = 2  # ... and at most this many sentences
    # What each chunk's vector is also told (``ingest.context``): "headings" = the document's title and
    # the headings above the chunk; "title"; or "none" (collections made before this setting existed).
    context: str = "headings"

    def __post_init__(self):
        if self.max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError("overlap_tokens must be in [0, max_tokens)")
        if self.context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {', '.join(CONTEXT_MODES)}, got {self.context!r}")


def word_starts(text: str) -> np.ndarray:
    """Token starts for whitespace-separated words: a tokenizer-free stand-in (tests, fallbacks)."""
    return np.fromiter((m.start() for m in _WORD.finditer(text)), dtype=np.int64)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of sentences and lines, with surrounding whitespace trimmed and empty pieces dropped."""
    spans = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        _add_trimmed(text, pos, m.start(), spans)
        pos = m.end()
    _add_trimmed(text, pos, len(text), spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


def _split_long(text: str, span: tuple[int, int], starts: np.ndarray, max_tokens: int):
    """Cut one over-long sentence at token boundaries into pieces of at most ``max_tokens`` tokens."""
    s, e = span
    lo, hi = np.searchsorted(starts, [s, e])
    pieces = []
    for a in range(lo, hi, max_tokens):
        b = a + max_tokens
        piece_start = s if a == lo else int(starts[a])
        piece_end = e if b >= hi else int(starts[b])
        _add_trimmed(text, piece_start, piece_end, pieces)
    return pieces


def chunk_spans(text: str, token_starts: TokenStarts, config: ChunkConfig = ChunkConfig()):
    """Character spans ``[(start, end), ...]`` covering every sentence of ``text``, in order.

    Each span holds at most ``config.max_tokens`` tokens (as counted by ``token_starts``); consecutive
    spans share up to ``overlap_sentences`` trailing sentences worth at most ``overlap_tokens``.
    """
    starts = np.asarray(token_starts(text), dtype=np.int64)
    units: list[tuple[int, int]] = []
    for span in sentence_spans(text):
        lo, hi = np.searchsorted(starts, span)
        if hi - lo > config.max_tokens:
            units.extend(_split_long(text, span, starts, config.max_tokens))
        else:
            units.append(span)
    if not units:
        return []
    bounds = np.asarray(units, dtype=np.int64)  # (U, 2)
    counts = np.diff(np.searchsorted(starts, bounds), axis=1)[:, 0]  # tokens per unit, (U,)
    counts = np.maximum(counts, 1)  # punctuation-only units still cost something
    return _pack(bounds, counts.tolist(), config)


def _pack(bounds: np.ndarray, counts: list[int], config: ChunkConfig) -> list[tuple[int, int]]:
    """Greedy packing of sentence units into chunks, restarting each chunk on the previous one's tail."""
    spans = []
    i, n = 0, len(counts)
    while i < n:
        j, total = i, 0
        while j < n and (j == i or total + counts[j] <= config.max_tokens):
            total += counts[j]
            j += 1
        spans.append((int(bounds[i, 0]), int(bounds[j - 1, 1])))
        if j >= n:
            break
        # Repeat up to overlap_sentences trailing units, but only if the next new unit still fits:
        # otherwise the next chunk would be a subset of this one.
        back, tail = 0, 0
        while (
            back < config.overlap_sentences
            and j - back - 1 > i
            and tail + counts[j - back - 1] <= config.overlap_tokens
            and tail + counts[j - back - 1] + counts[j] <= config.max_tokens
        ):
            tail += counts[j - back - 1]
            back += 1
        i = j - back
    return spans
