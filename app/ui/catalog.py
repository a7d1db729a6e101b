"""What the pages show about collections and documents, read through the store's API.

Each call opens the store read-only and closes it again: SQLite in WAL mode makes that cheap, and a
page never holds a handle that an ingest run in another session would make stale. Removing documents
takes the store's write lock for the moment of the write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.store import CollectionStore, DocumentSummary
from ingest.types import Document


@dataclass(frozen=True)
class CollectionRow:
    """One line of the Documents page's collection table."""

    name: str
    documents: int
    chunks: int
    tokens: int
    disk_bytes: int
    embed_model: str
    tokenizer: str


def folder_bytes(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            continue  # a file replaced mid-walk (an index being saved)
    return total


def collections(data_dir: Path) -> list[str]:
    return CollectionStore.list_collections(data_dir)


def overview(data_dir: Path) -> list[CollectionRow]:
    """Counts and sizes of every collection under ``data_dir``."""
    rows = []
    for name in CollectionStore.list_collections(data_dir):
        with CollectionStore.open(data_dir, name) as store:
            info = store.info
            tokens = sum(d.n_tokens for d in store.list_documents())
            rows.append(CollectionRow(name, info.n_documents, info.n_chunks, tokens,
                                      folder_bytes(store.folder), info.embed_model, info.tokenizer))
    return rows


def documents(data_dir: Path, name: str) -> list[DocumentSummary]:
    with CollectionStore.open(data_dir, name) as store:
        return store.list_documents()


def document(data_dir: Path, name: str, doc_id: str) -> Document:
    """Raises ``DocumentNotFound`` / ``CollectionNotFound`` (the page says so in words)."""
    with CollectionStore.open(data_dir, name) as store:
        return store.get_document(doc_id)


def remove(data_dir: Path, name: str, doc_ids: Sequence[str]) -> int:
    """Remove documents (their chunks and vectors too); ``StoreError`` while another writer holds the lock."""
    with CollectionStore.open(data_dir, name, writable=True) as store:
        known = {d.doc_id for d in store.list_documents()}
        doomed = [d for d in doc_ids if d in known]
        if doomed:
            store.write([], remove=doomed)
        return len(doomed)


def search(summaries: Iterable[DocumentSummary], query: str) -> list[DocumentSummary]:
    """Documents whose id, title or any metadata value contains every word of ``query`` (any case)."""
    words = query.lower().split()
    if not words:
        return list(summaries)
    out = []
    for d in summaries:
        haystack = " ".join([d.doc_id, d.title, *(f"{k} {v}" for k, v in d.metadata.items())]).lower()
        if all(w in haystack for w in words):
            out.append(d)
    return out


def facet(summaries: Iterable[DocumentSummary], key: str) -> list[str]:
    """Distinct values of one metadata key (patient ids, kinds), sorted; for the filter pickers."""
    return sorted({str(d.metadata[key]) for d in summaries if d.metadata.get(key) not in (None, "")})
