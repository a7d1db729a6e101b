"""Reduce a document that does not fit to its most relevant units, in original order, with visible
elision marks.

Units (paragraphs, or sentences of long paragraphs; see ``sections``) are scored for the question by
BM25 over the document's own units, plus a bonus for units that overlap the chunk hits retrieval
found, plus a small bonus for the opening paragraph (who and what the document is about). The best
units are kept greedily while they fit; a kept unit brings its heading along (the visit date of an entry
in a medical history). Runs of left-out units become one line such as
``[... 37 paragraphs (12,400 tokens) omitted ...]``, so the model and the reader can see the cut.

Relevant units come first. By default a reduction keeps only those, however much room it is given;
with ``beyond_relevant`` it goes on with the next-best units once the relevant ones are in (the context
around the matches, where answers often sit). Packing uses both to share a budget between several
reduced documents (see ``pack``). A unit is relevant when its score reaches
``RELEVANT_SCORE``: at least half as strong a lexical match as the document's best unit, or under one of
retrieval's strongest chunk hits; the opening paragraph always is. A document in which nothing matches
(a record the caller named, asked an unrelated question) has no better guide than its own order: every
unit counts as relevant and the reduction keeps it from the beginning. ``Reduction.complete`` says
whether every relevant unit was kept or the room ran out first.
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
RELEVANT_SCORE = 0.5  # half the best lexical match, or the best hit alone: see the module docstring
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
    complete: bool = True  # every relevant unit was kept; False when the room ran out first

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


@lru_cache(maxsize=64)  # packing may reduce every ranked document (k=20-30), question after question
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
    first = _lead(analysis.units)
    if first is not None:
        scores[first] += LEAD_BONUS
    return scores


def _lead(units: Sequence[Unit]) -> int | None:
    return next((i for i, u in enumerate(units) if u.kind != "heading"), None)


def relevant_units(units: Sequence[Unit], scores: np.ndarray) -> np.ndarray:
    """Which units are relevant (bool per unit): a reduction keeps them first, and only them unless told
    to go beyond; see the module docstring."""
    relevant = scores >= RELEVANT_SCORE
    first = _lead(units)
    if first is not None:
        relevant[first] = True
        matched = scores > 0
        matched[first] = scores[first] > LEAD_BONUS
        if not matched.any():
            relevant[:] = True  # nothing matches the question: no reason to prefer one unit to another
    return relevant


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


def _marks_added(keep: set[int], adding: Sequence[int], n: int) -> int:
    """How many more omitted runs (one elision mark each) there are once ``adding`` is kept too: a unit
    inside an omitted run splits it (+1), one that closes a gap of one removes it (-1)."""
    added: set[int] = set()
    delta = 0
    for j in adding:
        left = j > 0 and j - 1 not in keep and j - 1 not in added
        right = j < n - 1 and j + 1 not in keep and j + 1 not in added
        delta += int(left and right) - int(not left and not right)
        added.add(j)
    return delta


def _choose(order: Sequence[int], units: Sequence[Unit], costs: Sequence[int], room: int,
            mark_cost: int) -> set[int]:
    """Greedy choice of units in ``order``: each costs itself, its heading if new, and the elision marks it
    adds (or saves, when it closes a gap)."""
    keep: set[int] = set()
    used = mark_cost  # nothing kept yet: the whole document is one omitted run
    for i in order:
        if units[i].kind == "heading" or i in keep:
            continue
        head = units[i].heading
        adding = [head, i] if head >= 0 and head not in keep else [i]
        extra = sum(costs[j] for j in adding) + mark_cost * _marks_added(keep, adding, len(units))
        if used + extra > room:
            continue
        keep.update(adding)
        used += extra
    return keep


def reduce_document(text: str, question: str, room: int, count_tokens: Callable[[str], int],
                    wrap: Callable[[str], str], hits: Sequence[ChunkHit] = (),
                    beyond_relevant: bool = False) -> Reduction | None:
    """The relevant part of ``text`` (best units first) whose wrapped form fits in ``room`` tokens, or
    None when not even one unit fits. It keeps no irrelevant unit, so it may use far less than ``room``,
    unless ``beyond_relevant``: then the rest of the room goes to the next-best units.

    ``wrap`` turns reduced text into what the prompt holds (tags included); the result is counted
    exactly through it, and if the estimate fell short, the last-chosen units are dropped until it fits.
    """
    analysis = analyze(text, count_tokens)
    units, costs = analysis.units, analysis.costs
    if not units:
        return None
    scores = score_units(analysis, question, hits)
    relevant = relevant_units(units, scores)
    wanted = {i for i in np.flatnonzero(relevant).tolist() if units[i].kind != "heading"}
    mark_cost = count_tokens(elision_mark(units, sum(costs))) + 2
    candidates = range(len(units)) if beyond_relevant else np.flatnonzero(relevant).tolist()
    order = sorted(candidates, key=lambda i: (not relevant[i], -scores[i], i))
    keep = _choose(order, units, costs, room - count_tokens(wrap("")), mark_cost)
    chosen = [i for i in order if i in keep and units[i].kind != "heading"]
    while chosen:
        reduced, spans = _render(text, units, costs, keep)
        n_tokens = count_tokens(wrap(reduced))
        if n_tokens <= room:
            kept_tokens = sum(costs[i] for i in keep)
            return Reduction(reduced, n_tokens, tuple(spans), len(keep), len(units), kept_tokens,
                             sum(costs) - kept_tokens, complete=wanted <= keep)
        # Counting every re-render is the expensive part: drop at least the excess in one go.
        excess = n_tokens - room
        while chosen and excess > 0:
            excess -= costs[chosen.pop()]
        needed = {units[j].heading for j in chosen}
        keep = set(chosen) | {h for h in needed if h >= 0}
    return None
