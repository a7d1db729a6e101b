"""A synthetic collection for the speed benchmark: clustered vectors, generated text, two stores.

Vectors mimic sentence embeddings of chunked documents: each document has a direction (a topic
direction plus its own), and its chunks are noisy copies of it, so a query drawn like a chunk of some
document has that document's chunks as nearest neighbours, then same-topic documents, then the rest
(cosines ~0.6 / ~0.35 / ~0). Everything is a pure function of ``seed``: blocks can be regenerated to
fill several indexes without holding 1M vectors twice.

``ArrayStore`` serves the read API the retriever uses from memory (chunk text left empty: the dense
path never reads it); ``write_real_store`` puts the same corpus in a real SQLite ``CollectionStore``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from ingest.store import (
    CollectionInfo,
    CollectionSettings,
    CollectionStore,
    DocumentSummary,
    DocumentWrite,
    text_hash,
)
from ingest.store import vectors as store_vectors
from ingest.types import Chunk, Document

CHUNKS_PER_DOC = 20
PARAGRAPH_CHARS = 700  # ~160 tokens: one chunk per paragraph, a document of ~3.2K tokens
TOPIC_WEIGHT, OWN_WEIGHT, CHUNK_NOISE = 0.6, 0.5, 0.8
_BLOCK_DOCS = 2048
_VOCABULARY = (
    "patient reports chest pain shortness breath fatigue dizziness nausea fever cough headache rash "
    "started stopped increased decreased continued warfarin metformin lisinopril atorvastatin insulin "
    "amlodipine albuterol prednisone amoxicillin mg daily twice weekly INR HbA1c creatinine eGFR potassium "
    "sodium hemoglobin platelets glucose blood pressure heart rate ECG echocardiogram x-ray MRI CT "
    "normal abnormal stable improved worse follow-up visit clinic emergency admission discharge plan "
    "review history allergy penicillin surgery fracture diabetes hypertension asthma atrial fibrillation"
)
_WORDS = _VOCABULARY.split()


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class SyntheticCorpus:
    """``n_chunks`` clustered unit vectors in documents of ``CHUNKS_PER_DOC`` chunks."""

    def __init__(self, n_chunks: int, dim: int = 384, seed: int = 0):
        self.n_chunks, self.dim, self.seed = n_chunks, dim, seed
        self.n_docs = math.ceil(n_chunks / CHUNKS_PER_DOC)
        rng = np.random.default_rng(seed)
        n_topics = max(16, self.n_docs // 25)
        topics = _unit(rng.standard_normal((n_topics, dim), dtype=np.float32))
        which = rng.integers(n_topics, size=self.n_docs)
        own = _unit(rng.standard_normal((self.n_docs, dim), dtype=np.float32))
        self.doc_vectors = _unit(TOPIC_WEIGHT * topics[which] + OWN_WEIGHT * own)  # (n_docs, dim)

    def _chunks_of(self, docs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = _unit(rng.standard_normal((len(docs), self.dim), dtype=np.float32))
        return _unit(self.doc_vectors[docs] + CHUNK_NOISE * noise)

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(chunk ids, vectors) in blocks; chunk id c belongs to document c // CHUNKS_PER_DOC."""
        step = _BLOCK_DOCS * CHUNKS_PER_DOC
        for b, lo in enumerate(range(0, self.n_chunks, step)):
            ids = np.arange(lo, min(lo + step, self.n_chunks), dtype=np.int64)
            rng = np.random.default_rng([self.seed, 1, b])
            yield ids, self._chunks_of(ids // CHUNKS_PER_DOC, rng)

    def sample(self, n: int) -> np.ndarray:
        """``n`` vectors distributed like the chunks (to train an IVF quantizer)."""
        rng = np.random.default_rng([self.seed, 2])
        return self._chunks_of(rng.integers(self.n_docs, size=n), rng)

    def queries(self, n: int) -> np.ndarray:
        """``n`` query vectors: fresh chunks of random documents."""
        rng = np.random.default_rng([self.seed, 3])
        return self._chunks_of(rng.integers(self.n_docs, size=n), rng)

    @staticmethod
    def doc_id(doc: int) -> str:
        return f"D{doc:07d}"

    @staticmethod
    def span(chunk_id: int) -> tuple[int, int]:
        start = (chunk_id % CHUNKS_PER_DOC) * (PARAGRAPH_CHARS + 2)
        return start, start + PARAGRAPH_CHARS

    def doc_text(self, doc: int) -> str:
        """The document's text: paragraphs of exactly PARAGRAPH_CHARS characters (one per chunk)."""
        rng = np.random.default_rng([self.seed, 4, doc])
        words = rng.choice(_WORDS, size=(CHUNKS_PER_DOC, PARAGRAPH_CHARS // 4))
        paragraphs = [(" ".join(row))[: PARAGRAPH_CHARS - 1] + "." for row in words]
        return "\n\n".join(paragraphs)

    def document(self, doc: int, collection: str) -> Document:
        text = self.doc_text(doc)
        meta = {"kind": "synthetic", "source": f"synthetic/{self.doc_id(doc)}.md"}
        return Document(self.doc_id(doc), collection, f"Synthetic record {doc}", text, meta,
                        text_hash(text), math.ceil(len(text) / 4))


class ArrayStore:
    """The store's read API over a SyntheticCorpus and a FAISS index, in memory."""

    def __init__(self, corpus: SyntheticCorpus, index: faiss.Index, embed_model: str,
                 count_tokens: Callable[[str], int], nprobe: int | None = None):
        self.corpus, self.index, self.nprobe = corpus, index, nprobe
        self.count_tokens = count_tokens
        self._docs: dict[int, Document] = {}  # texts and token counts as ingest would have stored them
        self.info = CollectionInfo(name="synthetic", embed_model=embed_model, dim=corpus.dim,
                                   tokenizer="approx", n_documents=corpus.n_docs, n_chunks=corpus.n_chunks,
                                   index_kind="ivf" if nprobe else "flat", generation=1)

    def search(self, vecs: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        vecs = np.ascontiguousarray(np.atleast_2d(vecs), dtype=np.float32)
        if self.nprobe is None:
            return store_vectors.search(self.index, vecs, k)
        scores, ids = self.index.search(vecs, k, params=faiss.SearchParametersIVF(nprobe=self.nprobe))
        return [[(int(i), float(s)) for i, s in zip(r_ids, r_scores, strict=True) if i >= 0]
                for r_ids, r_scores in zip(ids, scores, strict=True)]

    def get_chunks(self, chunk_ids) -> list[Chunk]:
        out = []
        for cid in chunk_ids:
            if 0 <= cid < self.corpus.n_chunks:
                start, end = self.corpus.span(int(cid))
                out.append(Chunk(int(cid), self.corpus.doc_id(int(cid) // CHUNKS_PER_DOC), start, end))
        return out

    def get_document(self, doc_id: str) -> Document:
        d = int(doc_id[1:])
        doc = self._docs.get(d)
        if doc is None:  # generated and counted on first fetch (a benchmark's warm-up pass)
            doc = self.corpus.document(d, self.info.name)
            doc = self._docs[d] = replace(doc, n_tokens=self.count_tokens(doc.text))
        return doc

    def list_documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(self.corpus.doc_id(d), f"Synthetic record {d}", {"kind": "synthetic"}, 0, "")
                for d in range(self.corpus.n_docs)]

    def chunk_counts(self) -> dict[str, int]:
        n = self.corpus.n_chunks
        return {self.corpus.doc_id(d): min(CHUNKS_PER_DOC, n - d * CHUNKS_PER_DOC)
                for d in range(self.corpus.n_docs)}

    def sample_vectors(self, n: int) -> np.ndarray:
        return self.corpus.sample(min(n, self.corpus.n_chunks))


def write_real_store(data_dir: Path, corpus: SyntheticCorpus, embedder, count_tokens: Callable[[str], int],
                     name: str = "bench") -> CollectionStore:
    """The corpus in a real SQLite + FAISS collection (flat index); returned open for reading."""
    settings = CollectionSettings(embed_model=embedder.name, dim=corpus.dim, tokenizer="bench",
                                  index_kind="flat")
    store = CollectionStore.create(data_dir, name, settings)
    try:
        for ids, block in corpus.blocks():
            docs = np.unique(ids // CHUNKS_PER_DOC)
            updates = []
            for d in docs:
                rows = np.flatnonzero(ids // CHUNKS_PER_DOC == d)
                spans = [corpus.span(int(ids[r])) for r in rows]
                doc = corpus.document(int(d), name)
                doc = replace(doc, n_tokens=count_tokens(doc.text))
                updates.append(DocumentWrite(doc, text_hash(doc.text), [], spans, block[rows]))
            store.write(updates)
    finally:
        store.close()
    return CollectionStore.open(data_dir, name)
