"""Plain records the store hands out and takes in, and the hashes that decide what changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..chunking import ChunkConfig
from ..types import Document


@dataclass(frozen=True)
class CollectionSettings:
    """Fixed when a collection is created; the vectors and token counts are only valid under them."""

    embed_model: str
    dim: int
    tokenizer: str
    tokens_approximate: bool = False
    index_kind: str = "flat"
    chunking: ChunkConfig = field(default_factory=ChunkConfig)


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    embed_model: str
    dim: int
    tokenizer: str
    n_documents: int
    n_chunks: int
    index_kind: str
    generation: int  # bumped by every committed write: readers key derived caches (BM25) on it
    tokens_approximate: bool = False  # n_tokens estimated (no tokenizer was available at ingest)
    chunking: ChunkConfig = field(default_factory=ChunkConfig)


@dataclass(frozen=True)
class DocumentSummary:
    doc_id: str
    title: str
    metadata: dict
    n_tokens: int
    content_hash: str


@dataclass(frozen=True)
class DocumentWrite:
    """One document to insert or replace. ``spans`` None keeps its chunks (only title/metadata moved)."""

    document: Document
    text_hash: str
    sources: list[str]
    spans: list[tuple[int, int]] | None = None
    vectors: np.ndarray | None = None  # (len(spans), dim) float32, L2-normalized


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(title: str, text: str, metadata: dict) -> str:
    """sha256 over title, text and metadata (canonical JSON): equal hash => nothing to write."""
    h = hashlib.sha256()
    for part in (title, json.dumps(metadata, sort_keys=True, default=str), text):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))  # length-prefixed: no ambiguity between fields
        h.update(data)
    return h.hexdigest()
