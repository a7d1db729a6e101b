"""One collection on disk: ``<data_dir>/<name>/`` with ``store.sqlite`` (WAL) and ``index.<gen>.faiss``.

Readers open it freely, in any number of processes. One writer at a time holds ``write.lock`` (an
advisory ``flock``, released by the kernel even on SIGKILL). A write is one SQLite transaction that also
bumps ``generation``; the FAISS index is then updated in memory and saved atomically under the new
generation. A crash between the two leaves an index behind SQLite, which the next open notices (its
file name says which generation it holds) and brings up to date from the vectors SQLite keeps.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..chunking import ChunkConfig
from ..errors import CollectionNotFound, DocumentNotFound, StoreError
from ..types import Chunk, Document
from . import schema, vectors
from .records import CollectionInfo, CollectionSettings, DocumentSummary, DocumentWrite
from .sync import sync, vector_page

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LOCK_NAME = "write.lock"
# Save the index after every write while it is small (cheap, and a crash loses nothing); past this
# size save at most every CHECKPOINT_S seconds and at close: the next open catches up from SQLite.
SMALL_INDEX_BYTES = 64 << 20
CHECKPOINT_S = 30.0


def validate_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise StoreError(
            f"invalid collection name {name!r}: use letters, digits, '.', '_' or '-' (not leading)"
        )
    return name


def _lock(folder: Path, name: str) -> int:
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"collection {name!r} is being written by another process; try again later") \
            from None
    return fd


def _remove_dead_leftovers(data_dir: Path, name: str) -> None:
    """Half-built collection folders whose creating process is gone (killed mid-create)."""
    for path in data_dir.glob(f".creating-{name}-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CollectionStore:
    """Documents, chunks and vectors of one collection. See docs/architecture.md for the read API."""

    def __init__(self, folder: Path, name: str, writable: bool):
        self.folder = folder
        self.name = name
        self.writable = writable
        self._lock_fd = _lock(folder, name) if writable else None
        self.conn = schema.connect(folder / schema.DB_NAME)
        meta = schema.read_meta(self.conn)
        if "dim" not in meta:
            self.close()
            raise CollectionNotFound(f"collection {name!r} at {folder} has no settings; remove the folder")
        self._meta = meta
        self._index = None
        self._index_gen = -1
        self._saved_gen = -1
        self._last_save = time.monotonic()
        self._doc_cache: tuple[str, str] | None = None
        self._counts: tuple[int, int, int] | None = None  # (generation, n_documents, n_chunks)
        if writable:  # we hold the lock, so no other writer is alive: clear what dead ones left
            self.conn.execute("UPDATE runs SET status='interrupted' WHERE status='running'")
            vectors.remove_stale_temps(folder)
            self._load_index(save=True)

    # ---- opening, creating, listing ----

    @classmethod
    def open(cls, data_dir: Path | str, name: str, writable: bool = False) -> CollectionStore:
        """Open an existing collection; ``writable`` takes the write lock (StoreError if held)."""
        folder = Path(data_dir) / validate_name(name)
        if not (folder / schema.DB_NAME).is_file():
            raise CollectionNotFound(f"no collection {name!r} in {data_dir}")
        return cls(folder, name, writable)

    @classmethod
    def create(cls, data_dir: Path | str, name: str, settings: CollectionSettings) -> CollectionStore:
        """Create a new collection atomically (built aside, then renamed into place); open for writing."""
        data_dir = Path(data_dir)
        folder = data_dir / validate_name(name)
        if settings.index_kind not in vectors.INDEX_KINDS:
            raise StoreError(f"unknown index kind {settings.index_kind!r}; use one of {vectors.INDEX_KINDS}")
        data_dir.mkdir(parents=True, exist_ok=True)
        _remove_dead_leftovers(data_dir, name)
        tmp = data_dir / f".creating-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        conn = schema.connect(tmp / schema.DB_NAME)
        try:
            schema.initialize(conn, _settings_meta(name, settings))
        finally:
            conn.close()
        dim = settings.dim
        vectors.save(tmp, vectors.build(settings.index_kind, dim, np.zeros((0, dim), np.float32),
                                        np.zeros(0, np.int64)), 0)
        try:
            os.rename(tmp, folder)  # replaces an empty folder; fails if one with content exists
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / schema.DB_NAME).is_file():
                raise StoreError(f"cannot create collection {name!r}: {folder} exists and is not one") \
                    from err
        return cls.open(data_dir, name, writable=True)

    @staticmethod
    def list_collections(data_dir: Path | str) -> list[str]:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            return []
        return sorted(
            p.name for p in data_dir.iterdir()
            if _NAME.match(p.name) and (p / schema.DB_NAME).is_file()
        )

    @staticmethod
    def delete_collection(data_dir: Path | str, name: str) -> None:
        """Remove a whole collection: renamed aside first (atomic), then deleted."""
        folder = Path(data_dir) / validate_name(name)
        if not (folder / schema.DB_NAME).is_file():
            raise CollectionNotFound(f"no collection {name!r} in {data_dir}")
        fd = _lock(folder, name)
        trash = Path(data_dir) / f".deleting-{name}-{os.getpid()}"
        try:
            os.rename(folder, trash)
        finally:
            os.close(fd)
        shutil.rmtree(trash, ignore_errors=True)

    # ---- the read API ----

    @property
    def info(self) -> CollectionInfo:
        meta = schema.read_meta(self.conn)
        gen = int(meta["generation"])
        if self._counts is None or self._counts[0] != gen:  # COUNT(*) scans: once per generation
            (n_docs,) = self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()
            (n_chunks,) = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()
            self._counts = (gen, n_docs, n_chunks)
        _, n_docs, n_chunks = self._counts
        return CollectionInfo(
            name=self.name,
            embed_model=meta["embed_model"],
            dim=int(meta["dim"]),
            tokenizer=meta["tokenizer"],
            n_documents=n_docs,
            n_chunks=n_chunks,
            index_kind=meta["index_kind"],
            generation=gen,
            tokens_approximate=meta.get("tokens_approximate") == "1",
            chunking=ChunkConfig(**{"context": "none", **json.loads(meta["chunking"])}),
        )

    def get_document(self, doc_id: str) -> Document:
        row = self.conn.execute(
            "SELECT doc_id, title, text, metadata, content_hash, n_tokens FROM documents WHERE doc_id=?",
            (doc_id,),
        ).fetchone()
        if row is None:
            raise DocumentNotFound(f"no document {doc_id!r} in collection {self.name!r}")
        return Document(doc_id=row[0], collection=self.name, title=row[1], text=row[2],
                        metadata=json.loads(row[3]), content_hash=row[4], n_tokens=row[5])

    def list_documents(self) -> list[DocumentSummary]:
        rows = self.conn.execute(
            "SELECT doc_id, title, metadata, n_tokens, content_hash FROM documents ORDER BY doc_id"
        ).fetchall()
        return [DocumentSummary(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def document_sources(self) -> dict[str, list[str]]:
        """doc_id -> the files it was read from (for pruning)."""
        rows = self.conn.execute("SELECT doc_id, sources FROM documents").fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def chunk_counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall()
        return dict(rows)

    def sample_vectors(self, n: int) -> np.ndarray:
        """Up to ``n`` stored chunk vectors spread evenly over the collection (deterministic), (m, dim):
        every step-th chunk in id order, whatever gaps re-ingests left in the ids."""
        n = max(int(n), 1)
        step = max(1, -(-int(self.info.n_chunks) // n))  # ceil: the sample spans the whole collection
        rows = self.conn.execute(
            "SELECT chunk_id, vector FROM (SELECT chunk_id, vector, "
            "ROW_NUMBER() OVER (ORDER BY chunk_id) - 1 AS row FROM chunks WHERE length(vector) = ?) "
            "WHERE row % ? = 0 LIMIT ?",
            (4 * int(self.info.dim), step, n),
        ).fetchall()
        return vector_page(rows, int(self.info.dim))[1]

    def _doc_text(self, doc_id: str) -> str:
        # Chunks of one document are contiguous in id order, so a one-entry cache fetches each text once.
        if self._doc_cache is None or self._doc_cache[0] != doc_id:
            row = self.conn.execute("SELECT text FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
            self._doc_cache = (doc_id, row[0] if row else "")
        return self._doc_cache[1]

    def iter_chunks(self, page: int = 4096) -> Iterator[Chunk]:
        """Every chunk with its text, in chunk_id order, fetched a page at a time."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT chunk_id, doc_id, start_char, end_char FROM chunks WHERE chunk_id > ? "
                "ORDER BY chunk_id LIMIT ?", (last, page),
            ).fetchall()
            if not rows:
                return
            for cid, doc_id, s, e in rows:
                yield Chunk(cid, doc_id, s, e, self._doc_text(doc_id)[s:e])
            last = rows[-1][0]

    def get_chunks(self, chunk_ids: Iterable[int]) -> list[Chunk]:
        """Chunks with text, in the order asked; ids the store no longer holds are left out."""
        ids = [int(i) for i in chunk_ids]
        found: dict[int, tuple] = {}
        for lo in range(0, len(ids), 900):
            part = ids[lo : lo + 900]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                f"SELECT chunk_id, doc_id, start_char, end_char FROM chunks WHERE chunk_id IN ({marks})",
                part,
            ):
                found[row[0]] = row
        out = []
        for cid in ids:
            if cid in found:
                _, doc_id, s, e = found[cid]
                out.append(Chunk(cid, doc_id, s, e, self._doc_text(doc_id)[s:e]))
        return out

    def search(self, vecs: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Top-k (chunk_id, cosine) per query vector; vectors must have the collection's dimension."""
        vecs = np.atleast_2d(np.asarray(vecs, dtype=np.float32))
        dim = int(self._meta["dim"])
        if vecs.shape[1] != dim:
            from ..errors import EmbeddingMismatch

            raise EmbeddingMismatch(
                f"query vectors have dimension {vecs.shape[1]}, collection {self.name!r} has {dim} "
                f"({self._meta['embed_model']})"
            )
        if not self.writable and schema.generation(self.conn) != self._index_gen:
            self._load_index(save=False)  # another process committed since we last looked
        return vectors.search(self._index, vecs, k)

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            if self.writable and self._index is not None:
                self.checkpoint(force=True)
        finally:
            self.conn.close()
            self.conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the index cache ----

    def _load_index(self, save: bool) -> None:
        """Load the newest index file; if it lags SQLite, catch up (and, as the writer, save it)."""
        kind, dim = self._meta["index_kind"], int(self._meta["dim"])
        index, file_gen = vectors.load_latest(self.folder)
        if index is not None and file_gen == schema.generation(self.conn):
            self._index, self._index_gen = index, file_gen
            self._saved_gen = file_gen
            return
        result = sync(self.conn, index, kind, dim)
        log.info("collection %s: index at generation %d caught up to %d (+%d -%d%s)", self.name, file_gen,
                 result.generation, result.added, result.removed, ", rebuilt" if result.rebuilt else "")
        self._index, self._index_gen = result.index, result.generation
        self._saved_gen = file_gen
        if save:
            self._save_index()

    def _save_index(self) -> None:
        vectors.save(self.folder, self._index, self._index_gen)
        self._saved_gen = self._index_gen
        self._last_save = time.monotonic()

    def _rebuild_if_due(self) -> bool:
        """IVF only: train the real inverted lists once there are enough vectors (see vectors.py)."""
        if not vectors.needs_rebuild(self._meta["index_kind"], self._index):
            return False
        self._index = sync(self.conn, None, self._meta["index_kind"], int(self._meta["dim"])).index
        return True

    def checkpoint(self, force: bool = False) -> None:
        """Save the index if it is small, if CHECKPOINT_S passed since the last save, or if forced
        (forced saves, at the end of a run, also retrain an IVF index that has outgrown its lists)."""
        rebuilt = force and self._rebuild_if_due()
        if self._saved_gen == self._index_gen and not rebuilt:
            return
        small = self._index.ntotal * int(self._meta["dim"]) * 4 <= SMALL_INDEX_BYTES
        if force or small or time.monotonic() - self._last_save >= CHECKPOINT_S:
            self._save_index()

    # ---- the write API (writers only) ----

    def _require_writer(self) -> None:
        if not self.writable:
            raise StoreError(f"collection {self.name!r} was opened read-only")

    def known_hashes(self, doc_ids: list[str]) -> dict[str, tuple[str, str]]:
        """doc_id -> (content_hash, text_hash) for those of ``doc_ids`` the collection holds."""
        out = {}
        for lo in range(0, len(doc_ids), 900):
            part = doc_ids[lo : lo + 900]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                f"SELECT doc_id, content_hash, text_hash FROM documents WHERE doc_id IN ({marks})", part
            ):
                out[row[0]] = (row[1], row[2])
        return out

    def write(self, updates: list[DocumentWrite], remove: Iterable[str] = (), run_id: int | None = None,
              ) -> int:
        """Insert/replace ``updates`` and delete ``remove`` in one transaction; returns the generation."""
        self._require_writer()
        dropped: list[int] = []
        new_ids: list[int] = []
        new_vecs: list[np.ndarray] = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for doc_id in remove:
                dropped += self._delete_chunks(doc_id)
                self.conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            for update in updates:
                if update.spans is not None:
                    dropped += self._delete_chunks(update.document.doc_id)
                    new_ids += self._insert_chunks(update)
                    new_vecs.append(update.vectors)
                self._upsert_document(update, run_id)
            gen = schema.bump_generation(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._doc_cache = None
        self._apply(dropped, new_ids, new_vecs, gen)
        return gen

    def _delete_chunks(self, doc_id: str) -> list[int]:
        rows = self.conn.execute("DELETE FROM chunks WHERE doc_id=? RETURNING chunk_id", (doc_id,))
        return [r[0] for r in rows.fetchall()]

    def _insert_chunks(self, update: DocumentWrite) -> list[int]:
        dim = int(self._meta["dim"])
        vecs = np.ascontiguousarray(update.vectors, dtype=np.float32)
        if vecs.shape != (len(update.spans), dim):
            raise StoreError(f"document {update.document.doc_id!r}: {len(update.spans)} chunks but "
                             f"vectors of shape {vecs.shape}; expected dimension {dim}")
        ids = []
        for (s, e), vec in zip(update.spans, vecs, strict=True):
            (cid,) = self.conn.execute(
                "INSERT INTO chunks(doc_id, start_char, end_char, vector) VALUES (?, ?, ?, ?) "
                "RETURNING chunk_id", (update.document.doc_id, s, e, vec.tobytes()),
            ).fetchone()
            ids.append(cid)
        return ids

    def _upsert_document(self, update: DocumentWrite, run_id: int | None) -> None:
        d = update.document
        self.conn.execute(
            "INSERT OR REPLACE INTO documents(doc_id, title, text, metadata, content_hash, text_hash, "
            "n_tokens, sources, run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (d.doc_id, d.title, d.text, json.dumps(d.metadata, sort_keys=True, default=str),
             d.content_hash, update.text_hash, d.n_tokens, json.dumps(update.sources), run_id, time.time()),
        )

    def _apply(self, dropped: list[int], new_ids: list[int], new_vecs: list[np.ndarray], gen: int) -> None:
        """Mirror a committed write into the in-memory index, then checkpoint it."""
        index = self._index
        if dropped and not vectors.supports_remove(index):
            self._index = sync(self.conn, None, self._meta["index_kind"], int(self._meta["dim"])).index
        else:
            if dropped:
                index.remove_ids(np.asarray(dropped, dtype=np.int64))
            if new_ids:
                index.add_with_ids(np.concatenate(new_vecs), np.asarray(new_ids, dtype=np.int64))
        self._index_gen = gen
        self.checkpoint()

    def set_tokenizer(self, name: str, approximate: bool, count) -> int:
        """Switch the collection's tokenizer, recounting every document with ``count(text) -> int``."""
        self._require_writer()
        rows = self.conn.execute("SELECT doc_id FROM documents").fetchall()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for (doc_id,) in rows:
                (text,) = self.conn.execute("SELECT text FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
                self.conn.execute("UPDATE documents SET n_tokens=? WHERE doc_id=?", (count(text), doc_id))
            self._set_meta({"tokenizer": name, "tokens_approximate": "1" if approximate else "0"})
            gen = schema.bump_generation(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._index_gen = gen  # vectors did not change; the index file is saved under the new generation
        self.checkpoint(force=True)
        return len(rows)

    def set_index_kind(self, kind: str) -> None:
        """Rebuild the FAISS index as ``kind`` (flat, hnsw, ivf) from the stored vectors."""
        self._require_writer()
        if kind not in vectors.INDEX_KINDS:
            raise StoreError(f"unknown index kind {kind!r}; use one of {vectors.INDEX_KINDS}")
        self.conn.execute("BEGIN IMMEDIATE")
        self._set_meta({"index_kind": kind})
        gen = schema.bump_generation(self.conn)
        self.conn.execute("COMMIT")
        self._meta["index_kind"] = kind
        self._index = sync(self.conn, None, kind, int(self._meta["dim"])).index
        self._index_gen = gen
        self._save_index()

    def _set_meta(self, values: dict[str, str]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())
        self._meta.update(values)

    # ---- runs ----

    def start_run(self, paths: list[str]) -> int:
        self._require_writer()
        cur = self.conn.execute(
            "INSERT INTO runs(started_at, status, pid, paths) VALUES (?, 'running', ?, ?)",
            (time.time(), os.getpid(), json.dumps(paths)),
        )
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at=?, status=?, summary=? WHERE run_id=?",
            (time.time(), status, json.dumps(summary), run_id),
        )

    def runs(self, limit: int = 10) -> list[dict]:
        rows = self.conn.execute(
            "SELECT run_id, started_at, finished_at, status, paths, summary FROM runs "
            "ORDER BY run_id DESC LIMIT ?", (limit,),
        ).fetchall()
        keys = ("run_id", "started_at", "finished_at", "status", "paths", "summary")
        out = []
        for row in rows:
            run = dict(zip(keys, row, strict=True))
            run["paths"] = json.loads(run["paths"])
            run["summary"] = json.loads(run["summary"]) if run["summary"] else None
            out.append(run)
        return out


def _settings_meta(name: str, s: CollectionSettings) -> dict[str, str]:
    c = s.chunking
    return {
        "name": name,
        "embed_model": s.embed_model,
        "dim": str(s.dim),
        "tokenizer": s.tokenizer,
        "tokens_approximate": "1" if s.tokens_approximate else "0",
        "index_kind": s.index_kind,
        "chunking": json.dumps({"max_tokens": c.max_tokens, "overlap_tokens": c.overlap_tokens,
                                "overlap_sentences": c.overlap_sentences, "context": c.context}),
        "created_at": str(time.time()),
    }
