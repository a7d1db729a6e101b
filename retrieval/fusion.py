"""From chunk hits to document rankings, and from several rankings to one.

Aggregation rule (chunk hits -> document score), the same for dense and BM25 hits: a document scores
by its best chunk, plus a small, decaying bonus for each further hit,

    score(d) = s1 + BONUS * (s2 + DECAY * s3 + DECAY^2 * s4 + ...)      (s1 >= s2 >= ... its hit scores)

so one strong passage decides the rank (the answer usually sits in one place) and several good
passages break ties between documents whose best passages are alike. The bonus is bounded by
BONUS / (1 - DECAY) * s1 = 0.2 * s1, so a long document with many weak hits cannot outrank a short
document with one strong hit. Negative scores (cosine) add no bonus.

Fusion is reciprocal rank fusion (Cormack et al., SIGIR 2009): score(d) = sum over rankers of
1 / (RRF_K + rank), which needs no score calibration between cosine similarities and BM25.
"""

from __future__ import annotations

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
    out = sorted(fused.values(), key=lambda c: (-c.score, c.doc_id))
    for cand in out:
        # Raw scores of different rankers do not compare; interleave hits by their rank in their ranker.
        cand.hits = [hit for _, hit in sorted(positions[cand.doc_id], key=lambda p: p[0])]
    return out
