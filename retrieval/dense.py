"""Dense search: the question's vector against the collection's chunk vectors, through the store.

FAISS knows chunk ids only; the store maps them back to documents and spans. A filter cannot be pushed
into the index, so a filtered search over-fetches: it asks for ``depth`` chunks, keeps those of
allowed documents, and doubles the depth until enough documents are found or the whole index has been
searched. Chunk ids that the store no longer holds (a document deleted by an ingest that committed
after the index was read) are skipped.
"""

from __future__ import annotations

import numpy as np

from retrieval.types import ChunkHit


def dense_search(store, vector: np.ndarray, depth: int, doc_ids: set[str] | None = None,
                 want_docs: int = 1) -> list[tuple[str, ChunkHit]]:
    """Up to ``depth`` best chunks as (doc_id, hit), from documents in ``doc_ids`` when given.

    With a filter, the search widens until it has chunks from ``want_docs`` documents (or from every
    allowed one) or has covered the whole index.
    """
    if doc_ids is not None and not doc_ids:
        return []
    total = max(int(store.info.n_chunks), 1)
    query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
    k = depth if doc_ids is None else min(depth * 4, total)
    while True:
        found = store.search(query, k)[0]
        hits = _resolve(store, found, doc_ids)
        enough = doc_ids is None or len({d for d, _ in hits}) >= min(want_docs, len(doc_ids))
        if enough or k >= total:
            return hits[:depth]
        k = min(k * 4, total)


def _resolve(store, found: list[tuple[int, float]], doc_ids: set[str] | None) -> list[tuple[str, ChunkHit]]:
    chunks = {c.chunk_id: c for c in store.get_chunks([cid for cid, _ in found])}
    out = []
    for chunk_id, score in found:
        chunk = chunks.get(chunk_id)
        if chunk is None or (doc_ids is not None and chunk.doc_id not in doc_ids):
            continue
        out.append((chunk.doc_id, ChunkHit(chunk_id, chunk.start, chunk.end, float(score), "dense")))
    return out

