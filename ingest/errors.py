"""Errors raised by ingestion and the collection store.

Every message is one line a user can act on ("scanned PDF: no text layer on any of its 3 pages; OCR it
first"), because the pipeline records it as a per-file failure and the CLI prints it as is. Messages
carry paths, ids and counts, never document text.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class: anything that went wrong while ingesting or reading a collection."""


class ReaderError(IngestError):
    """A file could not be read into documents; the rest of the run goes on without it.

    ``str(err)`` is the one-line reason without the path (the pipeline records it next to the path it
    already has); ``err.path`` is the offending file, or None when the failure is not tied to one file.
    """

    def __init__(self, reason: str, path: object | None = None):
        self.reason = " ".join(str(reason).split())  # one line, always
        self.path = path
        super().__init__(self.reason)


class StoreError(IngestError):
    """The collection store is unusable or a write to it failed."""


class CollectionNotFound(StoreError):
    """No collection of that name exists under the data directory."""


class DocumentNotFound(StoreError):
    """No document with that id exists in the collection."""


class EmbeddingMismatch(StoreError):
    """The collection was built with a different embedding model or dimension than the one given."""
