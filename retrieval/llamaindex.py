"""The retriever as a LlamaIndex retriever: whole documents as nodes with scores.

LlamaIndex users can drop ``WholeDocumentRetriever`` into a query engine
(``RetrieverQueryEngine.from_args(WholeDocumentRetriever(retriever), llm=...)``) and get whole
records, not 500-token chunks, as the context their synthesizer reads. Each node's id is the document
id, its text the full document text, and its metadata the document's metadata plus the title, the
collection and the character spans of the chunks that matched (for highlighting).
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.filters import Filters
from retrieval.retriever import Retriever
from retrieval.types import ScoredDocument

# Kept out of what the LLM and embedders read: bookkeeping, not content.
_HIDDEN_KEYS = ["hit_spans", "selected", "n_tokens", "content_hash", "collection", "source"]


def document_node(sd: ScoredDocument) -> TextNode:
    """A whole document as a TextNode whose id is the document id."""
    doc = sd.document
    metadata = {
        **doc.metadata,
        "doc_id": doc.doc_id,
        "title": doc.title,
        "collection": doc.collection,
        "n_tokens": doc.n_tokens,
        "selected": sd.selected,
        "hit_spans": [[h.start, h.end] for h in sd.hits],
    }
    return TextNode(id_=doc.doc_id, text=doc.text, metadata=metadata,
                    excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
                    excluded_embed_metadata_keys=list(_HIDDEN_KEYS))


class WholeDocumentRetriever(BaseRetriever):
    """A LlamaIndex ``BaseRetriever`` over a docqa ``Retriever``: top ``k`` whole documents per query."""

    def __init__(self, retriever: Retriever, k: int = 5, filters: Filters | None = None,
                 doc_ids: Sequence[str] | None = None, **kwargs):
        self.retriever = retriever
        self.k = k
        self.filters = filters
        self.doc_ids = list(doc_ids or [])
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        ranked = self.retriever.search(query_bundle.query_str, k=self.k, filters=self.filters,
                                       doc_ids=self.doc_ids)
        return [NodeWithScore(node=document_node(sd), score=sd.score) for sd in ranked]
