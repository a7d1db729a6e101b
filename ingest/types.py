"""Core ingestion types shared by readers, the store and (read-only) the retriever."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ParsedDocument:
    """What a reader returns: one whole document, before it belongs to a collection.

    ``doc_id`` is stable across runs: derived from the source path, or from the patient id for
    medical records, so re-ingesting the same input maps onto the same row.
    """

    doc_id: str
    title: str
    text: str
    source: str  # path (or path#member) the text came from
    kind: str  # "text", "pdf", "docx", "html", "csv", "fhir", "ccda", "code", "note", ...
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A whole document in a collection: the unit that goes into a prompt."""

    doc_id: str
    collection: str
    title: str
    text: str
    metadata: dict  # source, kind, patient_id, first_date, last_date, ... (JSON-serializable)
    content_hash: str  # sha256 of text + title + metadata; unchanged hash => nothing re-embedded
    n_tokens: int  # counted with the collection's tokenizer (see CollectionInfo.tokenizer)


@dataclass(frozen=True)
class Chunk:
    """A search unit: character span [start, end) of its document's text. Never a prompt unit."""

    chunk_id: int  # also the FAISS id of its vector
    doc_id: str
    start: int
    end: int
    text: str = ""
