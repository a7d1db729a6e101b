"""BM25 over a collection's chunks, built once per store generation and cached.

The index is derived from the store, so it is keyed by ``info.generation``: a reader whose collection
moved on (an ingest committed) rebuilds it on the next query. It is kept in memory per collection
folder and persisted beside the store as ``bm25.<generation>.npz`` (written atomically; older files are
deleted), so a new process does not re-tokenize a million chunks. An index built while an ingest was
committing (the generation changed during the build) is used for that query but not saved.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.bm25 import BM25Index
from retrieval.types import ChunkHit

log = logging.getLogger(__name__)

_FILE = re.compile(r"^bm25\.(\d+)\.npz$")


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over chunks, with the chunk -> document map the rankers need."""

    bm25: BM25Index
    chunk_ids: np.ndarray  # (n,) int64, row order of the BM25 matrix
    doc_index: np.ndarray  # (n,) int32 into doc_ids
    starts: np.ndarray  # (n,) int64 character offsets of each chunk in its document
    ends: np.ndarray
    doc_ids: np.ndarray  # (n_docs,) str
    generation: int

    @classmethod
    def build(cls, store, generation: int) -> LexicalIndex:
        texts, chunk_ids, doc_rows, starts, ends = [], [], [], [], []
        doc_row: dict[str, int] = {}
        for chunk in store.iter_chunks():
            texts.append(chunk.text)
            chunk_ids.append(chunk.chunk_id)
            doc_rows.append(doc_row.setdefault(chunk.doc_id, len(doc_row)))
            starts.append(chunk.start)
            ends.append(chunk.end)
        return cls(BM25Index.build(texts), np.asarray(chunk_ids, dtype=np.int64),
                   np.asarray(doc_rows, dtype=np.int32), np.asarray(starts, dtype=np.int64),
                   np.asarray(ends, dtype=np.int64), np.asarray(list(doc_row), dtype=str), generation)

    def allowed_mask(self, doc_ids: set[str] | None) -> np.ndarray | None:
        """Boolean mask over chunks whose document is in ``doc_ids`` (None: every chunk)."""
        if doc_ids is None:
            return None
        docs = np.fromiter((d in doc_ids for d in self.doc_ids), dtype=bool, count=len(self.doc_ids))
        return docs[self.doc_index] if len(self.doc_index) else np.zeros(0, dtype=bool)

    def search(self, question: str, k: int, doc_ids: set[str] | None = None) -> list[tuple[str, ChunkHit]]:
        """The ``k`` best chunks as (doc_id, hit), restricted to ``doc_ids`` when given."""
        out = []
        for row, score in self.bm25.top(question, k, self.allowed_mask(doc_ids)):
            chunk_id, start, end = int(self.chunk_ids[row]), int(self.starts[row]), int(self.ends[row])
            hit = ChunkHit(chunk_id, start, end, score, "bm25")
            out.append((str(self.doc_ids[self.doc_index[row]]), hit))
        return out

    def save(self, folder: Path) -> None:
        path = folder / f"bm25.{self.generation}.npz"
        self.bm25.save(path, extra={"chunk_ids": self.chunk_ids, "doc_index": self.doc_index,
                                    "starts": self.starts, "ends": self.ends, "doc_ids": self.doc_ids})
        for old in folder.iterdir():
            m = _FILE.match(old.name)
            if m and int(m.group(1)) != self.generation:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, generation: int) -> LexicalIndex | None:
        loaded = BM25Index.load(folder / f"bm25.{generation}.npz")
        if loaded is None:
            return None
        bm25, extra = loaded
        try:
            return cls(bm25, extra["chunk_ids"], extra["doc_index"], extra["starts"], extra["ends"],
                       extra["doc_ids"], generation)
        except KeyError:
            return None


class LexicalCache:
    """One LexicalIndex per collection folder, rebuilt when the store's generation moves on."""

    def __init__(self, persist: bool = True):
        self.persist = persist
        self._lock = threading.Lock()
        self._indexes: dict[str, LexicalIndex] = {}

    def get(self, store, folder: Path | None) -> LexicalIndex:
        generation = store.info.generation
        key = str(folder) if folder is not None else f"store-{id(store)}"
        with self._lock:
            cached = self._indexes.get(key)
            if cached is not None and cached.generation == generation:
                return cached
            index = LexicalIndex.load(folder, generation) if folder is not None and self.persist else None
            if index is None:
                index = self._build(store, folder, generation)
            self._indexes[key] = index
            return index

    def _build(self, store, folder: Path | None, generation: int) -> LexicalIndex:
        began = time.perf_counter()
        index = LexicalIndex.build(store, generation)
        settled = store.info.generation == generation
        log.info("built BM25 over %d chunks (generation %d) in %.2fs", len(index.chunk_ids), generation,
                 time.perf_counter() - began)
        if folder is not None and self.persist and settled:
            try:
                index.save(folder)
            except OSError as err:  # a read-only data directory: keep the index in memory only
                log.warning("could not save the BM25 index in %s: %s", folder, err)
        return index

