"""Which documents a per-document run reads: named ids, metadata filters, or the whole collection."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.store import CollectionStore, DocumentSummary
from retrieval.filters import Filters


class SelectionError(ValueError):
    """The selection names unknown documents or matches none. ``kind`` is "not_found" or "bad_input"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def select_documents(store: CollectionStore, doc_ids: Sequence[str] = (),
                     filters: Filters | None = None) -> list[DocumentSummary]:
    """Named documents in the order given (unknown ids are an error), narrowed by ``filters``; with
    neither, every document in id order."""
    summaries = {s.doc_id: s for s in store.list_documents()}
    if doc_ids:
        missing = [d for d in doc_ids if d not in summaries]
        if missing:
            raise SelectionError("not_found", f"unknown document id(s) in collection {store.name!r}: "
                                 f"{', '.join(missing)}")
        chosen = [summaries[d] for d in dict.fromkeys(doc_ids)]
    else:
        chosen = [summaries[d] for d in sorted(summaries)]
    if filters is not None and filters.active:
        chosen = [s for s in chosen if filters.matches(s.doc_id, s.metadata)]
    if not chosen:
        what = f"filters ({filters.describe()})" if filters is not None and filters.active else "selection"
        raise SelectionError("bad_input", f"no document of collection {store.name!r} matches the {what}")
    return chosen
