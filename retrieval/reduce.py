"""Reduce a document that does not fit to its most relevant units, in original order, with visible
elision marks.

Units (paragraphs, or sentences of long paragraphs; see ``sections``) are scored for the question by
BM25 over the document's own units, plus a bonus for units that overlap the chunk hits retrieval
found, plus a small bonus for the opening paragraph (who and what the document is about). The best
units are kept greedily while they fit; a kept unit brings its heading along (the visit date of an entry
in a medical history). Runs of left-out units become one line such as
``[... 37 paragraphs (12,400 tokens) omitted ...]``, so the model and the reader can see the cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.bm25 import BM25Index
from retrieval.sections import Unit, split_units
from retrieval.types import ChunkHit

HIT_BONUS = 0.5  # a unit inside a retrieved chunk is relevant even when it shares no word with the question
LEAD_BONUS = 0.25  # the opening paragraph says whose record or which component this is
RUN_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Reduction:
    """A reduced document: its text with elision marks, the original spans kept, and what was cut."""

    text: str
    n_tokens: int  # of the wrapped reduced text, as the prompt holds it
    kept: tuple[tuple[int, int], ...]
    n_kept: int
    n_units: int
    kept_tokens: int
    omitted_tokens: int

    @property
    def note(self) -> str:
        omitted = self.n_units - self.n_kept
        return (f"reduced to its most relevant sections: kept {self.n_kept} of {self.n_units} passages "
                f"(~{self.kept_tokens:,} tokens); {omitted} passages "
                f"(~{self.omitted_tokens:,} tokens) omitted")


@dataclass(frozen=True)
class Analysis:
    """What reduction needs to know about a document, whatever the question: units, costs, BM25."""

    units: tuple[Unit, ...]
    costs: tuple[int, ...]
    starts: np.ndarray
    ends: np.ndarray
    bm25: BM25Index


@lru_cache(maxsize=8)
def analyze(text: str, count_tokens: Callable[[str], int]) -> Analysis:
    """Split and count a document once: the same long record is often reduced for question after
    question (and for several budgets), and counting its units is most of the cost."""
    units = tuple(split_units(text))
    costs = tuple(count_tokens(text[u.start:u.end]) for u in units)
    starts = np.fromiter((u.start for u in units), dtype=np.int64, count=len(units))
    ends = np.fromiter((u.end for u in units), dtype=np.int64, count=len(units))
    return Analysis(units, costs, starts, ends, BM25Index.build(text[u.start:u.end] for u in units))


def score_units(analysis: Analysis, question: str, hits: Sequence[ChunkHit] = ()) -> np.ndarray:
    """Relevance of each unit to the question, roughly in [0, 2]."""
    lexical = analysis.bm25.scores(question)
    top = float(lexical.max()) if len(lexical) else 0.0
    scores = lexical / top if top > 0 else np.zeros(len(analysis.units), dtype=np.float32)
    for rank, hit in enumerate(sorted(hits, key=lambda h: -h.score)):
        overlaps = (analysis.starts < hit.end) & (hit.start < analysis.ends)
        scores[overlaps] += HIT_BONUS / (1 + rank)  # best hit counts most; several hits add up
    first = next((i for i, u in enumerate(analysis.units) if u.kind != "heading"), None)
    if first is not None:
        scores[first] += LEAD_BONUS
    return scores


def elision_mark(units: Sequence[Unit], tokens: int) -> str:
    kinds = {u.kind for u in units if u.kind != "heading"}
    noun = "paragraphs" if kinds == {"paragraph"} else "sentences" if kinds == {"sentence"} else "passages"
    if len(units) == 1:
        noun = {"paragraphs": "paragraph", "sentences": "sentence"}.get(noun, "passage")
    return f"[... {len(units)} {noun} (~{tokens:,} tokens) omitted ...]"


def _render(text: str, units: Sequence[Unit], costs: Sequence[int], keep: set[int]) -> tuple[str, list]:
    """The reduced text: contiguous kept units copied verbatim, each omitted run as one elision mark."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = i
        kept = i in keep
        while j < len(units) and (j in keep) == kept:
            j += 1
        if kept:
            spans.append((units[i].start, units[j - 1].end))
            pieces.append(text[units[i].start:units[j - 1].end])
        else:
            pieces.append(elision_mark(units[i:j], sum(costs[i:j])))
        i = j
    return RUN_SEPARATOR.join(pieces), spans


def _choose(scores: np.ndarray, units: Sequence[Unit], costs: Sequence[int], room: int,
            mark_cost: int) -> set[int]:
    """Greedy choice by score: each unit costs itself, its heading if new, and one more elision mark."""
    keep: set[int] = set()
    used = mark_cost  # the document may end or start with an omitted run
    order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    for i in order:
        if units[i].kind == "heading" or i in keep:
            continue
        extra = costs[i] + mark_cost
        head = units[i].heading
        if head >= 0 and head not in keep:
            extra += costs[head]
        if used + extra > room:
            continue
        keep.add(i)
        if head >= 0:
            keep.add(head)
        used += extra
    return keep


def reduce_document(text: str, question: str, room: int, count_tokens: Callable[[str], int],
                    wrap: Callable[[str], str], hits: Sequence[ChunkHit] = ()) -> Reduction | None:
    """The most relevant part of ``text`` whose wrapped form fits in ``room`` tokens, or None.

    ``wrap`` turns reduced text into what the prompt holds (tags included); the result is counted
    exactly through it, and units are dropped lowest-score first until it fits.
    """
    analysis = analyze(text, count_tokens)
    units, costs = analysis.units, analysis.costs
    if not units:
        return None
    scores = score_units(analysis, question, hits)
    mark_cost = count_tokens(elision_mark(units, sum(costs))) + 2
    keep = _choose(scores, units, costs, room - count_tokens(wrap("")), mark_cost)
    while any(units[i].kind != "heading" for i in keep):
        reduced, spans = _render(text, units, costs, keep)
        n_tokens = count_tokens(wrap(reduced))
        if n_tokens <= room:
            kept_tokens = sum(costs[i] for i in keep)
            return Reduction(reduced, n_tokens, tuple(spans), len(keep), len(units), kept_tokens,
                             sum(costs) - kept_tokens)
        worst = min((i for i in keep if units[i].kind != "heading"), key=lambda i: (scores[i], -i))
        keep.discard(worst)
        needed = {units[j].heading for j in keep}
        keep = {i for i in keep if units[i].kind != "heading" or i in needed}
    return None
