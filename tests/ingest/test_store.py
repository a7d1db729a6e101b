"""The collection store: read API, replacement, id map, index catch-up after a crash, verify, kinds."""

import shutil

import faiss
import numpy as np
import pytest

from ingest.errors import CollectionNotFound, DocumentNotFound, EmbeddingMismatch, StoreError
from ingest.store import (
    CollectionSettings,
    CollectionStore,
    DocumentWrite,
    content_hash,
    text_hash,
    verify,
)
from ingest.store.vectors import index_files
from ingest.types import Document

DIM = 16


def _vecs(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _doc(doc_id: str, text: str, title: str = "T", seed: int = 0, n_chunks: int = 3):
    meta = {"source": f"{doc_id}.md", "kind": "note"}
    doc = Document(doc_id, "c", title, text, meta, content_hash(title, text, meta), len(text) // 4)
    step = max(1, len(text) // n_chunks)
    spans = [(i * step, min(len(text), (i + 1) * step)) for i in range(n_chunks)]
    return DocumentWrite(doc, text_hash(text), [f"/src/{doc_id}.md"], spans, _vecs(n_chunks, seed))


def _create(tmp_path, name="c", kind="flat") -> CollectionStore:
    settings = CollectionSettings(embed_model="test-model", dim=DIM, tokenizer="approx:chars/4",
                                  tokens_approximate=True, index_kind=kind)
    return CollectionStore.create(tmp_path, name, settings)


def test_read_api_returns_what_was_written(tmp_path):
    store = _create(tmp_path)
    a, b = _doc("A", "alpha " * 30, seed=1), _doc("B", "beta " * 40, seed=2, n_chunks=2)
    gen = store.write([a, b])
    store.close()

    store = CollectionStore.open(tmp_path, "c")
    info = store.info
    assert (info.n_documents, info.n_chunks, info.dim, info.generation) == (2, 5, DIM, gen)
    assert info.embed_model == "test-model" and info.tokens_approximate and info.index_kind == "flat"
    assert CollectionStore.list_collections(tmp_path) == ["c"]
    got = store.get_document("A")
    assert got == a.document  # same fields, text included
    assert [d.doc_id for d in store.list_documents()] == ["A", "B"]
    chunks = list(store.iter_chunks())
    assert [c.chunk_id for c in chunks] == sorted(c.chunk_id for c in chunks)
    for c in chunks:
        assert c.text == store.get_document(c.doc_id).text[c.start : c.end]
    picked = store.get_chunks([chunks[3].chunk_id, 999_999, chunks[0].chunk_id])
    assert [c.chunk_id for c in picked] == [chunks[3].chunk_id, chunks[0].chunk_id]
    hits = store.search(np.vstack([a.vectors[1], b.vectors[0]]), k=2)
    assert hits[0][0][0] == chunks[1].chunk_id and hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[1][0][0] == chunks[3].chunk_id
    store.close()


def test_errors_are_specific(tmp_path):
    with pytest.raises(CollectionNotFound):
        CollectionStore.open(tmp_path, "nope")
    with pytest.raises(StoreError):
        CollectionStore.open(tmp_path, "../escape")
    store = _create(tmp_path)
    with pytest.raises(DocumentNotFound):
        store.get_document("missing")
    with pytest.raises(EmbeddingMismatch):
        store.search(np.ones((1, DIM + 1), np.float32), k=3)
    with pytest.raises(StoreError, match="another process"):
        CollectionStore.open(tmp_path, "c", writable=True)  # the writer lock is held
    reader = CollectionStore.open(tmp_path, "c")  # readers never wait
    with pytest.raises(StoreError, match="read-only"):
        reader.write([_doc("A", "x" * 50)])
    reader.close()
    store.close()


def test_replacing_a_document_drops_its_old_chunks_and_vectors_for_good(tmp_path):
    store = _create(tmp_path)
    old = _doc("A", "first version " * 20, seed=1)
    store.write([old, _doc("B", "other " * 20, seed=2)])
    old_ids = [c.chunk_id for c in store.iter_chunks() if c.doc_id == "A"]
    new = _doc("A", "second version " * 20, seed=3, n_chunks=2)
    store.write([new])
    new_ids = [c.chunk_id for c in store.iter_chunks() if c.doc_id == "A"]
    assert len(new_ids) == 2 and not set(new_ids) & set(old_ids)
    assert min(new_ids) > max(old_ids)  # ids are never reused, so a stale vector cannot alias
    found = {cid for row in store.search(old.vectors, k=8) for cid, _ in row}
    assert not found & set(old_ids)
    assert store.info.n_chunks == 5
    # title-only change: the document row moves, its chunks and vectors stay
    retitled = DocumentWrite(
        Document("A", "c", "New title", new.document.text, new.document.metadata,
                 content_hash("New title", new.document.text, new.document.metadata), 1),
        new.text_hash, new.sources,
    )
    store.write([retitled])
    assert [c.chunk_id for c in store.iter_chunks() if c.doc_id == "A"] == new_ids
    assert store.get_document("A").title == "New title"
    store.write([], remove=["A"])
    assert [d.doc_id for d in store.list_documents()] == ["B"] and store.info.n_chunks == 3
    store.close()


def test_a_reader_sees_later_commits_without_reopening(tmp_path):
    writer = _create(tmp_path)
    writer.write([_doc("A", "a" * 90, seed=1)])
    reader = CollectionStore.open(tmp_path, "c")
    assert len(reader.search(_vecs(1, 9), k=10)[0]) == 3
    b = _doc("B", "b" * 90, seed=2)
    writer.write([b])
    assert reader.info.n_documents == 2
    top = reader.search(b.vectors[:1], k=1)[0][0]
    assert reader.get_chunks([top[0]])[0].doc_id == "B"
    reader.close()
    writer.close()


def test_index_behind_sqlite_after_a_crash_catches_up_on_open(tmp_path):
    store = _create(tmp_path)
    store.write([_doc("A", "a" * 90, seed=1)])
    folder = store.folder
    (gen1, file1), = index_files(folder)
    saved = tmp_path / "index-at-gen1"
    shutil.copy(file1, saved)
    b = _doc("B", "b" * 90, seed=2)
    store.write([b])
    store.write([], remove=["A"])
    store.close()
    # Simulate a kill after the SQLite commits but before any index save: only the old file exists.
    for _, path in index_files(folder):
        path.unlink()
    shutil.copy(saved, folder / file1.name)

    reader = CollectionStore.open(tmp_path, "c")
    hits = reader.search(b.vectors, k=10)
    ids = {cid for row in hits for cid, _ in row}
    assert {c.doc_id for c in reader.get_chunks(sorted(ids))} == {"B"}
    assert len(ids) == 3
    reader.close()
    writer = CollectionStore.open(tmp_path, "c", writable=True)  # the writer saves the caught-up index
    gen = writer.info.generation
    writer.close()
    assert [g for g, _ in index_files(folder)] == [gen] and gen > gen1
    assert verify(tmp_path, "c").clean


def test_verify_repairs_orphan_and_missing_vectors(tmp_path):
    store = _create(tmp_path)
    store.write([_doc("A", "a" * 90, seed=1), _doc("B", "b" * 90, seed=2)])
    store.close()
    (gen, path), = index_files(tmp_path / "c")
    index = faiss.read_index(str(path))
    index.add_with_ids(_vecs(2, 5), np.array([777, 778], dtype=np.int64))  # orphans
    index.remove_ids(np.array([1], dtype=np.int64))  # a chunk loses its vector
    faiss.write_index(index, str(path))
    (tmp_path / "c" / ".index.tmp.123").write_bytes(b"half-written")

    report = verify(tmp_path, "c", repair=False)
    assert any("2 orphan vectors" in p for p in report.problems)
    assert any("1 chunks have no vector" in p for p in report.problems)
    assert verify(tmp_path, "c", repair=False).problems == report.problems  # check-only changed nothing

    report = verify(tmp_path, "c")
    assert report.problems and not report.unrepaired
    assert verify(tmp_path, "c").clean
    assert not list((tmp_path / "c").glob(".index.tmp.*"))
    with CollectionStore.open(tmp_path, "c") as store:
        ids = {cid for row in store.search(_vecs(4, 7), k=20) for cid, _ in row}
        assert ids == {c.chunk_id for c in store.iter_chunks()}


def test_verify_marks_documents_it_cannot_repair_for_reingest(tmp_path):
    store = _create(tmp_path)
    store.write([_doc("A", "a" * 90, seed=1), _doc("B", "b" * 90, seed=2)])
    store.conn.execute("UPDATE chunks SET vector = zeroblob(8) WHERE chunk_id = 2")
    store.conn.execute("UPDATE documents SET text = 'tampered' || text WHERE doc_id = 'B'")
    store.close()
    report = verify(tmp_path, "c")
    assert len(report.unrepaired) == 2
    assert any("'A'" in p and "vector of 8 bytes" in p for p in report.unrepaired)
    assert any("'B'" in p and "hash" in p for p in report.unrepaired)
    with CollectionStore.open(tmp_path, "c", writable=True) as store:
        assert store.known_hashes(["A", "B"]) == {"A": ("", ""), "B": ("", "")}  # next add redoes both


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_kinds_find_exact_matches_and_survive_removal(tmp_path, kind):
    store = _create(tmp_path, kind=kind)
    n_docs = 45 if kind == "ivf" else 10  # ivf trains once a collection holds 4096+ vectors
    docs = [_doc(f"D{i}", "x" * 1000, seed=i, n_chunks=100) for i in range(n_docs)]
    for lo in range(0, n_docs, 15):
        store.write(docs[lo : lo + 15])
    store.write([], remove=["D0"])
    store.checkpoint(force=True)
    if kind == "ivf":
        assert isinstance(faiss.downcast_index(store._index), faiss.IndexIVFFlat)
    chunks = [c for c in store.iter_chunks() if c.doc_id == "D3"]
    hits = store.search(docs[3].vectors, k=1)
    assert [h[0][0] for h in hits] == [c.chunk_id for c in chunks]
    assert store.info.n_chunks == (n_docs - 1) * 100
    store.close()
    assert verify(tmp_path, "c").clean


def test_changing_the_index_kind_rebuilds_it(tmp_path):
    store = _create(tmp_path)
    store.write([_doc("A", "a" * 90, seed=1)])
    store.set_index_kind("hnsw")
    store.close()
    with CollectionStore.open(tmp_path, "c") as store:
        assert store.info.index_kind == "hnsw"
        assert len(store.search(_vecs(1, 3), k=5)[0]) == 3


def test_delete_collection_and_name_rules(tmp_path):
    _create(tmp_path, "keep").close()
    _create(tmp_path, "gone").close()
    CollectionStore.delete_collection(tmp_path, "gone")
    assert CollectionStore.list_collections(tmp_path) == ["keep"]
    with pytest.raises(CollectionNotFound):
        CollectionStore.delete_collection(tmp_path, "gone")
    with pytest.raises(StoreError, match="invalid collection name"):
        _create(tmp_path, "bad name")


def test_chunk_counts_and_an_even_vector_sample(tmp_path):
    store = _create(tmp_path)
    a, b = _doc("A", "alpha " * 30, seed=1, n_chunks=6), _doc("B", "beta " * 40, seed=2, n_chunks=2)
    store.write([a, b])
    assert store.chunk_counts() == {"A": 6, "B": 2}
    every = store.sample_vectors(100)
    assert every.shape == (8, DIM) and np.allclose(np.linalg.norm(every, axis=1), 1.0, atol=1e-5)
    some = store.sample_vectors(5)  # every 2nd chunk: it reaches the last document, not the first 5 chunks
    assert some.shape[0] == 4 and np.array_equal(some, store.sample_vectors(5))  # deterministic
    assert any(np.allclose(v, w, atol=1e-6) for v in some for w in b.vectors)
    store.close()


def test_a_collection_made_before_chunk_context_reads_as_none(tmp_path):
    import json

    store = _create(tmp_path)
    assert store.info.chunking.context == "headings"
    old = {"max_tokens": 200, "overlap_tokens": 32, "overlap_sentences": 2}  # no "context" key yet
    store.conn.execute("UPDATE meta SET value=? WHERE key='chunking'", (json.dumps(old),))
    store.conn.commit()
    store.close()
    assert CollectionStore.open(tmp_path, "c").info.chunking.context == "none"
