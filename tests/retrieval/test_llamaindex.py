from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode

from ingest.store import CollectionStore
from retrieval.filters import Filters
from retrieval.llamaindex import WholeDocumentRetriever
from retrieval.retriever import Retriever


def test_llamaindex_retriever_returns_whole_documents_with_scores(clinic, embedder):
    store = CollectionStore.open(*clinic)
    adapter = WholeDocumentRetriever(Retriever(store, embedder, "hybrid"), k=3)
    nodes = adapter.retrieve("When was warfarin started for Ben Okafor?")
    assert len(nodes) == 3
    top = nodes[0]
    assert top.node.node_id == "P0002"
    assert top.node.get_content() == store.get_document("P0002").text  # whole, not a chunk
    assert top.score == max(n.score for n in nodes)
    assert top.node.metadata["patient_id"] == "P0002" and top.node.metadata["hit_spans"]
    assert "hit_spans" not in top.node.get_content(metadata_mode=MetadataMode.LLM)
    filtered = WholeDocumentRetriever(Retriever(store, embedder, "hybrid"), filters=Filters(kind="monograph"))
    assert {n.node.node_id for n in filtered.retrieve("warfarin")} <= {"ref-warfarin", "ref-metformin"}
    store.close()


def test_llamaindex_query_engine_reads_the_retrieved_documents(clinic, embedder):
    store = CollectionStore.open(*clinic)
    adapter = WholeDocumentRetriever(Retriever(store, embedder, "hybrid"), k=2, doc_ids=["P0001"])
    engine = RetrieverQueryEngine.from_args(adapter, llm=MockLLM(max_tokens=8))
    response = engine.query("What was the HbA1c?")
    assert [n.node.node_id for n in response.source_nodes][0] == "P0001"
    assert response.source_nodes[0].node.metadata["selected"] is True
    assert str(response)  # the mock LLM answered from a prompt built over the whole documents
    store.close()
