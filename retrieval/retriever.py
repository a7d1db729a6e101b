"""The retriever: which whole documents should the model read for this question?

Rankers work on chunks (dense vectors through FAISS, BM25 over chunk text); their hits are aggregated
to documents (``fusion.aggregate``). The lexical side also matches the question against documents'
identifying fields (``fields``: a named patient or drug). In hybrid mode (and in bm25 mode when a field
matches) the rankings are fused: by default by summing standardized scores (``fusion.zfuse``), or by
reciprocal rank (``fusion="rrf"``). Metadata filters
become one allowed set of document ids that both rankers honour. Documents the caller names
(``doc_ids``: a clinician picks the patient) come first, marked ``selected``, whatever the filters
say; retrieval fills the rest up to ``k``. The retriever knows documents and scores, not prompts:
packing is ``pack``'s job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ingest.errors import DocumentNotFound, EmbeddingMismatch
from retrieval import calibrate
from retrieval.dense import dense_search
from retrieval.errors import EmptyQuestion
from retrieval.fields import FieldIndex
from retrieval.filters import Filters
from retrieval.fusion import Candidate, Ranking, aggregate, rrf, zfuse
from retrieval.lexical import LexicalCache
from retrieval.rerank import PASSAGE_HITS, Reranker, passage
from retrieval.types import ScoredDocument

log = logging.getLogger(__name__)

T = TypeVar("T")

MODES = ("dense", "bm25", "hybrid")
FUSIONS = ("zscore", "rrf")


@dataclass(frozen=True)
class RetrieverConfig:
    """Search depths and fusion constants (``k``, filters and selection are per-call arguments)."""

    chunk_depth: int = 200  # chunks per ranker per query: ~10 hits per document for k=20
    chunks_per_doc: int = 10  # depth grows with k so k documents can be found: max(chunk_depth, k * this)
    fusion: str = "zscore"  # how rankings combine: summed z-scores, or "rrf" (see retrieval.fusion)
    rrf_k: int = 60  # reciprocal rank fusion constant (Cormack et al. 2009), for fusion="rrf"
    rerank_depth: int = 20  # documents re-scored by the reranker, when one is configured
    length_correction: bool = True  # dense: discount the best-of-n advantage of long documents (calibrate)


class Retriever:
    """Ranks a collection's documents for a question. ``mode``: "dense", "bm25" or "hybrid"."""

    def __init__(self, store, embedder=None, mode: str = "hybrid", *, reranker: Reranker | None = None,
                 config: RetrieverConfig = RetrieverConfig(), lexical_cache: LexicalCache | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        if config.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {config.fusion!r}; choose one of {', '.join(FUSIONS)}")
        if mode != "bm25":
            if embedder is None:
                raise ValueError(f"{mode} retrieval needs an embedder; use mode='bm25' without one")
            _check_embedder(store, embedder)
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.reranker = reranker
        self.config = config
        self._lexical = lexical_cache or LexicalCache()
        self._derived: dict[str, tuple[int, object]] = {}  # name -> (store generation, value)

    @classmethod
    def open(cls, data_dir: str | Path, collection: str, *, embed_model: str | None = None,
             mode: str = "hybrid", **kwargs) -> Retriever:
        """Open a collection and load the embedding model it was built with (unless told otherwise)."""
        from ingest.store import CollectionStore

        store = CollectionStore.open(Path(data_dir), collection)
        embedder = None
        if mode != "bm25":
            from ingest.embed import Embedder

            embedder = Embedder(embed_model or store.info.embed_model)
        return cls(store, embedder, mode, **kwargs)

    def search(self, question: str, k: int = 20, filters: Filters | None = None,
               doc_ids: Sequence[str] | None = None) -> list[ScoredDocument]:
        """The best ``k`` documents for ``question``: named ``doc_ids`` first, then retrieved ones.

        Raises EmptyQuestion for a blank question and DocumentNotFound for an unknown named id.
        Filters that match nothing give the named documents only (often an empty list).
        """
        if not question or not question.strip():
            raise EmptyQuestion("the question is empty")
        began = time.perf_counter()
        named = list(dict.fromkeys(doc_ids or ()))
        allowed = self._allowed(filters)
        candidates = self.rank(question, k + len(named), allowed) if allowed != set() else []
        if self.reranker is not None and candidates:
            candidates = self._rerank(question, candidates)
        out = self._selected(question, named, candidates)
        for cand in candidates:
            if len(out) >= max(k, len(named)):
                break
            if cand.doc_id not in named:
                scored = self._fetch(cand)
                if scored is not None:
                    out.append(scored)
        log.info("retrieved %d documents (%d named, mode %s, filters %s) in %.1f ms", len(out), len(named),
                 self.mode, "on" if allowed is not None else "off", 1000 * (time.perf_counter() - began))
        return out

    def rank(self, question: str, k: int, allowed: set[str] | None = None) -> list[Candidate]:
        """Document ids ranked for ``question`` (no text fetched): the rankers and their fusion."""
        depth = max(self.config.chunk_depth, k * self.config.chunks_per_doc)
        rankings: list[Ranking] = []
        if self.mode in ("dense", "hybrid"):
            vector = self.embedder.encode([question])[0]
            hits = dense_search(self.store, vector, depth, allowed, want_docs=k)
            dense = aggregate(hits, "dense")
            if self.config.length_correction:
                scale, counts = self._dense_scale()
                dense = calibrate.correct(dense, counts, scale.moments(vector))
            rankings.append(Ranking(dense))
        if self.mode in ("bm25", "hybrid"):
            lexical = self._lexical.get(self.store, _folder(self.store))
            hits = lexical.search(question, depth, allowed)
            # Every chunk with a matching term is listed unless the list was cut at ``depth``: then an
            # unlisted document scores 0, else at most the lowest listed score.
            rankings.append(Ranking(aggregate(hits, "bm25"), floor=0.0 if len(hits) < depth else None))
            named = self._field_index().search(question, k, allowed)
            if named:  # the question names a document's subject (a patient, a drug monograph)
                # It lists every document it matches, unless it stopped at k.
                rankings.append(Ranking(named, floor=0.0 if len(named) < k else None))
        if len(rankings) == 1:
            return list(rankings[0].candidates)
        if self.config.fusion == "rrf":
            return rrf([r.candidates for r in rankings], k=self.config.rrf_k)
        population = len(allowed) if allowed is not None else len(self._summary_map())
        return zfuse(rankings, population)

    def _allowed(self, filters: Filters | None) -> set[str] | None:
        if filters is None or not filters.active:
            return None
        summaries = self._summary_map()
        allowed = {doc_id for doc_id, s in summaries.items() if filters.matches(doc_id, s.metadata)}
        log.info("filters (%s) allow %d of %d documents", filters.describe(), len(allowed), len(summaries))
        return allowed

    def _per_generation(self, name: str, build: Callable[[], T]) -> T:
        """``build()``, kept until the store's generation moves on (a commit changed the collection)."""
        generation = self.store.info.generation
        cached = self._derived.get(name)
        if cached is None or cached[0] != generation:
            cached = self._derived[name] = (generation, build())
        return cached[1]

    def _summary_map(self) -> dict:
        """Document summaries (no text) by id."""
        return self._per_generation("summaries", lambda: {s.doc_id: s for s in self.store.list_documents()})

    def _field_index(self) -> FieldIndex:
        return self._per_generation("fields", lambda: FieldIndex(self._summary_map().values()))

    def _dense_scale(self) -> tuple[calibrate.Scale, dict[str, int]]:
        """The sample for similarity moments, and each document's chunk count."""
        def build():
            return calibrate.Scale(self.store.sample_vectors(calibrate.SAMPLE)), self.store.chunk_counts()

        return self._per_generation("scale", build)

    def _selected(self, question: str, named: list[str], candidates: list[Candidate]) -> list[ScoredDocument]:
        """Named documents in the caller's order, with their retrieval hits (to guide any reduction)."""
        if not named:
            return []
        found = {c.doc_id: c for c in candidates if c.doc_id in named}
        missing = set(named) - set(found)
        if missing:
            found.update({c.doc_id: c for c in self.rank(question, len(missing), missing)})
        out = []
        for doc_id in named:
            cand = found.get(doc_id) or Candidate(doc_id, 0.0)
            out.append(ScoredDocument(self.store.get_document(doc_id), cand.score, tuple(cand.hits),
                                      selected=True, ranks=dict(cand.ranks)))
        return out

    def _fetch(self, cand: Candidate) -> ScoredDocument | None:
        try:
            document = self.store.get_document(cand.doc_id)
        except DocumentNotFound:  # deleted by an ingest that committed after the search
            log.info("document %s vanished during the query; skipped", cand.doc_id)
            return None
        return ScoredDocument(document, cand.score, tuple(cand.hits), False, dict(cand.ranks))

    def _rerank(self, question: str, candidates: list[Candidate]) -> list[Candidate]:
        head, tail = candidates[: self.config.rerank_depth], candidates[self.config.rerank_depth:]
        wanted = [h.chunk_id for c in head for h in c.hits[:PASSAGE_HITS]]
        texts = {c.chunk_id: c.text for c in self.store.get_chunks(wanted)}
        summaries = self._summary_map()
        passages = []
        for c in head:
            title = summaries[c.doc_id].title if c.doc_id in summaries else c.doc_id
            passages.append(passage(title, [texts[h.chunk_id] for h in c.hits[:PASSAGE_HITS]
                                            if h.chunk_id in texts]))
        scores = list(self.reranker(question, passages))
        if len(scores) != len(head):
            raise ValueError(f"reranker returned {len(scores)} scores for {len(head)} passages")
        for cand, score in zip(head, scores, strict=True):
            cand.score = float(score)
        head.sort(key=lambda c: -c.score)
        for rank, cand in enumerate(head, start=1):
            cand.ranks["rerank"] = rank
        return head + tail


def _folder(store) -> Path | None:
    """The collection's folder, where derived indexes may be persisted beside the store."""
    folder = getattr(store, "folder", None) or getattr(store, "path", None)
    return Path(folder) if folder is not None and Path(folder).is_dir() else None


def _check_embedder(store, embedder) -> None:
    info = store.info
    if info.embed_model != embedder.name or int(info.dim) != int(embedder.dim):
        raise EmbeddingMismatch(
            f"collection {info.name!r} was embedded with {info.embed_model} (dim {info.dim}), but the "
            f"question would be embedded with {embedder.name} (dim {embedder.dim}); use "
            f"--embed-model {info.embed_model}")
