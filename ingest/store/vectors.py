"""The FAISS side of a collection: an index whose ids are chunk ids, saved atomically with its generation.

FAISS holds vectors; SQLite holds everything else. Ids are chunk ids (an id map, never positions).
The file name carries the store generation it matches (``index.<generation>.faiss``), written to a
temporary file, fsynced, then renamed: a reader sees a whole old index or a whole new one, and knows
which SQLite generation it reflects. A stale index is brought up to date from SQLite (see ``sync``).

Kinds: ``flat`` (exact inner product, the default), ``hnsw`` (graph; no removals, so a delete rebuilds
it) and ``ivf`` (inverted lists; trained from all stored vectors when built, retrained once the
collection has grown 4x; until a collection has enough vectors to train it, it stays exact).
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

INDEX_KINDS = ("flat", "hnsw", "ivf")
_FILE = re.compile(r"^index\.(\d+)\.faiss$")
HNSW_M = 32  # graph degree: FAISS's usual choice for ~1M vectors of a few hundred dims
IVF_MIN_POINTS_PER_LIST = 39  # FAISS warns below 39 training points per centroid
IVF_MIN_VECTORS = 4096  # below this, exact search is fast and IVF's recall loss buys nothing


def _flat(dim: int):
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _hnsw(dim: int):
    return faiss.IndexIDMap2(faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT))


def _ivf(vectors: np.ndarray, ids: np.ndarray):
    n, dim = vectors.shape
    nlist = max(1, min(int(4 * math.sqrt(n)), n // IVF_MIN_POINTS_PER_LIST))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add_with_ids(vectors, ids)
    return index


def build(kind: str, dim: int, vectors: np.ndarray, ids: np.ndarray):
    """A fresh index of ``kind`` holding exactly ``vectors`` under ``ids``."""
    if kind == "ivf" and len(ids) >= IVF_MIN_VECTORS:
        return _ivf(vectors, ids)
    index = _hnsw(dim) if kind == "hnsw" else _flat(dim)
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def index_ids(index) -> np.ndarray:
    """Every id held by ``index`` (an id map, or the inverted lists of an IVF)."""
    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    lists = ivf.invlists
    parts = []
    for list_no in range(ivf.nlist):
        size = lists.list_size(list_no)
        if size:
            parts.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def supports_remove(index) -> bool:
    return not (isinstance(index, faiss.IndexIDMap2) and isinstance(
        faiss.downcast_index(index.index), faiss.IndexHNSWFlat))


def needs_rebuild(kind: str, index) -> bool:
    """IVF only: build the real IVF once enough vectors exist, and retrain after 4x growth."""
    if kind != "ivf":
        return False
    if isinstance(index, faiss.IndexIDMap2):
        return index.ntotal >= IVF_MIN_VECTORS
    ivf = faiss.extract_index_ivf(index)
    trained_for = ivf.nlist * IVF_MIN_POINTS_PER_LIST
    return index.ntotal > 4 * max(trained_for, IVF_MIN_VECTORS)


def search(index, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Top-k (chunk_id, inner product) per query, best first; fewer when the index is small."""
    k = min(k, index.ntotal)
    if k <= 0:
        return [[] for _ in range(len(queries))]
    params = None
    if not isinstance(index, faiss.IndexIDMap2):
        nlist = faiss.extract_index_ivf(index).nlist
        # ~1/8 of the lists (at least 8): recall near 0.95 on sentence embeddings, still 8x less work.
        params = faiss.SearchParametersIVF(nprobe=min(nlist, max(8, nlist // 8)))
    elif isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat):
        faiss.downcast_index(index.index).hnsw.efSearch = max(64, 2 * k)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return [
        [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        for row_ids, row_scores in zip(ids, scores, strict=True)
    ]


def index_files(folder: Path) -> list[tuple[int, Path]]:
    """Saved index files, newest generation first."""
    found = []
    for path in folder.iterdir():
        m = _FILE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found, reverse=True)


def load_latest(folder: Path):
    """(index, generation) from the newest readable file, or (None, -1) when there is none."""
    for gen, path in index_files(folder):
        try:
            return faiss.read_index(str(path)), gen
        except RuntimeError as err:  # a truncated or corrupt file: fall back to an older one
            log.warning("unreadable index file %s: %s", path.name, err)
    return None, -1


def save(folder: Path, index, generation: int) -> Path:
    """Write ``index`` as ``index.<generation>.faiss`` atomically, then delete older files."""
    final = folder / f"index.{generation}.faiss"
    tmp = folder / f".index.tmp.{os.getpid()}"
    faiss.write_index(index, str(tmp))
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(folder)
    for gen, path in index_files(folder):
        if gen != generation:
            path.unlink(missing_ok=True)
    return final


def remove_stale_temps(folder: Path) -> list[str]:
    """Temp files left by a killed writer (callers hold the write lock, so none is in use)."""
    removed = []
    for path in folder.glob(".index.tmp.*"):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
