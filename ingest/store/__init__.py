"""The collection store: one folder per collection, SQLite (the truth) plus a FAISS index (a cache).

Read API (used by ``retrieval``): ``CollectionStore.open``, ``list_collections``, ``info``,
``get_document``, ``list_documents``, ``iter_chunks``, ``get_chunks``, ``search``, ``close``.
The write API (``create``, ``write``, runs, ``verify``) is for the ingestion pipeline and the CLI.
"""

from .collection import CollectionStore, validate_name
from .records import (
    CollectionInfo,
    CollectionSettings,
    DocumentSummary,
    DocumentWrite,
    content_hash,
    text_hash,
)
from .vectors import INDEX_KINDS
from .verify import VerifyReport, verify

__all__ = [
    "INDEX_KINDS",
    "CollectionInfo",
    "CollectionSettings",
    "CollectionStore",
    "DocumentSummary",
    "DocumentWrite",
    "VerifyReport",
    "content_hash",
    "text_hash",
    "validate_name",
    "verify",
]
