"""``verify``: check that a collection's SQLite store and FAISS index agree, and repair what can be.

Repairable without the source files: orphan chunks, an index behind SQLite or holding orphan or
missing vectors, leftover temporary files, runs left "running" by a killed process. Not repairable
here (the vectors or text would have to be recomputed): bad vector blobs, chunk spans outside their
document, documents without chunks, hashes that no longer match their text. Those documents are
marked (their hash is cleared) so the next ``add`` of their sources re-ingests them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from ..errors import CollectionNotFound
from . import schema, vectors
from .collection import _lock, validate_name
from .records import content_hash
from .sync import iter_vectors, sync

log = logging.getLogger(__name__)

_SAMPLE = 2000  # stored vectors compared with the index's copy (exact kinds only)


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)  # found (repaired or not)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)
    marked: set[str] = field(default_factory=set)  # documents marked for re-ingest in this run

    @property
    def clean(self) -> bool:
        return not self.problems

    def found(self, problem: str, fixed: bool) -> None:
        self.problems.append(problem)
        (self.repaired if fixed else self.unrepaired).append(problem)


def verify(data_dir: Path | str, name: str, repair: bool = True) -> VerifyReport:
    """Check one collection; with ``repair`` take the write lock and fix what can be fixed."""
    data_dir = Path(data_dir)
    folder = data_dir / validate_name(name)
    if not (folder / schema.DB_NAME).is_file():
        raise CollectionNotFound(f"no collection {name!r} in {data_dir}")
    lock = _lock(folder, name) if repair else None
    conn = schema.connect(folder / schema.DB_NAME)
    report = VerifyReport()
    try:
        gen_at_start = schema.generation(conn)
        _check_sqlite(conn, report)
        if report.unrepaired and report.unrepaired[0].startswith("SQLite"):
            return report
        _check_chunks(conn, report, repair)
        _check_documents(conn, report, repair)
        _check_index(conn, folder, report, repair, gen_at_start)
        if repair:
            _cleanup(conn, folder, data_dir, name, report)
    finally:
        conn.close()
        if lock is not None:
            os.close(lock)
    return report


def _check_sqlite(conn, report: VerifyReport) -> None:
    (result,) = conn.execute("PRAGMA quick_check").fetchone()
    if result != "ok":
        report.found(f"SQLite integrity check failed: {result}", False)
    meta = schema.read_meta(conn)
    for key in ("embed_model", "dim", "tokenizer", "index_kind", "generation", "chunking"):
        if key not in meta:
            report.found(f"SQLite settings lack {key!r}", False)


def _write(conn, statements: list[tuple[str, tuple]]) -> None:
    """Run repair statements in one transaction that also bumps the generation."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, args in statements:
            conn.execute(sql, args)
        schema.bump_generation(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _check_chunks(conn, report: VerifyReport, repair: bool) -> None:
    (orphans,) = conn.execute(
        "SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)"
    ).fetchone()
    if orphans:
        if repair:
            _write(conn, [("DELETE FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)", ())])
        report.found(f"{orphans} chunks belong to no document", repair)
    dim = int(schema.read_meta(conn)["dim"])
    bad: dict[str, str] = {}
    rows = conn.execute(
        "SELECT c.doc_id, c.start_char, c.end_char, length(d.text), length(c.vector), c.vector "
        "FROM chunks c JOIN documents d USING (doc_id)"
    )
    for doc_id, s, e, n_chars, n_bytes, blob in rows:
        if doc_id in bad:
            continue
        if not 0 <= s < e <= n_chars:
            bad[doc_id] = f"chunk span [{s}, {e}) outside its text of {n_chars} characters"
        elif n_bytes != 4 * dim:
            bad[doc_id] = f"vector of {n_bytes} bytes, expected {4 * dim}"
        else:
            norm = float(np.linalg.norm(np.frombuffer(blob, dtype=np.float32)))
            if not abs(norm - 1.0) < 1e-3:
                bad[doc_id] = f"vector norm {norm:.3f}, expected 1"
    for doc_id, reason in sorted(bad.items()):
        _mark_for_reingest(conn, report, doc_id, reason, repair)


def _check_documents(conn, report: VerifyReport, repair: bool) -> None:
    rows = conn.execute(
        "SELECT d.doc_id, d.title, d.text, d.metadata, d.content_hash, "
        "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id) FROM documents d"
    )
    to_mark = []  # collected first: no writes while the cursor streams the documents
    for doc_id, title, text, metadata, stored_hash, n_chunks in rows:
        if stored_hash == "" and doc_id in report.marked:
            continue
        if stored_hash == "":
            report.found(f"document {doc_id!r} is marked for re-ingest; run add on its sources", False)
        elif content_hash(title, text, json.loads(metadata)) != stored_hash:
            to_mark.append((doc_id, "content hash does not match its text"))
        elif n_chunks == 0 and text.strip():
            to_mark.append((doc_id, "has text but no chunks"))
    for doc_id, reason in to_mark:
        _mark_for_reingest(conn, report, doc_id, reason, repair)


def _mark_for_reingest(conn, report: VerifyReport, doc_id: str, reason: str, repair: bool) -> None:
    """Drop the document's (untrustworthy) chunks and clear its hashes so the next add redoes it."""
    if repair:
        _write(conn, [("DELETE FROM chunks WHERE doc_id=?", (doc_id,)),
                      ("UPDATE documents SET content_hash='', text_hash='' WHERE doc_id=?", (doc_id,))])
        reason += "; its chunks were dropped and it is marked for re-ingest: run add on its sources"
        report.marked.add(doc_id)
    report.found(f"document {doc_id!r}: {reason}", False)


def _check_index(conn, folder: Path, report: VerifyReport, repair: bool, gen_at_start: int) -> None:
    meta = schema.read_meta(conn)
    kind, dim = meta["index_kind"], int(meta["dim"])
    index, file_gen = vectors.load_latest(folder)
    if index is not None and index.d != dim:
        report.found(f"index has dimension {index.d}, store has {dim}", repair)
        index = None
    elif index is None:
        report.found("no readable index file", repair)
    result = sync(conn, index, kind, dim)
    if index is not None:
        if result.removed:
            report.found(f"{result.removed} orphan vectors in the index (no chunk holds their id)", repair)
        if result.added:
            report.found(f"{result.added} chunks have no vector in the index", repair)
        if file_gen != gen_at_start and not (result.removed or result.added):
            report.found(f"index file at generation {file_gen}, store at {gen_at_start}", repair)
    index = result.index
    save = file_gen != result.generation or result.removed or result.added or result.rebuilt
    if not result.rebuilt and _vectors_differ(conn, index, dim):
        report.found("index vectors differ from the stored ones", repair)
        index, save = sync(conn, None, kind, dim).index, True
    if repair and save:
        vectors.save(folder, index, result.generation)


def _vectors_differ(conn, index, dim: int) -> bool:
    """Compare a sample of stored vectors with the index's copies (exact kinds keep them verbatim)."""
    if index.ntotal == 0 or not isinstance(index, faiss.IndexIDMap2):
        return False
    if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat):
        return False
    ids = vectors.index_ids(index)
    rng = np.random.default_rng(0)
    sample = rng.choice(ids, size=min(_SAMPLE, len(ids)), replace=False)
    for page_ids, page_vecs in iter_vectors(conn, dim, np.sort(sample)):
        got = np.stack([index.reconstruct(int(i)) for i in page_ids])
        if not np.allclose(got, page_vecs, atol=1e-6):
            return True
    return False


def _cleanup(conn, folder: Path, data_dir: Path, name: str, report: VerifyReport) -> None:
    temps = vectors.remove_stale_temps(folder)
    if temps:
        report.found(f"removed {len(temps)} temporary index files left by a killed writer", True)
    cur = conn.execute("UPDATE runs SET status='interrupted' WHERE status='running'")
    if cur.rowcount:
        report.found(f"{cur.rowcount} ingestion runs were killed before finishing", True)
    for leftover in list(data_dir.glob(f".creating-{name}-*")) + list(data_dir.glob(f".deleting-{name}-*")):
        shutil.rmtree(leftover, ignore_errors=True)
        report.found(f"removed leftover folder {leftover.name}", True)
