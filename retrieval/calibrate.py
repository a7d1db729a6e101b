"""Dense document scores, corrected for the number of chunks a document has (the best-of-n bias).

A document's dense score is its best chunk's similarity plus a small bonus for further hits
(``fusion.aggregate``: at most 0.2 of the best score). A 400K-character history
has a thousand chunks, a drug monograph a handful; the best of a thousand draws sits far above the best of
a few even when none of them is about the question, so long records crowd every question's top ranks
(on the bundled set the two longest histories were in the dense top six of unrelated reference questions).

The correction puts each score on the question's own scale and subtracts what chance alone would give:
for n roughly normal similarities, the expected maximum exceeds their mean by E_n standard deviations,
with E_n = Phi^-1((n - 0.375) / (n + 0.25)) (Blom's approximation of the largest normal order statistic;
it grows like sqrt(2 ln n) but, unlike that asymptote, is accurate at small n). So

    corrected(d) = (score(d) - mean) / sd - E_{n_d}

where mean and sd are the question's similarities to an even sample of the collection's chunks
(``SAMPLE`` vectors, read once per store generation). Nothing here is fitted to a question set.

The correction is applied to the aggregated score, bonus included. The bonus also favours documents
with many hits, so a long record keeps a little of its advantage; that is deliberate (several matching
passages are evidence too), but it means the correction removes the best-of-n gain of the best chunk
only, not every advantage of length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np

from retrieval.fusion import Candidate

SAMPLE = 4096  # chunk vectors for the question's mean and sd: ~1.5 MB for MiniLM, microseconds a query


def expected_max(n: int) -> float:
    """How far, in standard deviations, the best of ``n`` normal draws is expected above their mean."""
    return NormalDist().inv_cdf((n - 0.375) / (n + 0.25)) if n > 1 else 0.0


class Scale:
    """A question's similarity scale over the collection, from a fixed sample of chunk vectors."""

    def __init__(self, sample: np.ndarray):
        self.sample = np.ascontiguousarray(sample, dtype=np.float32)

    def moments(self, vector: np.ndarray) -> tuple[float, float] | None:
        """(mean, sd) of the question's similarity to the sampled chunks; None with too few to tell."""
        if len(self.sample) < 2:
            return None
        sims = self.sample @ np.asarray(vector, dtype=np.float32).reshape(-1)
        sd = float(sims.std())
        return (float(sims.mean()), sd) if sd > 0 else None


def correct(candidates: Sequence[Candidate], n_chunks: Mapping[str, int],
            moments: tuple[float, float] | None) -> list[Candidate]:
    """Candidates rescored by the rule in the module docstring, best first (unchanged without moments)."""
    if moments is None:
        return list(candidates)
    mean, sd = moments
    for cand in candidates:
        cand.score = (cand.score - mean) / sd - expected_max(int(n_chunks.get(cand.doc_id, 1)))
    out = sorted(candidates, key=lambda c: (-c.score, c.doc_id))
    for rank, cand in enumerate(out, start=1):
        cand.ranks["dense"] = rank
    return out
