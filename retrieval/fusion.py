"""From chunk hits to document rankings, and from several rankings to one.

Aggregation rule (chunk hits -> document score), the same for dense and BM25 hits: a document scores
by its best chunk, plus a small, decaying bonus for each further hit,

    score(d) = s1 + BONUS * (s2 + DECAY * s3 + DECAY^2 * s4 + ...)      (s1 >= s2 >= ... its hit scores)

so one strong passage decides the rank (the answer usually sits in one place) and several good
passages break ties between documents whose best passages are alike. The bonus is bounded by
BONUS / (1 - DECAY) * s1 = 0.2 * s1, so a long document with many weak hits cannot outrank a short
document with one strong hit. Negative scores (cosine) add no bonus.

Fusion (``zfuse``, the default) sums standardized scores: each ranker's document scores become z-scores
over every document it could have returned, and a document's fused score is the sum of its z-scores
(CombSUM, Fox & Shaw 1994, over z-score normalized scores, Montague & Aslam 2001). A document a ranker
did not list takes that ranker's ``floor``: the lowest score it listed (a list cut at its depth says no more
than that), or 0 when the ranker lists every document it matches at all (the fields ranker; BM25 when its
list was not cut). Standardizing keeps what
ranks throw away: how far a document stands out. BM25 on a rare allergen or drug name scores its few
matching records far above the rest (large z); dense similarities across fifty similar histories are
nearly flat, so even the top one stands out little. Reciprocal rank fusion (``rrf``, Cormack et al.,
SIGIR 2009: sum of 1 / (RRF_K + rank)) gives both rankers' rank 1 the same vote, and on the bundled
question set it let confident dense mistakes push BM25's exact matches out of the top three
(docs/benchmarks.md). Neither function has a weight fitted to data; ``rrf`` stays available.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrieval.types import ChunkHit

BONUS = 0.1
DECAY = 0.5
RRF_K = 60  # the constant from the RRF paper; robust across collections


@dataclass
class Candidate:
    """A document id in a ranking, before its text is fetched."""

    doc_id: str
    score: float
    hits: list[ChunkHit] = field(default_factory=list)
    ranks: dict[str, int] = field(default_factory=dict)


def aggregate(hits: Iterable[tuple[str, ChunkHit]], source: str) -> list[Candidate]:
    """Group (doc_id, hit) pairs into documents scored by the rule above; best document first."""
    by_doc: dict[str, list[ChunkHit]] = defaultdict(list)
    for doc_id, hit in hits:
        by_doc[doc_id].append(hit)
    out = []
    for doc_id, doc_hits in by_doc.items():
        doc_hits.sort(key=lambda h: -h.score)
        rest = sum(max(h.score, 0.0) * DECAY**i for i, h in enumerate(doc_hits[1:]))
        out.append(Candidate(doc_id, doc_hits[0].score + BONUS * rest, doc_hits))
    out.sort(key=lambda c: (-c.score, c.doc_id))
    for rank, cand in enumerate(out, start=1):
        cand.ranks[source] = rank
    return out


def rrf(rankings: Sequence[Sequence[Candidate]], k: int = RRF_K) -> list[Candidate]:
    """Reciprocal rank fusion of several rankings; hits and per-ranker ranks are merged."""
    fused: dict[str, Candidate] = {}
    positions: dict[str, list[tuple[int, ChunkHit]]] = defaultdict(list)
    for ranking in rankings:
        for rank, cand in enumerate(ranking, start=1):
            entry = fused.setdefault(cand.doc_id, Candidate(cand.doc_id, 0.0))
            entry.score += 1.0 / (k + rank)
            entry.ranks.update(cand.ranks)
            positions[cand.doc_id].extend(enumerate(cand.hits))
    return _ordered(fused, positions)


@dataclass(frozen=True)
class Ranking:
    """One ranker's candidates, best first, with the score every unlisted document is assumed to have."""

    candidates: Sequence[Candidate]
    floor: float | None = None  # None: the lowest listed score


def zfuse(rankings: Sequence[Ranking], population: int) -> list[Candidate]:
    """Sum of per-ranker z-scores over ``population`` documents (see the module docstring).

    A ranker whose scores are all alike (or that scored a single document) adds nothing, but its
    documents are still candidates.
    """
    fused: dict[str, Candidate] = {}
    positions: dict[str, list[tuple[int, ChunkHit]]] = defaultdict(list)
    for ranking in rankings:
        for cand in ranking.candidates:
            entry = fused.setdefault(cand.doc_id, Candidate(cand.doc_id, 0.0))
            entry.ranks.update(cand.ranks)
            positions[cand.doc_id].extend(enumerate(cand.hits))
    for ranking in rankings:
        standardized = _standardize(ranking, population)
        if standardized is None:
            continue
        z, z_floor = standardized
        for doc_id, entry in fused.items():
            entry.score += z.get(doc_id, z_floor)
    return _ordered(fused, positions)


def _standardize(ranking: Ranking, population: int) -> tuple[dict[str, float], float] | None:
    """(z-score by doc id, z-score of the floor); None when the ranker has no opinion."""
    scores = [c.score for c in ranking.candidates]
    if not scores:
        return None
    floor = min(scores) if ranking.floor is None else ranking.floor
    n = max(population, len(scores))
    missing = n - len(scores)
    mean = (sum(scores) + missing * floor) / n
    sd = math.sqrt((sum((x - mean) ** 2 for x in scores) + missing * (floor - mean) ** 2) / n)
    if sd == 0:
        return None  # every document scored alike
    return {c.doc_id: (c.score - mean) / sd for c in ranking.candidates}, (floor - mean) / sd


def _ordered(fused: dict[str, Candidate], positions: dict) -> list[Candidate]:
    out = sorted(fused.values(), key=lambda c: (-c.score, c.doc_id))
    for cand in out:
        # Raw scores of different rankers do not compare; interleave hits by their rank in their ranker.
        cand.hits = [hit for _, hit in sorted(positions[cand.doc_id], key=lambda p: p[0])]
    return out
