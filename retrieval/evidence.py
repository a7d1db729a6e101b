"""Evidence spans: the sentences of a document most related to the question, with character offsets.

They drive citation highlighting in the UI and make a readable extractive answer when no real model is
configured. A sentence scores by BM25 against the question over the document's own sentences
(normalized to [0, 1]), plus a bonus when it lies inside a chunk that retrieval matched; with an
embedder, the best lexical candidates and the hit sentences are re-scored by cosine similarity too,
which finds paraphrases that share no word with the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ingest.types import Document
from retrieval.bm25 import BM25Index
from retrieval.sections import sentences
from retrieval.terms import terms
from retrieval.types import ChunkHit, EvidenceSpan, PackedContext, ScoredDocument

HIT_BONUS = 0.3  # inside a retrieved chunk: related even without shared words
DENSE_WEIGHT = 0.6  # share of the cosine similarity in the score when an embedder is given
MAX_DENSE_CANDIDATES = 64  # sentences embedded per document: bounds the cost of a 100K-token record
MIN_SCORE = 0.05  # below this a sentence is noise, not evidence
HEADING_WEIGHT = 0.5  # a heading names a section ("## 2019-02-01 Cardiology clinic"); it rarely answers


def _candidates(text: str, within: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
    regions = within if within else [(0, len(text))]
    return [span for a, b in regions for span in sentences(text, a, b)]


def _hit_bonus(spans: Sequence[tuple[int, int]], hits: Sequence[ChunkHit]) -> np.ndarray:
    bonus = np.zeros(len(spans), dtype=np.float32)
    ranked = sorted(hits, key=lambda h: -h.score)
    for i, (a, b) in enumerate(spans):
        for rank, hit in enumerate(ranked):
            if hit.start < b and a < hit.end:
                bonus[i] = max(bonus[i], HIT_BONUS / (1 + rank))
    return bonus


def evidence(document: Document, question: str, *, hits: Sequence[ChunkHit] = (), k: int = 5,
             embedder=None, within: Sequence[tuple[int, int]] | None = None) -> list[EvidenceSpan]:
    """The ``k`` best sentence spans of ``document`` for ``question``, best first.

    ``within`` limits the search to character spans (the kept parts of a reduced document);
    ``embedder`` (an ``ingest.embed.Embedder``) adds semantic similarity.
    """
    text = document.text
    spans = _candidates(text, within)
    if not spans or not question.strip():
        return []
    index = BM25Index.build(text[a:b] for a, b in spans)
    # The words naming the document (a patient's name in their own record) say nothing about which
    # sentence answers; score on the rest of the question when anything is left.
    naming = frozenset(terms(document.title))
    lexical = index.scores(question, ignore=naming)
    if not lexical.any():
        lexical = index.scores(question)
    top = float(lexical.max())
    scores = (lexical / top if top > 0 else lexical) + _hit_bonus(spans, hits)
    scores[[text.startswith("#", a) for a, _ in spans]] *= HEADING_WEIGHT
    if embedder is not None:
        pool = np.argsort(-scores, kind="stable")[:MAX_DENSE_CANDIDATES]
        vectors = embedder.encode([question] + [text[spans[i][0]:spans[i][1]] for i in pool])
        cosine = vectors[1:] @ vectors[0]
        scores = scores * (1 - DENSE_WEIGHT)
        scores[pool] += DENSE_WEIGHT * np.clip(cosine, 0.0, 1.0)
    best = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] >= MIN_SCORE]
    return [EvidenceSpan(document.doc_id, spans[i][0], spans[i][1], text[spans[i][0]:spans[i][1]],
                         float(scores[i])) for i in best]


def packed_evidence(packed: PackedContext, ranked: Sequence[ScoredDocument], *, k: int = 3,
                    embedder=None) -> Mapping[str, list[EvidenceSpan]]:
    """Evidence for every packed document, looking only at the parts that made it into the prompt."""
    by_id = {sd.doc_id: sd for sd in ranked}
    out: dict[str, list[EvidenceSpan]] = {}
    for doc in packed.documents:
        sd = by_id.get(doc.doc_id)
        if sd is not None:
            out[doc.doc_id] = evidence(sd.document, packed.question, hits=sd.hits, k=k, embedder=embedder,
                                       within=doc.kept)
    return out
