"""Bring a FAISS index up to date with SQLite, the source of truth.

A crash between a SQLite commit and the next index save leaves an index one or more generations
behind. Rather than rebuild, compare id sets: drop ids SQLite no longer has, add the vectors it has
that the index lacks. Everything is read inside one read transaction, so the result matches exactly
one committed generation even while a writer is busy.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import vectors

log = logging.getLogger(__name__)

_PAGE = 8192  # vectors fetched and added per step: bounds memory during a rebuild
_SQL_VARS = 900  # below SQLite's default limit on bound parameters per statement


@dataclass(frozen=True)
class SyncResult:
    index: object
    generation: int
    removed: int  # ids the index held that SQLite does not (orphan vectors; duplicates count here too)
    added: int  # chunks SQLite holds that the index lacked
    rebuilt: bool


def db_chunk_ids(conn: sqlite3.Connection, dim: int) -> np.ndarray:
    """Ids of chunks with a well-formed vector (``verify`` reports and removes the others)."""
    rows = conn.execute(
        "SELECT chunk_id FROM chunks WHERE length(vector) = ? ORDER BY chunk_id", (4 * dim,)
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def iter_vectors(conn: sqlite3.Connection, dim: int, ids: np.ndarray | None = None) -> Iterator:
    """(ids, vectors) pages for the given chunk ids (all chunks when None), in id order."""
    if ids is None:
        last = -1
        while True:
            rows = conn.execute(
                "SELECT chunk_id, vector FROM chunks WHERE chunk_id > ? AND length(vector) = ? "
                "ORDER BY chunk_id LIMIT ?", (last, 4 * dim, _PAGE),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield vector_page(rows, dim)
        return
    for lo in range(0, len(ids), _SQL_VARS):
        part = [int(i) for i in ids[lo : lo + _SQL_VARS]]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({marks}) AND length(vector) = ?",
            [*part, 4 * dim],
        )
        yield vector_page(rows.fetchall(), dim)


def vector_page(rows, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids, vectors) from rows of (chunk_id, vector blob)."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return ids, vecs


def rebuild(conn: sqlite3.Connection, kind: str, dim: int):
    """A fresh index of every stored vector (IVF trains on all of them, so it reads them at once)."""
    if kind == "ivf":
        pages = list(iter_vectors(conn, dim))
        ids = np.concatenate([p[0] for p in pages]) if pages else np.zeros(0, np.int64)
        vecs = np.concatenate([p[1] for p in pages]) if pages else np.zeros((0, dim), np.float32)
        return vectors.build(kind, dim, vecs, ids)
    index = vectors.build(kind, dim, np.zeros((0, dim), np.float32), np.zeros(0, np.int64))
    for ids, vecs in iter_vectors(conn, dim):
        index.add_with_ids(vecs, ids)
    return index


def sync(conn: sqlite3.Connection, index, kind: str, dim: int) -> SyncResult:
    """Return an index holding exactly SQLite's chunk ids at its current generation."""
    conn.execute("BEGIN")  # one read snapshot for the ids, the vectors and the generation
    try:
        (gen,) = conn.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key='generation'").fetchone()
        want = db_chunk_ids(conn, dim)
        if index is None or index.d != dim:
            index = rebuild(conn, kind, dim)
            return SyncResult(index, gen, 0, len(want), True)
        have = vectors.index_ids(index)
        extra = np.setdiff1d(have, want)
        missing = np.setdiff1d(want, have)
        duplicated = len(np.unique(have)) != len(have)
        if duplicated or (len(extra) and not vectors.supports_remove(index)):
            removed = len(extra) + len(have) - len(np.unique(have))
            return SyncResult(rebuild(conn, kind, dim), gen, removed, len(missing), True)
        if len(extra):
            index.remove_ids(extra)
        for ids, vecs in iter_vectors(conn, dim, missing):
            index.add_with_ids(vecs, ids)
        return SyncResult(index, gen, len(extra), len(missing), False)
    finally:
        conn.execute("COMMIT")
